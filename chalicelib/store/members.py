"""Members: reading them, and the writes that change them (points, activity, index keys).

Every balance change goes through `points_update` + `ledger.add_entry` in one unit of
work, conditioned on the member's version: so the ledger entry's `balance_after` is exact
and `sum(ledger) == balance` always holds. What changes is the domain's to decide.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from ..domain import codes
from ..domain.calendar import month_day
from ..domain.lifecycle import Activity
from ..domain.points import PointsState
from ..settings import get_settings
from . import keys
from .models import Member, PhoneGuard, ReferralCode
from .unit_of_work import Cancelled, UnitOfWork


def get_member(member_id: str) -> Member | None:
    try:
        return Member.get(keys.member_pk(member_id), keys.PROFILE, consistent_read=True)
    except DoesNotExist:
        return None


@dataclass(frozen=True)
class Session:
    """What the member-token check reads of a member."""

    status: str
    token_epoch: int
    erased: bool


def session_of(member_id: str) -> Session | None:
    """Three attributes of the member, strongly consistent (None if there is no member)."""
    try:
        item = Member.get(keys.member_pk(member_id), keys.PROFILE, consistent_read=True, attributes_to_get=["status", "token_epoch", "erased"])
    except DoesNotExist:
        return None
    return Session(item.status, int(item.token_epoch or 0), bool(item.erased))


def member_id_for_phone(phone: str) -> str | None:
    """Strongly consistent: the phone guard is the source of truth."""
    try:
        return PhoneGuard.get(keys.phone_pk(phone), keys.GUARD, consistent_read=True).member_id
    except DoesNotExist:
        return None


def find_member_by_phone(phone: str, *, strongly: bool = False) -> Member | None:
    """One round trip through the `by_phone` index (eventually consistent);
    `strongly` goes through the guard instead (two round trips, never stale)."""
    if strongly:
        member_id = member_id_for_phone(phone)
        return get_member(member_id) if member_id else None
    for member in Member.by_phone.query(phone, limit=1):
        if member.phone == phone:
            return member
    return None


class MemberLookup:
    """How the attempts of one write find their member, by phone or by member id.

    The first attempt reads by id (strongly) or through the `by_phone` index (one round trip,
    eventually consistent). A cancelled attempt teaches the next one (`learn`):

    - the member's own update failed its version check and DynamoDB returned the member as it
      is now (`update_member(..., return_old=True)`): the next attempt uses that item and reads
      nothing (a contended retry costs one round trip, and never sees a lagging index again);
    - the phone's guard exists although the index found no member: the index lags behind a
      member just made, so the next attempt reads through the guard (strongly). Only that failure
      switches: a member without a guard (written straight to the table) is still found;
    - otherwise, a member found before is read again by its id, strongly (an index read could
      return the same stale version again and lose again), as long as it still holds the phone.
    """

    def __init__(self, *, phone: str | None = None, member_id: str | None = None) -> None:
        assert phone or member_id
        self._phone = phone
        self._member_id = member_id
        self._found: str | None = member_id  # the member id a read found
        self._current: Member | None = None  # the member a cancelled attempt returned
        self._through_guard = False

    def read(self) -> Member | None:
        """The member for this attempt (None: no member has the phone, or no such id)."""
        member, self._current = self._current, None
        if member is None and self._found is not None:
            member = get_member(self._found)
        if member is not None and self._phone is not None and member.phone != self._phone:
            member = None  # the phone moved to someone else meanwhile: look it up again
            self._through_guard = True
        if member is None and self._phone is not None:
            member = find_member_by_phone(self._phone, strongly=self._through_guard)
        if member is not None:
            self._found = member.member_id
        return member

    def learn(self, cancelled: Cancelled) -> None:
        """What a cancelled attempt (parts named as `update_member` and `add_enrolment` name them) tells the next."""
        self._through_guard = self._through_guard or "guard" in cancelled.failed
        raw = cancelled.failed.get("member")
        if raw and self._found is not None:
            current = Member.from_raw_data(raw)
            self._current = current if current.member_id == self._found else None


def update_member(uow: UnitOfWork, member: Member, actions: list[Action]) -> None:
    """Change a member read in this attempt (part `member`), if nobody changed it since (its
    version); a failed check returns the member as it is now, for `MemberLookup.learn`."""
    uow.update("member", member, actions, return_old=True)


def as_dict(value: Any) -> dict[str, Any]:
    """A raw MapAttribute (or None) as a plain dict."""
    if value is None:
        return {}
    return value.as_dict() if hasattr(value, "as_dict") else dict(value)


def points_state(member: Member) -> PointsState:
    return PointsState(
        balance=int(member.balance),
        lifetime_earned=int(member.lifetime_earned),
        lots={k: int(v) for k, v in as_dict(member.lots).items()},
        earned_months={k: int(v) for k, v in as_dict(member.earned_months).items()},
    )


def points_update(state: PointsState) -> list[Action]:
    return [
        Member.balance.set(state.balance),
        Member.lifetime_earned.set(state.lifetime_earned),
        Member.lots.set(state.lots),
        Member.earned_months.set(state.earned_months),
    ]


def earn_counters(member: Member) -> dict[str, dict[str, Any]]:
    """The member's per-member earn-rule counters (domain/earn_rules.counter_state)."""
    return {rule_id: as_dict(counter) for rule_id, counter in as_dict(member.earn_counters).items()}


