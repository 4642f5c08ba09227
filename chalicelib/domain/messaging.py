"""Messages the program sends on its own: which channel, when (quiet hours), how often
(the marketing frequency cap). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, TypeIs, get_args

if TYPE_CHECKING:
    from .rules import ProgramRules

Channel = Literal["sms", "email", "push", "wechat"]
# WeChat first: a subscription message goes only where the member accepted that very template in
# the mini-program (the `wechat` consent is true only then: usecases/messaging.decide), the
# strongest consent a member gives, and it lands in the WeChat they open every day.
CHANNEL_PREFERENCE: tuple[tuple[Channel, str], ...] = (
    ("wechat", "wechat"),
    ("push", "push"),
    ("sms", "sms_marketing"),
    ("email", "email_marketing"),
)


def is_channel(value: str) -> TypeIs[Channel]:
    """A channel read back from the table (stored as a plain string) is one the program sends on."""
    return value in get_args(Channel)


def in_quiet_hours(rules: ProgramRules, local: datetime) -> bool:
    start, end, now = rules.quiet_hours_start, rules.quiet_hours_end, local.timetz().replace(tzinfo=None)
    if start == end:
        return False
    if start < end:
        return start <= now < end
    return now >= start or now < end


def next_allowed_time(rules: ProgramRules, local: datetime) -> datetime:
    """`local` itself when sending is allowed, else the end of the quiet hours."""
    if not in_quiet_hours(rules, local):
        return local
    end = datetime.combine(local.date(), rules.quiet_hours_end, local.tzinfo)
    return end if end > local else end + timedelta(days=1)


def recent_marketing(sent_at: Iterable[str], now: datetime, rules: ProgramRules) -> list[str]:
    """The marketing sends still inside the frequency-cap window (ISO timestamps)."""
    cutoff = now - timedelta(days=rules.frequency_cap_days)
    return sorted(s for s in sent_at if datetime.fromisoformat(s) > cutoff)


def preferred_channel(consents: Mapping[str, bool], consent_required: bool, has_email: bool, has_device: bool = False) -> Channel | None:
    """WeChat, push, SMS, then email: the first channel the member consented to (WeChat only
    with a subscription to the message's template, push only to a member with a registered device,
    email only to a member with an address).

    A message that needs no consent (a service notice such as a tier change)
    falls back to SMS, the channel the member verified.
    """
    for channel, consent in CHANNEL_PREFERENCE:
        if consents.get(consent) and (channel != "email" or has_email) and (channel != "push" or has_device):
            return channel
    return None if consent_required else "sms"


# Consents the program records with when and how each was given or withdrawn (`consent_records`
# on the member): the member's own choice at signup or in their profile, or an import of what the
# brand's old system recorded.
MARKETING_CONSENTS = ("sms_marketing", "email_marketing", "push")


def recorded_consents(
    records: Mapping[str, Mapping[str, object]], before: Mapping[str, bool], after: Mapping[str, bool], at: str, source: str
) -> dict[str, dict[str, object]]:
    """`records` with an entry {given, at, source} for each consent `after` sets to a value it
    did not have `before` (an unchanged consent keeps the record of when it was given)."""
    kept = {name: dict(record) for name, record in records.items()}
    for name, given in after.items():
        if name not in before or bool(before[name]) != bool(given) or name not in kept:
            kept[name] = {"given": bool(given), "at": at, "source": source}
    return kept
