"""Messages the program sends on its own: consent, frequency cap, quiet hours.

A message is decided inside the member's unit of work (its consent is read, the
frequency-cap log and any deferred copy are written with the member), and goes
out after the commit: at most once, never twice. One held back by quiet hours
waits in the table (store/deferred_messages.py) for the hourly `send-deferred`
job (usecases/deferred_messages.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ..domain.messaging import CHANNEL_PREFERENCE, next_allowed_time, preferred_channel, recent_marketing
from ..domain.rules import ProgramRules
from ..notify.sender import DeliveryFailed, Message, send
from ..store.deferred_messages import add_deferred_message
from ..store.devices import device_endpoints
from ..store.members import as_dict, marketing_sent_update
from ..store.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from pynamodb.expressions.update import Action

    from ..store.models import Member


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
    body: str | Mapping[str, str],
    consent_required: bool,
    marketing: bool,
) -> Decision:
    """Whether, how and when `member` gets this message; the member writes that go with it.

    `body` by channel (a campaign's texts) sends only on those channels, the member's consent
    deciding among them as for any message."""
    consents = {k: bool(v) for k, v in as_dict(member.consents).items()}
    endpoints = device_endpoints(member)
    if not isinstance(body, str):
        consents = {consent: consents.get(consent, False) for channel, consent in CHANNEL_PREFERENCE if channel in body}
    channel = preferred_channel(consents, consent_required or marketing, bool(member.email), bool(endpoints))
    if channel is None:
        return Decision(None, "no_consent", [])
    actions: list[Action] = []
    if marketing:
        recent = recent_marketing(member.marketing_sent or [], now_local, rules)
        if len(recent) >= rules.frequency_cap_messages:
            return Decision(None, "frequency_cap", [])
        actions += marketing_sent_update([*recent, now_local.isoformat()])
    to = member.email if channel == "email" else " ".join(endpoints) if channel == "push" else member.phone
    send_at = next_allowed_time(rules, now_local)
    text = body if isinstance(body, str) else body[channel]
    message = Message(channel=channel, to=to or member.phone, kind=kind, body=text, subject=f"{rules.program_name}")
    return Decision(Planned(message, send_at, deferred=send_at > now_local), None, actions)


def add_deferral(uow: UnitOfWork, member: Member, planned: Planned, ref: str) -> list[Action]:
    """Keep a message held back by quiet hours under the hour it may go; returns the member writes
    that note where it waits (put them in the member's update in the same unit of work)."""
    message = planned.message
    return add_deferred_message(
        uow, member, channel=message.channel, recipient=message.to, kind=message.kind, body=message.body, send_at=planned.send_at, ref=ref
    )


def deliver_now(planned: Planned, member_id: str | None = None) -> bool:
    """Send now; a push's devices that SNS reported unusable are forgotten (`member_id`'s)."""
    gone: tuple[str, ...] = ()
    try:
        gone = send(planned.message).gone
    except DeliveryFailed as failed:
        gone = failed.gone
        return False
    finally:
        if gone and member_id is not None:
            from .devices import forget_endpoints

            forget_endpoints(member_id, gone)
    return True