def earn_counters_update(member: Member, counters: dict[str, dict[str, Any]]) -> list[Action]:
    """Replace the counters when they changed (the member's version guards them, like the balance)."""
    if counters == earn_counters(member):
        return []
    return [Member.earn_counters.set(counters)] if counters else [Member.earn_counters.remove()]


def stamp_counts(member: Member) -> dict[str, int]:
    """The stamps on the member's cards (domain/stamps.py)."""
    return {card_id: int(n) for card_id, n in as_dict(member.stamp_cards).items()}


def pending_stamps(member: Member) -> dict[str, dict[str, int]]:
    """The stamps held with pending points, by release day (domain/stamps.py)."""
    return {day: {card_id: int(n) for card_id, n in as_dict(cards).items()} for day, cards in as_dict(member.pending_stamps).items()}


def pending_stamps_update(member: Member, held: dict[str, dict[str, int]]) -> list[Action]:
    """Replace the pending stamps when they changed (under the member's version)."""
    if held == pending_stamps(member):
        return []
    return [Member.pending_stamps.set(held)] if held else [Member.pending_stamps.remove()]


def stamp_counts_update(member: Member, counts: dict[str, int]) -> list[Action]:
    """Replace the stamp counts when they changed (the member's version guards them, like the balance)."""
    if counts == stamp_counts(member):
        return []
    return [Member.stamp_cards.set(counts)] if counts else [Member.stamp_cards.remove()]


def apply_points(member: Member, state: PointsState) -> None:
    """Mirror a new points state on an unsaved Member (for a Put)."""
    member.balance = state.balance
    member.lifetime_earned = state.lifetime_earned
    member.lots = state.lots
    member.earned_months = state.earned_months


# --- what scheduled work records on the member, so that a rerun does nothing twice ------------


def birthday_awarded(year: int) -> list[Action]:
    return [Member.birthday_awarded_year.set(year)]


def tier_reviewed(on: date, tier: str | None = None) -> list[Action]:
    """The review is done for `on`; `tier` when it changed the member's tier."""
    return [Member.tier_reviewed_on.set(on.isoformat()), *([Member.tier.set(tier)] if tier is not None else [])]


def lifecycle_update(stage: str) -> list[Action]:
    return [Member.lifecycle.set(stage)]


def notices_update(notices: dict[str, str]) -> list[Action]:
    """The member's notices as the domain left them (domain/notices.py)."""
    return [Member.notices.set(notices)]


def marketing_sent_update(sent: list[str]) -> list[Action]:
    """The marketing sends inside the frequency-cap window, this one included (domain/messaging.py)."""
    return [Member.marketing_sent.set(sent)]


def new_referral_code() -> str:
    return "".join(secrets.choice(codes.REFERRAL_ALPHABET) for _ in range(8))


def member_shard(member_id: str) -> int:
    return keys.shard_of(member_id, get_settings().index_shards)


def birthday_bucket_for(member_id: str, birthday: str | None) -> str | None:
    return keys.birthday_bucket(birthday[5:10], member_shard(member_id)) if birthday else None


def activity_actions(member: Member, after: Activity) -> list[Action]:
    """The member writes for activity the domain recorded (domain/lifecycle.py): the last-activity
    index key moves at most once a day."""
    actions: list[Action] = []
    if member.last_activity_on != after.last_activity_on and after.last_activity_on:
        bucket = keys.activity_bucket(after.last_activity_on, member_shard(member.member_id))
        actions += [Member.last_activity_on.set(after.last_activity_on), Member.activity_bucket.set(bucket)]
    if after.has_purchased and not member.has_purchased:
        actions.append(Member.has_purchased.set(True))
    if after.stage != member.lifecycle:
        actions.append(Member.lifecycle.set(after.stage))
    return actions


