"""The earn-rules engine without AWS (domain/earn_rules.py): the defaults earn exactly as the
old formula did, breakdowns sum exactly, rules select lines and orders, stack in the documented
order, exclusive groups pick the best, limits cap, baskets must add up, refunds by item."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from chalicelib.domain.earn_rules import (
    Basket,
    Earner,
    Line,
    allocate,
    basket_lines,
    describe,
    evaluate,
    items_refunded,
    order_lines,
    refund_lines,
    refund_target,
)
from chalicelib.domain.earning import earn_multiplier
from chalicelib.domain.errors import ItemsDoNotAddUp, RefundExceedsItems
from chalicelib.domain.points import purchase_points
from chalicelib.domain.rules import DEFAULT_RULES, EarnRule, ProgramRules, Promotion

ZONE = ZoneInfo("Asia/Shanghai")
MONDAY_NOON = datetime(2026, 11, 30, 12, 0, tzinfo=ZONE)


def _rules(*earn_rules: dict[str, Any], **changes: Any) -> ProgramRules:
    return ProgramRules.model_validate({**DEFAULT_RULES.model_dump(mode="json"), "earn_rules": list(earn_rules), **changes})


def _points(evaluation: Any, rule_id: str) -> int:
    return sum(c.points for c in evaluation.breakdown if c.rule_id == rule_id)


class _Item:
    def __init__(self, sku: str, amount: int, quantity: int = 1, category: str | None = None, discount: int = 0) -> None:
        self.sku, self.amount, self.quantity, self.category, self.discount = sku, amount, quantity, category, discount


PROMOTIONS = (
    Promotion(id="month", name="Double month", starts_on=date(2026, 11, 1), ends_on=date(2026, 11, 30), multiplier=Decimal("2")),
    Promotion(id="monday", name="Monday", starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31), multiplier=Decimal("1.5"), weekdays=(1,)),
)


@pytest.mark.parametrize("promotions", [(), PROMOTIONS])
@pytest.mark.parametrize("tier", ["member", "silver", "gold"])
@pytest.mark.parametrize("birthday", [None, "1990-11-30", "1990-05-01"])
@pytest.mark.parametrize("amount", [1, 99, 100, 101, 12_850, 99_999, 1_234_567])
def test_given_the_built_in_rules_alone_then_points_are_exactly_the_old_formula_and_the_breakdown_sums_to_them(promotions, tier, birthday, amount):
    rules = DEFAULT_RULES.model_copy(update={"promotions": promotions})
    evaluation = evaluate(rules, Basket.whole(amount, MONDAY_NOON), Earner(tier, birthday))
    expected = purchase_points(amount, rules.earn_rate, earn_multiplier(rules, tier, birthday, MONDAY_NOON.date()))
    assert evaluation.points == expected == sum(c.points for c in evaluation.breakdown) == sum(evaluation.line_points) + evaluation.order_points


def test_given_promotions_then_only_the_best_applies_and_the_breakdown_names_it():
    rules = DEFAULT_RULES.model_copy(update={"promotions": PROMOTIONS})
    evaluation = evaluate(rules, Basket.whole(10_000, MONDAY_NOON), Earner("gold"))
    assert [(c.rule_id, c.points) for c in evaluation.breakdown] == [("base", 100), ("tier", 50), ("promotion:month", 150)]


def test_given_items_then_the_order_discount_is_spread_and_the_lines_earn_on_exactly_the_amount():
    lines = basket_lines([_Item("a", 1_000), _Item("b", 2_000, discount=500), _Item("c", 333)], 100, 2_733)
    assert [line.amount for line in lines] == [1_000 - 35, 1_500 - 53, 333 - 12] and sum(line.amount for line in lines) == 2_733
    assert [line.discounted for line in lines] == [False, True, False]
    with pytest.raises(ItemsDoNotAddUp, match=r"2833.*less the order discount 100: 2733, but amount is 2700"):
        basket_lines([_Item("a", 1_000), _Item("b", 2_000, discount=500), _Item("c", 333)], 100, 2_700)


def test_given_a_line_rule_then_it_applies_to_its_lines_only_and_a_purchase_without_items_never_meets_it():
    rules = _rules({"id": "fuel", "label": "Fuel x2", "conditions": {"categories": ["fuel"]}, "effect": {"multiplier": "2"}})
    basket = Basket(10_000, (Line("95", "fuel", 40, 6_000), Line("snack", "shop", 1, 4_000)), MONDAY_NOON)
    evaluation = evaluate(rules, basket, Earner("member"))
    assert (evaluation.points, _points(evaluation, "fuel"), evaluation.line_points) == (160, 60, (120, 40))
    assert evaluate(rules, Basket.whole(10_000, MONDAY_NOON), Earner("member")).points == 100


def test_given_rules_of_each_effect_then_they_stack_in_the_documented_order():
    rules = _rules(
        {"id": "z-bonus", "label": "Bonus", "effect": {"bonus": 5}, "priority": 1},
        {"id": "unit", "label": "Per unit", "effect": {"points_per_unit": "0.5"}},
        {"id": "item", "label": "Per item", "conditions": {"skus": ["b"]}, "effect": {"points_per_item": 3}},
        {"id": "x2", "label": "x2", "effect": {"multiplier": "2"}},
    )
    basket = Basket(3_000, (Line("a", None, 1, 1_000), Line("b", None, 2, 2_000)), MONDAY_NOON)
    evaluation = evaluate(rules, basket, Earner("silver"))
    # base 30, tier x1.25 -> +7.5, x2 on that -> +37.5; then the bonus (priority 1), then by id
    assert [(c.rule_id, c.points) for c in evaluation.breakdown] == [("base", 30), ("tier", 7), ("x2", 38), ("z-bonus", 5), ("item", 6), ("unit", 15)]
    assert evaluation.points == 101 == sum(evaluation.line_points) + evaluation.order_points and evaluation.order_points == 5


def test_given_order_conditions_then_a_rule_applies_only_where_when_and_to_whom_they_say():
    rule = {
        "id": "r",
        "label": "R",
        "effect": {"bonus": 10},
        "conditions": {
            "stores": ["s1"],
            "channels": ["store"],
            "payment_methods": ["card"],
            "weekdays": [1],
            "starts_on": "2026-11-30",
            "ends_on": "2026-11-30",
            "from_time": "11:00",
            "until_time": "13:00",
            "min_spend": 1_000,
            "tiers": ["gold"],
            "tags": ["vip"],
        },
    }
    rules = _rules(rule, member_tags=[{"id": "vip", "name": "贵宾"}])
    good = {"store_id": "s1", "channel": "store", "payment_method": "card"}
    member = Earner("gold", tags=("vip",))

    def bonus(at: datetime = MONDAY_NOON, amount: int = 1_000, earner: Earner = member, **order: Any) -> int:
        return _points(evaluate(rules, Basket.whole(amount, at, **{**good, **order}), earner), "r")

    assert bonus() == 10
    assert bonus(store_id="s2") == bonus(channel="online") == bonus(payment_method="cash") == 0
    assert bonus(at=MONDAY_NOON.replace(day=29)) == bonus(at=MONDAY_NOON.replace(hour=13)) == bonus(amount=999) == 0
    assert bonus(earner=Earner("silver", tags=("vip",))) == bonus(earner=Earner("gold")) == 0


def test_given_a_rule_naming_a_tag_the_program_does_not_declare_then_the_rules_are_invalid():
    rule = {"id": "r", "label": "R", "effect": {"bonus": 10}, "conditions": {"tags": ["vip"]}}
    with pytest.raises(ValueError, match="not declared in member_tags: vip"):
        _rules(rule)


def test_given_a_time_window_past_midnight_then_it_spans_the_night():
    rules = _rules({"id": "night", "label": "Night", "effect": {"bonus": 1}, "conditions": {"from_time": "22:00", "until_time": "02:00"}})
    at = [MONDAY_NOON.replace(hour=h, minute=0) for h in (21, 22, 23, 0, 1, 2)]
    assert [_points(evaluate(rules, Basket.whole(100, t), Earner("member")), "night") for t in at] == [0, 1, 1, 1, 1, 0]


def test_given_an_exclusive_group_then_the_rule_that_gives_most_wins_and_ties_go_to_the_lower_priority():
    rules = _rules(
        {"id": "a", "label": "A", "effect": {"bonus": 40}, "exclusive_group": "g", "priority": 2},
        {"id": "b", "label": "B", "effect": {"multiplier": "2"}, "exclusive_group": "g", "priority": 1},
    )
    assert [c.rule_id for c in evaluate(rules, Basket.whole(3_000, MONDAY_NOON), Earner("member")).breakdown] == ["base", "a"]
    assert [c.rule_id for c in evaluate(rules, Basket.whole(4_000, MONDAY_NOON), Earner("member")).breakdown] == ["base", "b"]  # 40 = 40: priority
    assert [c.rule_id for c in evaluate(rules, Basket.whole(5_000, MONDAY_NOON), Earner("member")).breakdown] == ["base", "b"]


def test_given_two_exclusive_rules_that_can_meet_with_one_priority_then_the_document_is_refused():
    offer = {"label": "O", "effect": {"bonus": 1}, "exclusive_group": "g"}
    with pytest.raises(ValidationError, match="same priority"):
        _rules({"id": "a", **offer}, {"id": "b", **offer, "conditions": {"weekdays": [1, 2]}})
    _rules({"id": "a", **offer, "conditions": {"weekdays": [3]}}, {"id": "b", **offer, "conditions": {"weekdays": [1, 2]}})
    _rules({"id": "a", **offer, "conditions": {"ends_on": "2026-01-31"}}, {"id": "b", **offer, "conditions": {"starts_on": "2026-02-01"}})
    _rules({"id": "a", **offer}, {"id": "b", **offer, "active": False})


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"id": "base", "label": "x", "effect": {"bonus": 1}}, "built-in"),
        ({"id": "a", "label": "x", "effect": {"bonus": 1, "multiplier": "2"}}, "exactly one"),
        ({"id": "a", "label": "x", "effect": {}}, "exactly one"),
        ({"id": "a", "label": "x", "effect": {"bonus": 1}, "conditions": {"channels": ["phone"]}}, "unknown channels"),
        ({"id": "a", "label": "x", "effect": {"bonus": 1}, "conditions": {"from_time": "10:00"}}, "both"),
        ({"id": "a", "label": "x", "effect": {"bonus": 1}, "conditions": {"tiers": ["platinum"]}}, "unknown tiers"),
        ({"id": "a", "label": "x", "effect": {"bonus": 1}, "limits": {"period": "decade"}}, "period"),
    ],
)
def test_given_a_bad_rule_then_the_document_is_refused_with_a_reason(rule, message):
    with pytest.raises(ValidationError, match=message):
        _rules(rule)


def test_given_limits_then_a_rule_gives_no_more_than_they_allow_and_the_counters_say_what_it_gave():
    rules = _rules(
        {
            "id": "r",
            "label": "R",
            "effect": {"points_per_item": 10},
            "limits": {"max_points_per_order": 50, "max_points_per_member_per_day": 80, "max_points_per_member_per_period": 100, "period": "week"},
        }
    )
    basket = Basket(600, (Line("bun", None, 6, 600),), MONDAY_NOON)
    counters: dict[str, Any] = {}
    given = []
    for _ in range(3):
        evaluation = evaluate(rules, basket, Earner("member", counters=counters))
        given.append(_points(evaluation, "r"))
        counters = evaluation.counters
    assert given == [50, 30, 0] and counters == {"r": {"d": "2026-11-30", "dp": 80, "p": "2026-W49", "pp": 80}}
    tuesday = evaluate(rules, Basket(600, basket.lines, MONDAY_NOON.replace(day=1, month=12)), Earner("member", counters=counters))
    assert _points(tuesday, "r") == 20 and "r" in tuesday.limited  # the week's 100 reached; a new day does not reset it


def test_given_a_budget_then_the_rule_draws_it_and_gives_no_more_than_the_caller_says_is_left():
    rules = _rules({"id": "r", "label": "R", "effect": {"bonus": 7}, "budget": 10})
    assert evaluate(rules, Basket.whole(100, MONDAY_NOON), Earner("member")).budget_draws == (("r", 7),)
    left = evaluate(rules, Basket.whole(100, MONDAY_NOON), Earner("member"), budget_left={"r": 3})
    assert (left.budget_draws, _points(left, "r"), left.limited) == ((("r", 3),), 3, ("r",))
    assert evaluate(rules, Basket.whole(100, MONDAY_NOON), Earner("member"), budget_left={"r": 0}).budget_draws == ()


def test_given_excluded_lines_then_they_earn_nothing_from_any_rule():
    rules = _rules(
        {"id": "bonus", "label": "B", "effect": {"bonus": 5}},
        earn_exclusions={"categories": ["gift_card"], "skus": ["stamp"], "discounted_lines_earn": False},
    )
    basket = Basket(
        3_000, (Line("gc", "gift_card", 1, 1_000), Line("stamp", None, 1, 1_000), Line("sale", None, 1, 1_000, discounted=True)), MONDAY_NOON
    )
    assert evaluate(rules, basket, Earner("member")).points == 0
    basket = Basket(4_000, (*basket.lines, Line("tea", None, 1, 1_000)), MONDAY_NOON)
    assert evaluate(rules, basket, Earner("member")).points == 15


def test_given_refunds_by_item_then_they_take_back_each_items_points_in_parts_that_add_up():
    lines = order_lines((Line("a", None, 3, 1_000), Line("b", None, 1, 500)), (10, 5))
    after, amount = refund_lines(lines, [("a", 1)])
    assert (amount, items_refunded(after)) == (333, (333, 3))
    after, amount = refund_lines(after, [("a", 2)])
    assert (amount, items_refunded(after)) == (667, (1_000, 10))
    with pytest.raises(RefundExceedsItems, match="would make 4 refunded; the purchase had 3"):
        refund_lines(after, [("a", 1)])
    with pytest.raises(RefundExceedsItems, match="no item with sku c"):
        refund_lines(after, [("c", 1)])
    assert refund_target(20, 1_500, 1_000, after) == 10  # the items' 10, not a share of the bonus
    assert refund_target(20, 1_500, 1_500, after) == 20  # everything back: the order's bonus too
    assert refund_target(20, 1_500, 750, None) == 10  # without items: in proportion, as before


def test_given_a_refund_by_amount_then_one_by_item_then_the_item_is_not_taken_back_twice():
    # Fuel 50.00 earned 90, a snack 50.00 earned 10: 10.00 back by amount, then the fuel by item.
    lines = order_lines((Line("fuel", None, 1, 5_000), Line("snack", None, 1, 5_000)), (90, 10))
    assert refund_target(100, 10_000, 1_000, lines) == 10  # no item refunded yet: a share of all
    after, amount = refund_lines(lines, [("fuel", 1)])
    target = refund_target(100, 10_000, 1_000 + amount, after)
    assert target == 92  # the fuel's 90, and 10.00 of the 50.00 not refunded by item: 2 of its 10
    assert refund_target(100, 10_000, 10_000, after) == 100  # the rest of the snack: the last 8
    # The other order (the item first, then an amount) comes to the same.
    after, amount = refund_lines(lines, [("fuel", 1)])
    assert refund_target(100, 10_000, amount, after) == 90
    assert refund_target(100, 10_000, amount + 1_000, after) == 92


def test_given_any_split_then_allocate_sums_exactly():
    assert allocate(10, [Decimal(1), Decimal(1), Decimal(1)]) == [4, 3, 3]
    assert allocate(7, [Decimal(0), Decimal(0)]) == [7, 0]
    assert sum(allocate(101, [Decimal("0.3"), Decimal("2.7"), Decimal(5)])) == 101


def test_given_a_rule_then_members_read_it_in_words():
    rule = EarnRule.model_validate(
        {
            "id": "r",
            "label": "R",
            "effect": {"multiplier": "2"},
            "conditions": {"categories": ["coffee"], "weekdays": [3], "from_time": time(14).isoformat(), "until_time": "17:00", "min_spend": 3_000},
            "limits": {"max_points_per_member_per_day": 200},
            "exclusive_group": "day",
        }
    )
    assert describe(rule) == (
        "x2 on the base points, on category coffee, on Wednesday, between 14:00 and 17:00, spending at least 30.00; "
        "at most 200 per member per day; does not combine with other 'day' offers (the best one applies)"
    )
