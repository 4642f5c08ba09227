"""Stamp cards, the pure rules (domain/stamps.py): what a basket stamps, coupons at N with the
remainder carried over, and what a refund removes."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from chalicelib.domain.earn_rules import Basket, Line
from chalicelib.domain.rules import ProgramRules, StampCard
from chalicelib.domain.stamps import MAX_COUPONS_PER_PURCHASE as MAX_COUPONS
from chalicelib.domain.stamps import (
    CardStamps,
    add_stamps,
    due_stamps,
    hold_stamps,
    order_stamps,
    remove_stamps,
    stamps_earned,
    stamps_to_remove,
    take_pending_stamps,
)

AT = datetime(2026, 12, 2, 15, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
COFFEE = StampCard(id="coffee", name="Tenth coffee free", categories=("coffee",), stamps_needed=10, reward_id="coffee")


def _basket(*lines: Line) -> Basket:
    return Basket(sum(line.amount for line in lines), lines, AT)


def test_given_qualifying_lines_then_each_item_earns_its_stamps_and_other_lines_none():
    basket = _basket(Line("latte", "coffee", 3, 9_000), Line("cake", "cake", 2, 4_000), Line("mocha", "coffee", 1, 3_000))
    (earned,) = stamps_earned([COFFEE], basket)
    assert earned.added == 4 and earned.per_sku == {"latte": 3, "mocha": 1}


def test_given_a_purchase_without_items_or_a_free_line_then_no_stamps():
    assert stamps_earned([COFFEE], Basket.whole(3_000, AT)) == []
    assert stamps_earned([COFFEE], _basket(Line("latte", "coffee", 1, 0), Line("cake", "cake", 1, 100))) == []


def test_given_a_cap_per_order_then_the_stamps_are_capped_and_shared_over_the_lines():
    card = COFFEE.model_copy(update={"max_stamps_per_order": 3, "stamps_per_item": 2})
    (earned,) = stamps_earned([card], _basket(Line("latte", "coffee", 2, 6_000), Line("mocha", "coffee", 1, 3_000)))
    assert earned.added == 3 and sum(earned.per_sku.values()) == 3


@pytest.mark.parametrize(
    ("held", "added", "stamps", "coupons"),
    [(0, 9, 9, 0), (9, 1, 0, 1), (7, 5, 2, 1), (0, 12, 2, 1), (3, 20, 3, 2), (0, 10_000, 10_000 - 10 * MAX_COUPONS, MAX_COUPONS)],
)
def test_given_stamps_reaching_the_card_then_coupons_are_issued_and_the_rest_carried_over(held, added, stamps, coupons):
    basket = _basket(Line("latte", "coffee", added, added * 100))
    counts, (progress,) = add_stamps([COFFEE], {"coffee": held} if held else {}, stamps_earned([COFFEE], basket))
    assert (progress.added, progress.stamps, progress.coupons) == (added, stamps, coupons)
    assert counts == ({"coffee": stamps} if stamps else {})


def test_given_a_withheld_card_then_it_keeps_its_stamps_and_issues_nothing():
    earned = stamps_earned([COFFEE], _basket(Line("latte", "coffee", 12, 1_200)))
    counts, (progress,) = add_stamps([COFFEE], {}, earned, withheld={"coffee"})
    assert counts == {"coffee": 12} and progress.coupons == 0


def test_given_refunds_then_the_refunded_part_loses_its_stamps_and_counts_never_go_below_zero():
    kept = order_stamps(stamps_earned([COFFEE], _basket(Line("latte", "coffee", 4, 12_000), Line("mocha", "coffee", 2, 6_000))))
    lines = {"latte": [4, 12_000, 120, 0], "mocha": [2, 6_000, 60, 1]}  # one mocha refunded by item
    assert stamps_to_remove(kept, 18_000, 3_000, lines) == {"coffee": 1}
    assert stamps_to_remove(kept, 18_000, 9_000, lines) == {"coffee": 3}  # and 6,000 by amount: a third of 6
    assert stamps_to_remove(kept, 18_000, 18_000, lines) == {"coffee": 6}
    assert remove_stamps({"coffee": 2}, {"coffee": 6}) == {}


def test_given_bad_cards_then_the_rules_are_refused():
    with pytest.raises(ValidationError):
        StampCard(id="x", name="x", stamps_needed=10, reward_id="coffee")  # selects nothing
    with pytest.raises(ValidationError):
        ProgramRules(stamp_cards=(COFFEE, COFFEE))


# --- stamps held with pending points ------------------------------------------------------------


def test_given_held_purchases_then_their_stamps_wait_by_release_day_and_card():
    first = hold_stamps({}, "2026-12-07", [CardStamps("coffee", 3, {"latte": 3}), CardStamps("cake", 0, {})])
    both = hold_stamps(first, "2026-12-07", [CardStamps("coffee", 2, {})])
    later = hold_stamps(both, "2026-12-08", [CardStamps("cake", 1, {})])
    assert later == {"2026-12-07": {"coffee": 5}, "2026-12-08": {"cake": 1}}
    assert first == {"2026-12-07": {"coffee": 3}}  # nothing shared between states


def test_given_a_refund_inside_the_window_then_held_stamps_go_first_and_only_the_rest_comes_off_the_cards():
    pending = {"2026-12-07": {"coffee": 2}, "2026-12-08": {"coffee": 4}}
    after, rest = take_pending_stamps(pending, "2026-12-07", {"coffee": 3})
    assert after == {"2026-12-08": {"coffee": 4}} and rest == {"coffee": 1}
    after, rest = take_pending_stamps(pending, None, {"coffee": 3})  # released long ago: all from the cards
    assert after == pending and rest == {"coffee": 3}


def test_given_the_release_job_then_every_day_due_joins_the_cards_and_later_days_wait():
    due, left = due_stamps({"2026-12-06": {"coffee": 1}, "2026-12-07": {"coffee": 2, "cake": 1}, "2026-12-09": {"coffee": 5}}, "2026-12-07")
    assert due == [CardStamps("cake", 1, {}), CardStamps("coffee", 3, {})]
    assert left == {"2026-12-09": {"coffee": 5}}
    assert due_stamps({}, "2026-12-07") == ([], {})