def mark_activity(member: Member, after: Activity) -> None:
    """The same, on an unsaved Member (for a Put)."""
    member.last_activity_on = after.last_activity_on
    member.activity_bucket = keys.activity_bucket(after.last_activity_on, member_shard(member.member_id)) if after.last_activity_on else None
    member.has_purchased = after.has_purchased
    member.lifecycle = after.stage


def activity_of(member: Member) -> Activity:
    return Activity(member.last_activity_on, bool(member.has_purchased), member.lifecycle or "new")


def new_member_id() -> str:
    return f"mbr_{secrets.token_hex(8)}"


def new_member(phone: str, *, tier: str, joined: date, now: datetime, member_id: str | None = None) -> Member:
    """A pending member (not yet written): no points, no consents, a fresh referral code (and a
    fresh id, unless the caller derives one: a bulk import's row)."""
    member_id = member_id or new_member_id()
    return Member(
        keys.member_pk(member_id),
        keys.PROFILE,
        member_id=member_id,
        phone=phone,
        phone_key=phone,
        status="pending",
        tier=tier,
        balance=0,
        lifetime_earned=0,
        lots={},
        earned_months={},
        consents={"sms_marketing": False, "email_marketing": False, "push": False},
        referral_code=new_referral_code(),
        deferred={},
        created_at=now,
        lifecycle="new",
        anniversary_bucket=keys.anniversary_bucket(month_day(joined), member_shard(member_id)),
    )


def add_enrolment(uow: UnitOfWork, member: Member) -> None:
    """The writes that make a new member: the member, its phone guard, its referral code (each
    only if absent: parts `guard`, `refcode`, `member`)."""
    uow.put("guard", PhoneGuard(keys.phone_pk(member.phone), keys.GUARD, member_id=member.member_id), PhoneGuard.pk.does_not_exist())
    uow.put(
        "refcode",
        ReferralCode(keys.refcode_pk(member.referral_code), keys.REFCODE_SK, member_id=member.member_id),
        ReferralCode.pk.does_not_exist(),
    )
    uow.put("member", member, Member.pk.does_not_exist())


def tier_update(tier: str) -> list[Action]:
    return [Member.tier.set(tier)]


def points_holder(member: Member | None) -> Member | None:
    """Whose balance a member's earnings are on now: the member a pay-to-join holding joined
    (usecases/pay_to_join.py), or the member itself."""
    if member is not None and member.joined_member_id:
        return get_member(str(member.joined_member_id))
    return member


def field_updates(member: Member, values: dict[str, Any]) -> list[Action]:
    """Set these attributes of the member (None removes one): the writes, mirrored on `member`
    for what follows in the same unit of work."""
    actions: list[Action] = []
    for name, value in values.items():
        attribute = getattr(Member, name)
        actions.append(attribute.remove() if value is None else attribute.set(value))
        setattr(member, name, value)
    return actions


def referrer_for_code(code: str) -> str | None:
    """The member a referral code belongs to (None for an unknown code)."""
    try:
        return ReferralCode.get(keys.refcode_pk(code.strip().upper()), keys.REFCODE_SK).member_id
    except DoesNotExist:
        return None


# --- operators' changes (usecases/operations/member_status_and_tier.py) -----------------------


def status_update(status: str) -> list[Action]:
    """A new status the domain's transitions decided (domain/membership.py)."""
    return [Member.status.set(status)]


def tier_override_update(member: Member, override: str | None, tier: str) -> list[Action]:
    """Set the operator's tier floor (None removes it), and the tier held if it changes."""
    actions: list[Action] = [Member.tier_override.remove() if override is None else Member.tier_override.set(override)]
    if tier != member.tier:
        actions.append(Member.tier.set(tier))
    return actions


def operator_tags_update(tags: frozenset[str]) -> list[Action]:
    """The member's operator tags as a whole (a set attribute cannot be empty: none removes it)."""
    return [Member.operator_tags.set(set(tags)) if tags else Member.operator_tags.remove()]


def never_erased() -> Condition:
    """For a write that must not race the erasure: its final write has not happened."""
    condition: Condition = Member.erased.does_not_exist() | (Member.erased == False)  # noqa: E712 - a DynamoDB condition, not a comparison
    return condition
