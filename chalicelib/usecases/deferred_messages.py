"""The `send-deferred` job: send what quiet hours held back, once it may go.

Messages decided during quiet hours wait under the hour they may go (store/deferred_messages.py).
Every hour, for each shard, the job reads the buckets of the hours gone by and sends each message
whose time has come: taken (deleted) first, then sent, so it goes at most once even when two
deliveries of the job meet. A campaign's message is taken only while its campaign is running (a
condition check in the same transaction): once a cancel has answered, none of its held messages
goes; they are dropped. A message that needed the member's consent is sent only if the member
still gives it (read again, one GetItem): one withdrawn while the message waited is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ..domain.messaging import Channel, is_channel
from ..notify.sender import Message
from ..store.deferred_messages import campaign_of, take, take_for_campaign, waiting_in
from ..store.members import as_dict, get_member
from ..store.models import DeferredMessage
from ..store.parameters import load_rules
from .messaging import Planned, deliver_now, wechat_message

# The hours read back from now: a message not sent by then (the dispatcher was down that long)
# is left to TTL.
HOURS_LOOKED_BACK = 48


@dataclass
class Dispatch:
    """What one shard's dispatch did."""

    examined: int = 0
    sent: int = 0  # sent, or (dry run) would be
    delivered: int = 0  # taken and handed to the channel
    # not_yet, no_consent, already_sent, campaign_cancelled, unknown_channel, no_template, delivery_failed
    skipped: dict[str, int] = field(default_factory=dict)
    round_trips: int = 0

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def send_due_messages(shard: int, now_local: datetime, *, dry_run: bool) -> Dispatch:
    """Send the messages of one shard that may go by `now_local` (a dry run sends and deletes nothing)."""
    now = now_local.astimezone(UTC)
    hour = now.replace(minute=0, second=0, microsecond=0)
    dispatch = Dispatch()
    for back in range(HOURS_LOOKED_BACK):
        dispatch.round_trips += 1
        for message in waiting_in(hour - timedelta(hours=back), shard):
            dispatch.examined += 1
            if message.send_after > now:
                dispatch.skip("not_yet")
                continue
            if message.consent:
                dispatch.round_trips += 1
                if not _still_consented(message):
                    # Withdrawn since it was held back (or the membership is gone): dropped, unsent.
                    dispatch.skip("no_consent" if dry_run or take(message) else "already_sent")
                    continue
            if dry_run:
                dispatch.sent += 1
                continue
            campaign_id = campaign_of(message)
            taken = take_for_campaign(message, campaign_id) if campaign_id else "taken" if take(message) else "already_sent"
            if taken != "taken":
                dispatch.skip(taken)
                continue
            if not is_channel(message.channel):  # a stored string: written from a Message, so never in practice
                dispatch.skip("unknown_channel")
                continue
            outgoing = _message(message.channel, message.recipient, message.kind, message.body, as_dict(message.params))
            if outgoing is None:
                dispatch.skip("no_template")
                continue
            # As a message sent at once: a refused WeChat subscription is forgotten, a push's
            # unusable devices too.
            if not deliver_now(Planned(outgoing, message.send_after, deferred=False), message.member_id):
                dispatch.skip("delivery_failed")
                continue
            dispatch.sent += 1
            dispatch.delivered += 1
    return dispatch


def _still_consented(message: DeferredMessage) -> bool:
    """Whether the member still gives the consent the message was held back under (one read)."""
    member = get_member(message.member_id)
    return member is not None and bool(as_dict(member.consents).get(str(message.consent)))


def _message(channel: Channel, recipient: str, kind: str, body: str, params: dict[str, str] | None = None) -> Message | None:
    """The message as it was planned; a WeChat one with its template from the rules (None when the
    rules no longer have a template for its kind: WeChat would refuse it)."""
    if channel == "wechat":
        rules = load_rules()
        return wechat_message(kind, recipient, body, rules) if kind in rules.wechat_templates else None
    return Message(channel=channel, to=recipient, kind=kind, body=body, params={k: str(v) for k, v in (params or {}).items()})
