"""Messages the program sends on its own: consent, frequency cap, quiet hours.

A message is decided inside the member's transaction (its consent is read,
the frequency-cap log and any deferred copy are written with the member),
and goes out after the commit: at most once, never twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pynamodb.expressions.update import Action

from ..domain.messaging import next_allowed_time, preferred_channel, recent_marketing
from ..domain.rules import ProgramRules
from ..notify.sender import DeliveryFailed, Message, send
from ..store import keys
from ..store.members import as_dict, member_shard
from ..store.models import DeferredMessage, Member
from ..store.unit_of_work import Transaction

# A deferred message not sent within this long (the dispatcher was down) is dropped by TTL.
DEFERRED_KEPT_FOR = timedelta(days=2)


@dataclass(frozen=True)
class Planned:
    message: Message
    send_at: datetime  # program-local time it may go
    deferred: bool


@dataclass(frozen=True)
class Decision:
    planned: Planned | None
    skipped: str | None
    actions: list[Action]


def decide(
    member: Member,
    rules: ProgramRules,
    now_local: datetime,
    *,
    kind: str,
    body: str,
    consent_required: bool,
    marketing: bool,
) -> Decision:
    """Whether, how and when `member` gets this message; the member writes that go with it."""
    consents = {k: bool(v) for k, v in as_dict(member.consents).items()}
    channel = preferred_channel(consents, consent_required or marketing, bool(member.email))
    if channel is None:
        return Decision(None, "no_consent", [])
    actions: list[Action] = []
    if marketing:
        recent = recent_marketing(member.marketing_sent or [], now_local, rules)
        if len(recent) >= rules.frequency_cap_messages:
            return Decision(None, "frequency_cap", [])
        actions.append(Member.marketing_sent.set([*recent, now_local.isoformat()]))
    to = member.email if channel == "email" else member.phone
    send_at = next_allowed_time(rules, now_local)
    message = Message(channel=channel, to=to or member.phone, kind=kind, body=body, subject=f"{rules.program_name}")
    return Decision(Planned(message, send_at, deferred=send_at > now_local), None, actions)


# A deferred message is sent (and deleted) within a day; TTL removes one the dispatcher missed
# DEFERRED_KEPT_FOR after it could go, and may lag two days more: after that, none is left.
DEFERRED_MAX_LIFE = DEFERRED_KEPT_FOR + timedelta(days=3)


def add_deferral(tx: Transaction, member: Member, planned: Planned, ref: str) -> list[Action]:
    """Keep a message held back by quiet hours under the hour it may go; returns the member writes
    that note where it waits (put them in the member's update in the same transaction)."""
    hour = planned.send_at.astimezone(UTC).strftime("%Y-%m-%dT%H")
    bucket = keys.send_bucket(hour, member_shard(member.member_id))
    sk = keys.deferred_sk(member.member_id, planned.message.kind, ref)
    tx.put(
        "deferred",
        DeferredMessage(
            bucket,
            sk,
            member_id=member.member_id,
            channel=planned.message.channel,
            recipient=planned.message.to,
            kind=planned.message.kind,
            body=planned.message.body,
            send_after=planned.send_at,
            ttl=planned.send_at + DEFERRED_KEPT_FOR,
        ),
    )
    oldest = planned.send_at.astimezone(UTC) - DEFERRED_MAX_LIFE
    waiting = {k: v for k, v in as_dict(member.deferred).items() if keys.send_bucket_hour(str(v)) >= oldest}
    return [Member.deferred.set({**waiting, sk: bucket})]


def deliver_now(planned: Planned) -> bool:
    try:
        send(planned.message)
    except DeliveryFailed:
        return False
    return True
