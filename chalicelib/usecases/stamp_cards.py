"""Stamp cards (issue 14 item 5, domain/stamps.py): what a purchase adds and a refund removes,
written in the purchase's (or the refund's) own unit of work.

The counts live on the member item the purchase already updates (conditioned on its version),
so stamps cost no extra round trip and racing purchases of one member take turns; the order
(the purchase's idempotency record) keeps what it added, so a replay adds nothing and a refund
knows what to remove. A coupon reached is issued in the same unit of work (`add_coupon`, with its
code guard); only then is the reward read, once per card that completes (its validity, and
whether it is still in the catalogue).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from ..domain.coupons import gift_expires_at
from ..domain.earn_rules import Basket
from ..domain.rules import ProgramRules
from ..domain.stamps import (
    CardProgress,
    CardStamps,
    PendingStamps,
    add_stamps,
    after_removal,
    hold_stamps,
    order_stamps,
    remove_stamps,
    stamps_earned,
    stamps_to_remove,
    take_pending_stamps,
)
from ..store import members
from ..store.coupons import add_coupon, new_coupon
from ..store.rewards import get_reward
from ..store.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from pynamodb.expressions.update import Action

    from ..store.models import Coupon, Member, Order

COUPON_KIND = "stamp_card"


@dataclass(frozen=True)
class Stamped:
    """A purchase's stamps: the member's counts after it, each card's progress, what the order
    keeps, and the coupons it issues."""

    counts: dict[str, int]
    progress: list[CardProgress]
    kept: dict[str, dict[str, Any]]
    coupons: list[Coupon] = field(default_factory=list)
    # Held with the purchase's pending points: the member's pending stamps after it, and the day.
    pending: PendingStamps | None = None
    held: list[CardStamps] = field(default_factory=list)
    available_on: date | None = None

    def answer(self) -> dict[str, Any]:
        body: dict[str, Any] = {"stamps": [p.as_dict() for p in self.progress]}
        if self.available_on is not None:
            day = self.available_on.isoformat()
            body["stamps_pending"] = [{"card_id": s.card_id, "stamps": s.added, "available_on": day} for s in self.held if s.added]
        return body

    def member_actions(self, member: Member) -> list[Action]:
        held = members.pending_stamps_update(member, self.pending) if self.pending is not None else []
        return members.stamp_counts_update(member, self.counts) + held

    def apply_to_new_member(self, member: Member) -> None:
        member.stamp_cards = self.counts or None
        member.pending_stamps = self.pending or None

    def add_coupons(self, uow: UnitOfWork) -> None:
        for n, coupon in enumerate(self.coupons):
            add_coupon(uow, coupon, f"stamp_coupon{n}")

    def order_fields(self) -> dict[str, Any]:
        return {"stamps": self.kept} if self.kept else {}


def stamp_purchase(rules: ProgramRules, basket: Basket, member: Member, now: datetime, held_until: date | None = None) -> Stamped | None:
    """What the purchase does to the member's cards (None: the program has no stamp cards, and
    the purchase answer stays as it always was). A purchase whose points are held until
    `held_until` holds its stamps too (domain/stamps.hold_stamps): they count toward nothing
    until the job releases them with the points."""
    if not rules.stamp_cards:
        return None
    earned = stamps_earned(rules.stamp_cards, basket)
    held = members.stamp_counts(member)
    if held_until is not None and any(e.added for e in earned):
        # The cards as they are (no coupon is issued by a purchase whose stamps wait)
        counts, progress = add_stamps(rules.stamp_cards, held, [], withheld={c.id for c in rules.stamp_cards})
        pending = hold_stamps(members.pending_stamps(member), held_until.isoformat(), earned)
        return Stamped(held, progress, order_stamps(earned), pending=pending, held=list(earned), available_on=held_until)
    counts, coupons, progress = stamp_with_coupons(rules, held, earned, member, now)
    return Stamped(counts, progress, order_stamps(earned), coupons)


def stamp_with_coupons(
    rules: ProgramRules, held: dict[str, int], earned: list[CardStamps], member: Member, now: datetime
) -> tuple[dict[str, int], list[Coupon], list[CardProgress]]:
    """The member's counts once `earned` is added, the reward coupons the cards completed, and
    each card's progress (a purchase's, or the release of stamps held with pending points)."""
    counts, progress = add_stamps(rules.stamp_cards, held, earned)
    completing = {p.card_id for p in progress if p.coupons}
    if not completing:
        return counts, [], progress
    cards = {card.id: card for card in rules.stamp_cards}
    expiry: dict[str, datetime] = {}
    for card_id in completing:
        reward = get_reward(cards[card_id].reward_id)
        in_catalogue = reward is not None and bool(reward.active)
        until = gift_expires_at(now, rules, in_catalogue=in_catalogue, reward_valid_days=reward.coupon_valid_days if reward else None)
        if until is not None:
            expiry[card_id] = until
    withheld = completing - expiry.keys()
    if withheld:  # the reward left the catalogue: the card keeps its stamps until it is back
        counts, progress = add_stamps(rules.stamp_cards, held, earned, withheld)
    coupons = [
        new_coupon(member.member_id, COUPON_KIND, cards[p.card_id].reward_id, expiry[p.card_id], now) for p in progress for _ in range(p.coupons)
    ]
    return counts, coupons, progress


@dataclass(frozen=True)
class Unstamped:
    """What a refund removes from the member's cards, and the order's record after it."""

    removal: dict[str, int]
    counts: dict[str, int]
    kept: dict[str, dict[str, Any]]
    pending: PendingStamps | None = None  # the member's pending stamps after it (None: unchanged)

    def member_actions(self, member: Member) -> list[Action]:
        held = members.pending_stamps_update(member, self.pending) if self.pending is not None else []
        return members.stamp_counts_update(member, self.counts) + held

    def answer(self) -> dict[str, Any]:
        return {"stamps_removed": [{"card_id": card_id, "removed": n, "stamps": self.counts.get(card_id, 0)} for card_id, n in self.removal.items()]}


def _kept_card(record: dict[str, Any]) -> dict[str, Any]:
    lines = {sku: int(n) for sku, n in members.as_dict(record.get("lines")).items()}
    return {"added": int(record.get("added", 0)), "removed": int(record.get("removed", 0)), "lines": lines}


def unstamp_refund(order: Order, member: Member | None, refunded_total: int, lines: dict[str, Any] | None) -> Unstamped | None:
    """What a refund takes off the cards the order stamped (None: the order added no stamps)."""
    kept = {card_id: _kept_card(members.as_dict(record)) for card_id, record in members.as_dict(order.stamps).items()}
    if not kept:
        return None
    removal = stamps_to_remove(kept, int(order.amount), refunded_total, lines)
    held = members.stamp_counts(member) if member is not None else {}
    waiting = members.pending_stamps(member) if member is not None else {}
    if order.release_on and order.release_on in waiting:
        # Stamps still held with the order's pending points go first; the rest were released.
        pending, rest = take_pending_stamps(waiting, order.release_on, removal)
        return Unstamped(removal, remove_stamps(held, rest), after_removal(kept, removal), pending)
    return Unstamped(removal, remove_stamps(held, removal), after_removal(kept, removal))
