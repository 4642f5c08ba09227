"""Purchase detail and the earn-rules engine over HTTP (issue 14): items, breakdowns, rules,
limits, budgets, exclusions, refunds by item, the program's rules in words and the dry run."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.store.earn_budgets import given_in_total
from chalicelib.store.models import BaseItem
from tests.integration.conftest import MERCHANT, bearer
from tests.support.rules import SUITE_RULES, set_rules


def _today() -> datetime:
    return datetime.now(ZoneInfo(SUITE_RULES.timezone))


def _buy(api: Any, order_id: str, phone: str, items: list[dict[str, Any]] | None = None, **extra: Any) -> Any:
    body: dict[str, Any] = {"order_id": order_id, "phone": phone, "currency": "CNY", **extra}
    if items is not None:
        body["items"] = items
        body.setdefault("amount", sum(i["amount"] - i.get("discount", 0) for i in items) - extra.get("discount", 0))
    return api.post("/v1/purchases", body, headers=MERCHANT)


def _balance(api: Any, token: str) -> int:
    return int(api.get("/v1/me", headers=bearer(token)).json()["points"]["balance"])


def _put_rules(api: Any, body: dict[str, Any]) -> Any:
    return api.request("PUT", "/v1/admin/rules", json_body=body)


def _every_item() -> list[tuple[str, str]]:
    return sorted((i.pk, i.sk) for i in BaseItem.scan())


FUEL = [
    {"sku": "fuel-95", "category": "fuel", "quantity": 40, "amount": 30_000},
    {"sku": "fuel-92", "category": "fuel", "quantity": 10, "amount": 7_000},
    {"sku": "water", "category": "shop", "quantity": 2, "amount": 600},
]


def test_given_the_default_rules_when_a_purchase_reports_items_then_it_earns_exactly_what_the_amount_alone_earns_and_says_why(api, members):
    token, body = members.verified()
    phone = body["member"]["phone"]
    reply = _buy(api, "o-items", phone, FUEL, channel="store", payment_method="card")
    assert reply.status == 201, reply.text
    answer = reply.json()
    assert answer["points_earned"] == 376  # floor(37,600 / 100)
    assert answer["breakdown"] == [{"rule_id": "base", "label": "1 point(s) per 1.00 spent", "points": 376}]
    (earn,) = [e for e in api.get("/v1/me/ledger", headers=bearer(token)).json()["items"] if e["kind"] == "earn"]
    assert earn["breakdown"] == answer["breakdown"] and earn["points"] == 376
    # The old form of a purchase answers as it always did: no breakdown.
    assert "breakdown" not in members.purchase("o-plain", 37_600, phone=phone).json()


def test_given_items_that_do_not_add_up_then_422_names_the_totals_and_nothing_is_written(api, members):
    _, body = members.verified()
    before = _every_item()
    reply = _buy(api, "o-bad", body["member"]["phone"], FUEL, amount=37_000)
    assert reply.status == 422 and reply.headers["Content-Type"].startswith("application/problem+json")
    assert reply.json()["code"] == "items_do_not_add_up"
    assert "37600" in reply.json()["detail"] and "37000" in reply.json()["detail"]
    assert _every_item() == before


def test_given_an_order_discount_then_the_lines_less_the_discount_must_make_the_amount(api, members):
    _, body = members.verified()
    phone = body["member"]["phone"]
    items = [
        {"sku": "latte", "category": "coffee", "quantity": 2, "amount": 6_000, "discount": 1_000},
        {"sku": "cake", "quantity": 1, "amount": 3_000},
    ]
    assert _buy(api, "o-d1", phone, items, amount=7_000, discount=500).status == 422  # 8,000 - 500 is 7,500
    ok = _buy(api, "o-d2", phone, items, discount=500)
    assert ok.status == 201 and ok.json()["points_earned"] == 75


def test_given_a_replay_with_other_items_then_409_and_with_the_same_items_then_the_same_answer(api, members):
    token, body = members.verified()
    phone = body["member"]["phone"]
    first = _buy(api, "o-r", phone, FUEL)
    again = _buy(api, "o-r", phone, FUEL)
    other = _buy(api, "o-r", phone, [dict(FUEL[0], sku="fuel-98"), FUEL[1], FUEL[2]])
    assert (first.status, again.status, other.status) == (201, 200, 409)
    assert again.json() == first.json()
    assert _balance(api, token) == 100 + 376


def _gas_station_rules(session: Any, **extra: Any) -> None:
    today = _today().date()
    set_rules(
        session,
        earn_rules=[
            {
                "id": "holiday-95",
                "label": "Holiday double points on 95 at Station 1",
                "conditions": {"stores": ["station-1"], "skus": ["fuel-95"], "starts_on": today.isoformat(), "ends_on": today.isoformat()},
                "effect": {"multiplier": "2"},
            },
            {"id": "shop-bonus", "label": "Shop bonus", "conditions": {"categories": ["shop"]}, "effect": {"bonus": 20}, **extra},
        ],
    )


def test_given_a_holiday_double_points_rule_for_one_grade_at_one_station_then_only_that_line_there_doubles(aws, api, members):
    _gas_station_rules(aws)
    token, body = members.verified()
    phone = body["member"]["phone"]
    there = _buy(api, "o-s1", phone, FUEL, store_id="station-1").json()
    elsewhere = _buy(api, "o-s2", phone, FUEL, store_id="station-2").json()
    assert there["points_earned"] == 376 + 300 + 20
    assert [(b["rule_id"], b["points"]) for b in there["breakdown"]] == [("base", 376), ("holiday-95", 300), ("shop-bonus", 20)]
    assert elsewhere["points_earned"] == 376 + 20
    assert _balance(api, token) == 100 + 696 + 396
    program = api.get("/v1/program").json()
    words = {r["rule_id"]: r["description"] for r in program["earn_rules"]}
    assert words["holiday-95"].startswith("x2 on the base points, on items fuel-95, at store station-1")
    assert words["shop-bonus"] == "20 bonus points per order, on category shop"
    assert program["earn_exclusions"]["description"] == "No points on category stored_value, category gift_card"


def test_given_gift_cards_and_stored_value_in_a_basket_then_those_lines_earn_nothing(api, members):
    _, body = members.verified()
    items = [
        {"sku": "gc-100", "category": "gift_card", "quantity": 1, "amount": 10_000},
        {"sku": "tea", "category": "drink", "quantity": 1, "amount": 1_500},
    ]
    reply = _buy(api, "o-gc", body["member"]["phone"], items)
    assert reply.status == 201 and reply.json()["points_earned"] == 15


def test_given_a_discounted_line_when_discounted_lines_do_not_earn_then_it_earns_nothing(aws, api, members):
    set_rules(aws, earn_exclusions={"categories": [], "skus": [], "discounted_lines_earn": False})
    _, body = members.verified()
    items = [{"sku": "a", "quantity": 1, "amount": 1_000, "discount": 100}, {"sku": "b", "quantity": 1, "amount": 2_000}]
    assert _buy(api, "o-dl", body["member"]["phone"], items).json()["points_earned"] == 20


def test_given_refunds_by_item_then_they_take_back_what_those_items_earned_and_never_more_than_was_bought(aws, api, members):
    _gas_station_rules(aws)
    token, body = members.verified()
    phone = body["member"]["phone"]
    _buy(api, "o-f", phone, FUEL, store_id="station-1")  # 95: 300 + 300 doubled; 92: 70; water: 6; bonus 20
    assert _balance(api, token) == 796

    def refund(refund_id: str, items: list[dict[str, Any]], **extra: Any) -> Any:
        return api.post("/v1/purchases/o-f/refunds", {"refund_id": refund_id, "items": items, **extra}, headers=MERCHANT)

    half = refund("rf-1", [{"sku": "fuel-95", "quantity": 20}])
    assert half.status == 201 and half.json() == {"refund_id": "rf-1", "order_id": "o-f", "points_reversed": 300, "balance": 496, "amount": 15_000}
    assert refund("rf-1", [{"sku": "fuel-95", "quantity": 20}]).json() == half.json()  # a replay
    assert refund("rf-1", [{"sku": "fuel-95", "quantity": 21}]).status == 409  # the same id, other items
    before = _every_item()
    too_many = refund("rf-2", [{"sku": "fuel-95", "quantity": 21}])
    assert too_many.status == 422 and too_many.json()["code"] == "refund_exceeds_items"
    unknown = refund("rf-3", [{"sku": "diesel", "quantity": 1}])
    assert unknown.status == 422
    assert refund("rf-4", [{"sku": "water", "quantity": 1}], amount=1).status == 422  # the amount is the items' (300)
    assert _every_item() == before and _balance(api, token) == 496
    rest = refund("rf-5", [{"sku": "fuel-95", "quantity": 20}, {"sku": "fuel-92", "quantity": 10}, {"sku": "water", "quantity": 2}])
    assert rest.status == 201 and rest.json()["points_reversed"] == 396  # the bonus goes with the last item
    assert _balance(api, token) == 100  # the welcome points stay


def test_given_a_purchase_without_items_then_a_refund_by_items_is_refused(api, members):
    _, body = members.verified()
    members.purchase("o-plain", 1_000, phone=body["member"]["phone"])
    reply = api.post("/v1/purchases/o-plain/refunds", {"refund_id": "r", "items": [{"sku": "x", "quantity": 1}]}, headers=MERCHANT)
    assert reply.status == 422


def test_given_an_exclusive_group_then_only_the_best_offer_applies(aws, api, members):
    set_rules(
        aws,
        earn_rules=[
            {
                "id": "coffee-x3",
                "label": "Coffee x3",
                "conditions": {"categories": ["coffee"]},
                "effect": {"multiplier": "3"},
                **{"exclusive_group": "day"},
            },
            {"id": "day-bonus", "label": "Member day bonus", "effect": {"bonus": 50}, "exclusive_group": "day", "priority": 10},
        ],
    )
    _, body = members.verified()
    phone = body["member"]["phone"]
    small = _buy(api, "o-e1", phone, [{"sku": "latte", "category": "coffee", "quantity": 1, "amount": 2_000}]).json()
    big = _buy(api, "o-e2", phone, [{"sku": "latte", "category": "coffee", "quantity": 3, "amount": 6_000}]).json()
    assert [b["rule_id"] for b in small["breakdown"]] == ["base", "day-bonus"] and small["points_earned"] == 70  # 50 beats +40
    assert [b["rule_id"] for b in big["breakdown"]] == ["base", "coffee-x3"] and big["points_earned"] == 180  # +120 beats 50


def test_given_a_rule_document_whose_exclusive_rules_are_ambiguous_then_the_operator_is_refused_and_the_rules_stay(api):
    rules = api.get("/v1/admin/rules").json()["rules"]
    offer = {"label": "Offer", "effect": {"bonus": 10}, "exclusive_group": "day"}
    rules["earn_rules"] = [{"id": "a", **offer}, {"id": "b", **offer, "conditions": {"channels": ["app"]}}]
    refused = _put_rules(api, {"rules": rules, "reason": "test"})
    assert refused.status == 400 and "exclusive group 'day'" in refused.text
    assert api.get("/v1/admin/rules").json()["rules"]["earn_rules"] == []
    rules["earn_rules"][1]["priority"] = 50  # a clear order: accepted, and audited as any change
    assert _put_rules(api, {"rules": rules, "reason": "test"}).status == 200
    rules["earn_rules"][1] = {"id": "b", **offer, "conditions": {"channels": ["app"]}}
    rules["earn_rules"][0]["conditions"] = {"channels": ["store"]}  # cannot meet: also clear
    assert _put_rules(api, {"rules": rules, "reason": "test"}).status == 200


def test_given_limits_per_order_and_per_member_per_day_then_the_rule_gives_no_more(aws, api, members):
    set_rules(
        aws,
        earn_rules=[
            {
                "id": "per-item",
                "label": "10 per item",
                "effect": {"points_per_item": 10},
                "limits": {"max_points_per_order": 50, "max_points_per_member_per_day": 80},
            },
        ],
    )
    _, body = members.verified()
    phone = body["member"]["phone"]
    six = [{"sku": "bun", "quantity": 6, "amount": 600}]
    first, second, third = (_buy(api, f"o-l{n}", phone, six).json() for n in range(3))
    assert [_rule_points(a, "per-item") for a in (first, second, third)] == [50, 30, 0]
    assert [a["points_earned"] for a in (first, second, third)] == [56, 36, 6]


def _rule_points(answer: dict[str, Any], rule_id: str) -> int:
    return sum(b["points"] for b in answer["breakdown"] if b["rule_id"] == rule_id)


def test_given_a_budget_then_the_rule_gives_at_most_the_budget_in_all(aws, api, members):
    set_rules(aws, earn_rules=[{"id": "launch", "label": "Launch bonus", "effect": {"bonus": 7}, "budget": 30}])
    given = 0
    for n in range(8):
        answer = members.purchase(f"o-b{n}", 1_000, phone=members.phone()).json()
        given += _rule_points(answer, "launch") if "breakdown" in answer else 0
    assert given == given_in_total("launch") == 30


def test_given_a_basket_when_the_operator_previews_it_then_the_answer_says_what_and_why_and_nothing_is_written(aws, api, members):
    _gas_station_rules(aws)
    _, body = members.verified()
    before = _every_item()
    basket = {"amount": 37_600, "currency": "CNY", "items": FUEL, "store_id": "station-1"}
    for who in ({"member_id": body["member"]["member_id"]}, {"tier": "gold"}):
        reply = api.post("/v1/admin/earn-preview", {**basket, **who})
        assert reply.status == 200, reply.text
        preview = reply.json()
        assert preview["points_earned"] == sum(b["points"] for b in preview["breakdown"]) and preview["written"] is False
    assert preview["points_earned"] == 564 + 450 + 20  # gold: 376 x 1.5, the 95 line doubled on that
    assert [i["sku"] for i in preview["items"]] == ["fuel-95", "fuel-92", "water"]
    assert api.post("/v1/admin/earn-preview", {**basket, "tier": "platinum"}).status == 400
    assert api.post("/v1/admin/earn-preview", {**basket, "tier": "gold", "amount": 1}).status == 422
    assert _every_item() == before
