"""Stamp cards (集点卡): stamps for qualifying items, a reward coupon at N stamps. Pure.

- A purchase reported **with items** earns, on each active card, `stamps_per_item` stamps per
  item (its quantity) of the lines whose sku or category the card names, at most
  `max_stamps_per_order`. A purchase reported as one amount has no items: it earns no stamps.
  A line that costs nothing (its amount after discounts is 0: the free coffee itself) earns none.
- The member keeps one count per card. When it reaches `stamps_needed` a coupon for the card's
  reward is issued and the count goes down by `stamps_needed`, as many times as it is reached
  (12 stamps on a 10-stamp card: one coupon, 2 stamps left), at most
  `MAX_COUPONS_PER_PURCHASE` coupons per purchase (what is left waits for the next purchase).
  A card whose reward is not (or no longer) in the catalogue keeps its stamps until it is.
- The order keeps, per card, the stamps it added, per sku, and the stamps its refunds removed:
  a refund of items removes those items' stamps; a refund by amount removes its share of the
  order's stamps (floored); the whole amount removes them all. A refund never takes a count
  below zero: stamps already turned into a coupon are not taken back, and the coupon stays.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .earn_rules import Basket, Line, allocate, items_refunded
from .rules import StampCard

MAX_COUPONS_PER_PURCHASE = 10  # each coupon is two items of the purchase's one transaction


@dataclass(frozen=True)
class CardStamps:
    """What one purchase adds to one card: `added` stamps, `per_sku` of them by line."""

    card_id: str
    added: int
    per_sku: dict[str, int]


@dataclass(frozen=True)
class CardProgress:
    """A card after a purchase: the stamps it `added`, the `stamps` on the card, the coupons issued."""

    card_id: str
    added: int
    stamps: int
    coupons: int

    def as_dict(self) -> dict[str, Any]:
        return {"card_id": self.card_id, "added": self.added, "stamps": self.stamps, "coupons_issued": self.coupons}


def describe_card(card: StampCard) -> str:
    """A stamp card in one sentence a member can read."""
    which = [f"items {', '.join(card.skus)}"] if card.skus else []
    which += [f"category {', '.join(card.categories)}"] if card.categories else []
    per = f"{card.stamps_per_item} stamps" if card.stamps_per_item > 1 else "1 stamp"
    text = f"{per} per item of {' or '.join(which)} bought (purchases reported with items); {card.stamps_needed} stamps make a reward coupon"
    if card.max_stamps_per_order is not None:
        text += f"; at most {card.max_stamps_per_order} stamps per purchase"
    return text


def _qualifies(card: StampCard, line: Line) -> bool:
    return (line.sku is not None and line.sku in card.skus) or (line.category is not None and line.category in card.categories)


def stamps_earned(cards: Sequence[StampCard], basket: Basket) -> list[CardStamps]:
    """The stamps a basket adds to each active card (none for a purchase without items)."""
    if not basket.itemised:
        return []
    earned = []
    for card in cards:
        if not card.active:
            continue
        lines = [line for line in basket.lines if line.amount > 0 and _qualifies(card, line)]
        wanted = [line.quantity * card.stamps_per_item for line in lines]
        total = sum(wanted)
        if card.max_stamps_per_order is not None and total > card.max_stamps_per_order:
            total = card.max_stamps_per_order
            wanted = allocate(total, [Decimal(w) for w in wanted])
        if total:
            earned.append(CardStamps(card.id, total, {line.sku or "": n for line, n in zip(lines, wanted, strict=True) if n}))
    return earned


def add_stamps(
    cards: Sequence[StampCard], held: Mapping[str, int], earned: Sequence[CardStamps], withheld: Collection[str] = ()
) -> tuple[dict[str, int], list[CardProgress]]:
    """The member's counts after adding `earned`, and each active card's progress. A card in
    `withheld` (its reward cannot be issued now) keeps its stamps and issues nothing."""
    added = {e.card_id: e.added for e in earned}
    counts = {card_id: int(n) for card_id, n in held.items()}
    left = MAX_COUPONS_PER_PURCHASE
    progress = []
    for card in cards:
        if not card.active:
            continue
        count = counts.get(card.id, 0) + added.get(card.id, 0)
        coupons = 0 if card.id in withheld else min(count // card.stamps_needed, left)
        left -= coupons
        count -= coupons * card.stamps_needed
        counts[card.id] = count
        progress.append(CardProgress(card.id, added.get(card.id, 0), count, coupons))
    return {card_id: n for card_id, n in counts.items() if n > 0}, progress


def order_stamps(earned: Sequence[CardStamps]) -> dict[str, dict[str, Any]]:
    """What the order keeps of its stamps: card_id -> {added, removed, lines: {sku: stamps}}."""
    return {e.card_id: {"added": e.added, "removed": 0, "lines": dict(e.per_sku)} for e in earned}


def _share(value: int, refunded: int, quantity: int) -> int:
    return value if refunded >= quantity else (value * refunded) // quantity


def stamps_to_remove(
    kept: Mapping[str, Mapping[str, Any]], amount: int, refunded_total: int, lines: Mapping[str, Sequence[int]] | None
) -> dict[str, int]:
    """Stamps each card loses once `refunded_total` of the order is refunded (beyond what earlier
    refunds removed): the refunded items' stamps, plus the share of the order's stamps that the
    amount refunded without items is of the order (floored); all of them on a full refund."""
    lines = lines or {}
    items_amount = items_refunded(lines)[0]
    by_amount = max(0, refunded_total - items_amount)
    removal = {}
    for card_id, record in kept.items():
        added, removed = int(record.get("added", 0)), int(record.get("removed", 0))
        if refunded_total >= amount:
            target = added
        else:
            per_sku = record.get("lines") or {}
            by_items = sum(_share(int(n), int(lines[sku][3]), int(lines[sku][0])) for sku, n in per_sku.items() if sku in lines)
            target = min(added, added * by_amount // amount + by_items)
        if target > removed:
            removal[card_id] = target - removed
    return removal


def remove_stamps(held: Mapping[str, int], removal: Mapping[str, int]) -> dict[str, int]:
    """The member's counts after a refund: never below zero."""
    counts = {card_id: int(n) for card_id, n in held.items()}
    for card_id, n in removal.items():
        counts[card_id] = max(0, counts.get(card_id, 0) - n)
    return {card_id: n for card_id, n in counts.items() if n > 0}


