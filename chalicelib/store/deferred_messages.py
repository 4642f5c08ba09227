"""Messages held back by quiet hours (DeferredMessage), under the hour they may go.

`SEND#<yyyy-mm-ddThh>#<shard>` / `<member_id>#<kind>#<ref>` (keys.py): the hourly `send-deferred`
job reads the buckets of the hours gone by, shard by shard (usecases/deferred_messages.py). The
member notes where each of its messages waits (`Member.deferred`: sort key -> bucket), written
with the message, so closing a membership finds them in one read (usecases/closure.py). A message
is taken (deleted, on condition it is still there) before it is sent: it goes at most once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import DeleteError
from pynamodb.expressions.update import Action

from . import keys
from .campaigns import check_running
from .members import as_dict, member_shard
from .models import DeferredMessage, Member
from .unit_of_work import Cancelled, UnitOfWork, error_code, run

# A deferred message not sent within this long after it could go (the dispatcher was down) is
# dropped by TTL.
KEPT_FOR = timedelta(days=2)
# A deferred message is sent (and deleted) within a day; TTL removes one the dispatcher missed
# KEPT_FOR after it could go, and may lag two days more: after that, none is left.
MAX_LIFE = KEPT_FOR + timedelta(days=3)
# A member from before the note is searched hour by hour: the hours in which one can still exist
# (held at most a day ahead, kept KEPT_FOR after, TTL lagging two days more).
_HOURS_BACK = int((KEPT_FOR + timedelta(days=2)) / timedelta(hours=1))
_HOURS_AHEAD = 24


def _hour(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H")


def add_deferred_message(
    uow: UnitOfWork,
    member: Member,
    *,
    channel: str,
    recipient: str,
    kind: str,
    body: str,
    send_at: datetime,
    ref: str,
    params: dict[str, str] | None = None,
    consent: str | None = None,
) -> list[Action]:
    """Put the message (part `deferred`) under the hour it may go; returns the member writes that
    note where it waits: put them in the member's update, in the same unit of work. Notes of
    messages that can no longer exist are dropped, so the map stays small."""
    bucket = keys.send_bucket(_hour(send_at), member_shard(member.member_id))
    sk = keys.deferred_sk(member.member_id, kind, ref)
    uow.put(
        "deferred",
        DeferredMessage(
            bucket,
            sk,
            member_id=member.member_id,
            channel=channel,
            recipient=recipient,
            kind=kind,
            body=body,
            send_after=send_at,
            ttl=send_at + KEPT_FOR,
            params=params or None,
            consent=consent,
        ),
    )
    oldest = send_at.astimezone(UTC) - MAX_LIFE
    waiting = {k: v for k, v in as_dict(member.deferred).items() if keys.send_bucket_hour(str(v)) >= oldest}
    return [Member.deferred.set({**waiting, sk: bucket})]


def waiting_in(hour: datetime, shard: int) -> Iterator[DeferredMessage]:
    """The messages that may go from `hour` on (its bucket, one shard), strongly consistent."""
    return DeferredMessage.query(keys.send_bucket(_hour(hour), shard), consistent_read=True)


def take(message: DeferredMessage) -> bool:
    """Delete the message if it is still there: True when this caller took it (and sends it),
    False when another delivery of the job did first."""
    try:
        message.delete(condition=DeferredMessage.pk.exists())
    except DeleteError:
        return False
    return True


CAMPAIGN_KIND = "campaign"


def campaign_of(message: DeferredMessage) -> str | None:
    """The campaign a held message belongs to (its ref), or None for any other kind."""
    kind, ref = keys.deferred_ref(str(message.sk))
    return ref if kind == CAMPAIGN_KIND else None


def take_for_campaign(message: DeferredMessage, campaign_id: str) -> str:
    """Take a campaign's held message only while the campaign is running, in one transaction with
    a condition check on the campaign: once a cancel has committed, none is taken (and sent).
    'taken', 'already_sent' (another delivery of the job took it) or 'campaign_cancelled' (the
    message is dropped then: it may never go)."""

    def explain(cancelled: Cancelled) -> str | None:
        if "message" in cancelled.failed:
            return "already_sent"
        return "campaign_cancelled" if "campaign" in cancelled.failed else None

    def attempt(uow: UnitOfWork) -> str:
        check_running(uow, campaign_id)
        uow.delete("message", message, DeferredMessage.pk.exists())
        return uow.commit(explain) or "taken"

    outcome = run(attempt)
    if outcome == "campaign_cancelled":
        take(message)
    return outcome


def _waiting_for(member: Member, now: datetime) -> list[DeferredMessage]:
    if member.deferred is not None:
        return [DeferredMessage(str(bucket), sk) for sk, bucket in as_dict(member.deferred).items()]
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    shard = member_shard(member.member_id)
    prefix = keys.deferred_prefix(member.member_id)
    return [
        message
        for offset in range(-_HOURS_BACK, _HOURS_AHEAD + 1)
        for message in DeferredMessage.query(keys.send_bucket(_hour(hour + timedelta(hours=offset)), shard), DeferredMessage.sk.startswith(prefix))
    ]


def delete_waiting_for(member: Member, now: datetime) -> None:
    """Delete every message still waiting for `member`: where the member noted them, or, for a
    member from before that note, found hour by hour around `now` (the real clock)."""
    for message in _waiting_for(member, now):
        try:
            message.delete(condition=DeferredMessage.pk.exists())
        except DeleteError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise  # else: sent (and deleted) by the dispatcher meanwhile
