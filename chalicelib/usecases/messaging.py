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
from ..domain.wechat import after_send, remaining_subscriptions
from ..notify.sender import DeliveryFailed, Message, send
from ..store.deferred_messages import add_deferred_message
from ..store.devices import device_endpoints
from ..store.members import as_dict, marketing_sent_update
from ..store.unit_of_work import UnitOfWork
from ..store.wechat import subscriptions_of, subscriptions_update, wechat_openid

if TYPE_CHECKING:
    from pynamodb.expressions.update import Action

    from ..store.models import Member


@dataclass(frozen=True)
class Planned:
    message: Message
    send_at: datetime  # program-local time it may go
    deferred: bool
    # The consent it goes under (the channel's, for a message that needs one; not WeChat's, whose
    # subscription this send used up): read again when a deferred copy goes.
    consent: str | None = None


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
    params: Mapping[str, str] | None = None,
) -> Decision:
    """Whether, how and when `member` gets this message; the member writes that go with it.

    `body` by channel (a campaign's texts) sends only on those channels, the member's consent
    deciding among them as for any message. `consent_required` alone decides whether a channel
    needs the member's consent; `marketing` puts the message under the frequency cap (an
    invitation: no consent needed, yet capped). `params`: the values an SMS template of the kind
    takes."""
    consents = {k: bool(v) for k, v in as_dict(member.consents).items()}
    # WeChat only where the member accepted this kind's template and has a send of it left.
    template = rules.wechat_templates.get(kind)
    openid = wechat_openid(member)
    subscriptions = subscriptions_of(member)
    consents["wechat"] = bool(template and openid and remaining_subscriptions(subscriptions, template.template_id))
    endpoints = device_endpoints(member)
    if not isinstance(body, str):
        consents = {consent: consents.get(consent, False) for channel, consent in CHANNEL_PREFERENCE if channel in body}
    channel = preferred_channel(consents, consent_required, bool(member.email), bool(endpoints))
    if channel is None:
        return Decision(None, "no_consent", [])
    actions: list[Action] = []
    if marketing:
        recent = recent_marketing(member.marketing_sent or [], now_local, rules)
        if len(recent) >= rules.frequency_cap_messages:
            return Decision(None, "frequency_cap", [])
        actions += marketing_sent_update([*recent, now_local.isoformat()])
    send_at = next_allowed_time(rules, now_local)
    text = body if isinstance(body, str) else body[channel]
    if channel == "wechat" and template is not None and openid:
        # One-time subscriptions: this send uses one up, whatever WeChat answers (docs/wechat.md).
        actions += subscriptions_update(member, after_send(subscriptions, template.template_id))
        return Decision(Planned(wechat_message(kind, openid, text, rules), send_at, deferred=send_at > now_local), None, actions)
    to = member.email if channel == "email" else " ".join(endpoints) if channel == "push" else member.phone
    message = Message(channel=channel, to=to or member.phone, kind=kind, body=text, subject=f"{rules.program_name}", params=dict(params or {}))
    consent = dict(CHANNEL_PREFERENCE)[channel] if consent_required else None
    return Decision(Planned(message, send_at, deferred=send_at > now_local, consent=consent), None, actions)


def wechat_message(kind: str, openid: str, text: str, rules: ProgramRules) -> Message:
    """The subscription message of `kind` (its template from the rules) to `openid`."""
    template = rules.wechat_templates[kind]
    return Message(
        channel="wechat",
        to=openid,
        kind=kind,
        body=text[: template.max_chars],
        subject=rules.program_name,
        template_id=template.template_id,
        template_field=template.field,
        page=template.page,
    )


def add_deferral(uow: UnitOfWork, member: Member, planned: Planned, ref: str) -> list[Action]:
    """Keep a message held back by quiet hours under the hour it may go; returns the member writes
    that note where it waits (put them in the member's update in the same unit of work)."""
    message = planned.message
    return add_deferred_message(
        uow,
        member,
        channel=message.channel,
        recipient=message.to,
        kind=message.kind,
        body=message.body,
        send_at=planned.send_at,
        ref=ref,
        params=dict(message.params),
        consent=planned.consent,
    )


def deliver_now(planned: Planned, member_id: str | None = None) -> bool:
    """Send now; a push's devices that SNS reported unusable are forgotten (`member_id`'s)."""
    gone: tuple[str, ...] = ()
    try:
        gone = send(planned.message).gone
    except DeliveryFailed as failed:
        gone = failed.gone
        if failed.refused and member_id is not None:
            from .wechat_bindings import forget_subscription

            forget_subscription(member_id, planned.message.template_id)  # withdrawn in WeChat
        return False
    finally:
        if gone and member_id is not None:
            from .devices import forget_endpoints

            forget_endpoints(member_id, gone)
    return True