def after_removal(kept: Mapping[str, Mapping[str, Any]], removal: Mapping[str, int]) -> dict[str, dict[str, Any]]:
    """The order's stamps record once `removal` is taken off."""
    return {
        card_id: {**dict(record), "lines": dict(record.get("lines") or {}), "removed": int(record.get("removed", 0)) + removal.get(card_id, 0)}
        for card_id, record in kept.items()
    }


# --- stamps held with pending points (domain/pending.py) ---------------------------------------
# A purchase whose points are held for a return window holds its stamps too, under the same
# release day: {ISO day: {card_id: stamps}} on the member. They count toward no reward until the
# day's points are released; a refund inside the window takes them from there first.

PendingStamps = dict[str, dict[str, int]]


def hold_stamps(pending: Mapping[str, Mapping[str, int]], day: str, earned: Sequence[CardStamps]) -> PendingStamps:
    """The member's pending stamps once a purchase held until `day` adds `earned`."""
    after = {d: {c: int(n) for c, n in cards.items()} for d, cards in pending.items()}
    for stamps in earned:
        if stamps.added:
            on_day = after.setdefault(day, {})
            on_day[stamps.card_id] = on_day.get(stamps.card_id, 0) + stamps.added
    return after


def take_pending_stamps(
    pending: Mapping[str, Mapping[str, int]], day: str | None, removal: Mapping[str, int]
) -> tuple[PendingStamps, dict[str, int]]:
    """A refund's `removal` taken from the stamps still held for `day` first: the pending stamps
    after it, and what is left to take off the member's cards (stamps already released)."""
    after = {d: {c: int(n) for c, n in cards.items()} for d, cards in pending.items()}
    rest: dict[str, int] = {}
    held = after.get(day, {}) if day else {}
    for card_id, n in removal.items():
        taken = min(n, held.get(card_id, 0))
        if taken:
            held[card_id] -= taken
        if n - taken:
            rest[card_id] = n - taken
    if day in after:
        after[day] = {c: n for c, n in after[day].items() if n > 0}
        if not after[day]:
            del after[day]
    return after, rest


def due_stamps(pending: Mapping[str, Mapping[str, int]], through: str) -> tuple[list[CardStamps], PendingStamps]:
    """The stamps of every day due by `through` (to add to the cards) and the pending stamps left."""
    due: dict[str, int] = {}
    left: PendingStamps = {}
    for day, cards in pending.items():
        if day <= through:
            for card_id, n in cards.items():
                due[card_id] = due.get(card_id, 0) + int(n)
        else:
            left[day] = {c: int(n) for c, n in cards.items()}
    return [CardStamps(card_id, n, {}) for card_id, n in sorted(due.items()) if n], left
