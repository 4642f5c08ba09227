"""Stamp cards over HTTP (issue 14 item 5): stamps for qualifying items, a reward coupon at N
stamps with the remainder carried over, stamps in GET /v1/me, refunds removing stamps, replays
adding nothing, and the rules validated."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import MERCHANT, bearer
from tests.support.rules import SUITE_RULES, set_rules

CARD = {"id": "coffee-card", "name": "Tenth coffee free", "categories": ["coffee"], "stamps_needed": 10, "reward_id": "coffee"}


def _coffee(quantity: int, sku: str = "latte", amount_each: int = 3_000) -> dict[str, Any]:
    return {"sku": sku, "category": "coffee", "quantity": quantity, "amount": quantity * amount_each}


def _buy(api: Any, order_id: str, member_id: str, items: list[dict[str, Any]] | None = None, **extra: Any) -> Any:
    body: dict[str, Any] = {"order_id": order_id, "member_id": member_id, "currency": "CNY", **extra}
    if items is not None:
        body["items"] = items
        body.setdefault("amount", sum(i["amount"] - i.get("discount", 0) for i in items))
    return api.post("/v1/purchases", body, headers=MERCHANT)


def _refund(api: Any, order_id: str, refund_id: str, **body: Any) -> Any:
    return api.post(f"/v1/purchases/{order_id}/refunds", {"refund_id": refund_id, **body}, headers=MERCHANT)


def _card(api: Any, token: str, card_id: str = "coffee-card") -> dict[str, Any]:
    me = api.get("/v1/me", headers=bearer(token)).json()
    return next(c for c in me["stamp_cards"] if c["card_id"] == card_id)


def _stamp_coupons(api: Any, token: str) -> list[dict[str, Any]]:
    return [c for c in api.get("/v1/me/coupons", headers=bearer(token)).json()["items"] if c["kind"] == "stamp_card"]


def _member(members: Any) -> tuple[str, str]:
    token, body = members.verified()
    return token, body["member"]["member_id"]


def test_given_a_ten_stamp_card_when_twelve_coffees_are_bought_then_one_coupon_is_issued_and_two_stamps_are_kept(aws, api, members):
    set_rules(aws, stamp_cards=[CARD])
    token, member_id = _member(members)
    assert _card(api, token) == {"card_id": "coffee-card", "name": "Tenth coffee free", "stamps": 0, "stamps_needed": 10, "reward_id": "coffee"}
    (listed,) = api.get("/v1/program").json()["stamp_cards"]
    assert listed["description"] == "1 stamp per item of category coffee bought (purchases reported with items); 10 stamps make a reward coupon"
    first = _buy(api, "o-1", member_id, [_coffee(7), {"sku": "cake", "category": "cake", "quantity": 3, "amount": 6_000}])
    assert first.status == 201, first.text
    assert first.json()["stamps"] == [{"card_id": "coffee-card", "added": 7, "stamps": 7, "coupons_issued": 0}]  # cakes do not stamp
    assert _stamp_coupons(api, token) == []
    second = _buy(api, "o-2", member_id, [_coffee(5, sku="americano")])
    assert second.json()["stamps"] == [{"card_id": "coffee-card", "added": 5, "stamps": 2, "coupons_issued": 1}]
    assert _card(api, token)["stamps"] == 2
    # The operator's dry run says what a basket would do to the card, and writes nothing.
    preview = api.post("/v1/admin/earn-preview", {"member_id": member_id, "amount": 27_000, "currency": "CNY", "items": [_coffee(9)]})
    assert preview.status == 200, preview.text
    assert preview.json()["stamps"] == [{"card_id": "coffee-card", "added": 9, "stamps": 1, "coupons_issued": 1}]
    assert _card(api, token)["stamps"] == 2
    (coupon,) = _stamp_coupons(api, token)
    assert coupon["reward_id"] == "coffee" and coupon["status"] == "available"
    # The coupon is a coupon like any other: the till redeems it once.
    used = api.post(f"/v1/coupons/{coupon['code']}/redemptions", {"redemption_id": "r-free-coffee"}, headers=MERCHANT)
    assert used.status == 201, used.text


def test_given_an_order_that_crosses_the_card_twice_then_it_issues_two_coupons(aws, api, members):
    set_rules(aws, stamp_cards=[CARD])
    token, member_id = _member(members)
    reply = _buy(api, "o-big", member_id, [_coffee(23)])
    assert reply.json()["stamps"] == [{"card_id": "coffee-card", "added": 23, "stamps": 3, "coupons_issued": 2}]
    assert len(_stamp_coupons(api, token)) == 2 and _card(api, token)["stamps"] == 3


def test_given_stamps_per_item_and_a_cap_per_order_then_an_order_adds_at_most_the_cap(aws, api, members):
    set_rules(aws, stamp_cards=[{**CARD, "skus": ["espresso"], "stamps_per_item": 2, "max_stamps_per_order": 5, "stamps_needed": 20}])
    _, member_id = _member(members)
    reply = _buy(api, "o-cap", member_id, [_coffee(2, sku="espresso"), {"sku": "tea", "category": "tea", "quantity": 1, "amount": 2_000}])
    assert reply.json()["stamps"][0]["added"] == 4  # 2 espressos x 2 stamps; the tea is neither coffee nor espresso
    reply = _buy(api, "o-cap2", member_id, [_coffee(3), _coffee(2, sku="espresso")])
    assert reply.json()["stamps"][0] == {"card_id": "coffee-card", "added": 5, "stamps": 9, "coupons_issued": 0}


def test_given_a_purchase_without_items_or_a_free_coffee_then_no_stamps_are_added(aws, api, members):
    set_rules(aws, stamp_cards=[CARD])
    token, member_id = _member(members)
    whole = _buy(api, "o-whole", member_id, amount=3_000)
    assert whole.json()["stamps"] == [{"card_id": "coffee-card", "added": 0, "stamps": 0, "coupons_issued": 0}]
    free = _buy(api, "o-free", member_id, [{**_coffee(1), "discount": 3_000}, {"sku": "cake", "category": "cake", "quantity": 1, "amount": 100}])
    assert free.status == 201 and free.json()["stamps"][0]["added"] == 0
    assert _card(api, token)["stamps"] == 0


def test_given_a_program_without_stamp_cards_then_answers_are_as_before(api, members):
    token, member_id = _member(members)
    reply = _buy(api, "o-plain", member_id, [_coffee(1)])
    assert "stamps" not in reply.json()
    assert api.get("/v1/me", headers=bearer(token)).json()["stamp_cards"] == []
    assert "stamps_removed" not in _refund(api, "o-plain", "rf-1", amount=3_000).json()


def test_given_a_replayed_purchase_then_it_adds_no_stamps_and_issues_no_coupon_twice(aws, api, members):
    set_rules(aws, stamp_cards=[CARD])
    token, member_id = _member(members)
    first = _buy(api, "o-r", member_id, [_coffee(11)])
    again = _buy(api, "o-r", member_id, [_coffee(11)])
    assert first.status == 201 and again.status == 200 and again.json() == first.json()
    assert _card(api, token)["stamps"] == 1 and len(_stamp_coupons(api, token)) == 1


def test_given_refunds_then_they_remove_the_stamps_the_refunded_part_added_never_below_zero(aws, api, members):
    set_rules(aws, stamp_cards=[CARD])
    token, member_id = _member(members)
    _buy(api, "o-a", member_id, [_coffee(4), _coffee(2, sku="mocha")])  # 6 stamps
    by_item = _refund(api, "o-a", "rf-a1", items=[{"sku": "mocha", "quantity": 1}])
    assert by_item.status == 201, by_item.text
    assert by_item.json()["stamps_removed"] == [{"card_id": "coffee-card", "removed": 1, "stamps": 5}]
    by_amount = _refund(api, "o-a", "rf-a2", amount=6_000)  # a third of the 18,000 order: 2 of its 6 stamps
    assert by_amount.json()["stamps_removed"] == [{"card_id": "coffee-card", "removed": 2, "stamps": 3}]
    replay = _refund(api, "o-a", "rf-a2", amount=6_000)
    assert replay.status == 200 and replay.json() == by_amount.json() and _card(api, token)["stamps"] == 3
    rest = _refund(api, "o-a", "rf-a3", amount=9_000)  # the rest of the order: all 6 stamps are gone
    assert rest.json()["stamps_removed"] == [{"card_id": "coffee-card", "removed": 3, "stamps": 0}]
    # A card whose stamps already made a coupon: the refund takes the count to zero, the coupon stays.
    _buy(api, "o-b", member_id, [_coffee(10)])
    assert _card(api, token)["stamps"] == 0 and len(_stamp_coupons(api, token)) == 1
    full = _refund(api, "o-b", "rf-b", amount=30_000)
    assert full.json()["stamps_removed"] == [{"card_id": "coffee-card", "removed": 10, "stamps": 0}]
    assert _stamp_coupons(api, token)[0]["status"] == "available"


def test_given_a_reward_no_longer_in_the_catalogue_then_the_card_keeps_its_stamps(aws, api, members):
    set_rules(aws, stamp_cards=[{**CARD, "reward_id": "no-such-reward"}])
    token, member_id = _member(members)
    reply = _buy(api, "o-gone", member_id, [_coffee(12)])
    assert reply.json()["stamps"] == [{"card_id": "coffee-card", "added": 12, "stamps": 12, "coupons_issued": 0}]
    assert _stamp_coupons(api, token) == []


def test_given_an_unknown_phone_then_the_pending_member_keeps_the_stamps(aws, api, members):
    set_rules(aws, stamp_cards=[CARD])
    phone = members.phone()
    reply = api.post(
        "/v1/purchases", {"order_id": "o-new", "phone": phone, "amount": 33_000, "currency": "CNY", "items": [_coffee(11)]}, headers=MERCHANT
    )
    assert reply.status == 201 and reply.json()["stamps"][0] == {"card_id": "coffee-card", "added": 11, "stamps": 1, "coupons_issued": 1}
    token, _ = members.verified(phone)
    assert _card(api, token)["stamps"] == 1 and len(_stamp_coupons(api, token)) == 1


def test_given_bad_stamp_cards_then_the_rules_are_refused_and_nothing_changes(api):
    before = api.get("/v1/admin/rules").json()["rules"]
    bad_cards = [
        [{**CARD, "categories": []}],  # selects nothing
        [{**CARD, "stamps_needed": 1}],
        [CARD, CARD],  # duplicate ids
        [{**CARD, "reward_id": "no-such-reward"}],  # not in the catalogue
    ]
    for cards in bad_cards:
        reply = api.request("PUT", "/v1/admin/rules", json_body={"rules": {**before, "stamp_cards": cards}, "reason": "bad"})
        assert reply.status == 400, reply.text
        assert reply.json()["code"] == "validation_error"
    assert api.get("/v1/admin/rules").json()["rules"] == before
    ok = api.request("PUT", "/v1/admin/rules", json_body={"rules": {**before, "stamp_cards": [CARD]}, "reason": "café card"})
    assert ok.status == 200, ok.text
    assert SUITE_RULES.stamp_cards == ()


def test_given_a_member_with_stamps_then_the_operator_member_view_shows_their_cards_and_a_retired_card_too(aws, api, members):
    espresso = {**CARD, "id": "espresso-card", "name": "Espresso card", "categories": ["espresso"], "stamps_needed": 5}
    set_rules(aws, stamp_cards=[CARD, espresso])
    _, member_id = _member(members)
    assert _buy(api, "op-view-1", member_id, [_coffee(3), {"sku": "e1", "category": "espresso", "quantity": 2, "amount": 2_000}]).status == 201

    seen = api.get(f"/v1/admin/members/{member_id}").json()
    assert seen["stamp_cards"] == [
        {"card_id": "coffee-card", "name": "Tenth coffee free", "stamps": 3, "stamps_needed": 10, "reward_id": "coffee"},
        {"card_id": "espresso-card", "name": "Espresso card", "stamps": 2, "stamps_needed": 5, "reward_id": "coffee"},
    ]
    assert seen["retired_stamp_cards"] == []

    set_rules(aws, stamp_cards=[CARD])  # the espresso card leaves the program; the member's stamps stay
    seen = api.get(f"/v1/admin/members/{member_id}").json()
    assert [c["card_id"] for c in seen["stamp_cards"]] == ["coffee-card"]
    assert seen["retired_stamp_cards"] == [{"card_id": "espresso-card", "stamps": 2}]
    found = api.get(f"/v1/admin/members?member_id={member_id}").json()["items"][0]
    assert (found["stamp_cards"], found["retired_stamp_cards"]) == (seen["stamp_cards"], seen["retired_stamp_cards"])


# --- stamps held with pending points ----------------------------------------------------------


def _release_day() -> str:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    return (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=7)).isoformat()


def test_given_an_online_hold_when_coffees_are_bought_online_then_their_stamps_wait_with_the_points_and_join_the_card_on_release(aws, api, members):
    from localstage.job import run

    set_rules(aws, stamp_cards=[CARD], pending_points=[{"channel": "online", "hold_days": 7}])
    token, member_id = _member(members)
    assert _buy(api, "in-store", member_id, [_coffee(8)], channel="store").status == 201  # available at once: 8 stamps

    reply = _buy(api, "online-1", member_id, [_coffee(5)], channel="online")

    assert reply.status == 201, reply.text
    assert reply.json()["stamps_pending"] == [{"card_id": "coffee-card", "stamps": 5, "available_on": _release_day()}]
    assert reply.json()["stamps"] == [{"card_id": "coffee-card", "added": 0, "stamps": 8, "coupons_issued": 0}]
    assert _card(api, token)["stamps"] == 8 and _stamp_coupons(api, token) == []  # 13 would have made a coupon
    me = api.get("/v1/me", headers=bearer(token)).json()
    assert me["stamps_pending"] == [{"card_id": "coffee-card", "stamps": 5, "available_on": _release_day()}]
    assert api.get(f"/v1/admin/members/{member_id}").json()["stamps_pending"] == me["stamps_pending"]  # operators see them too
    # A replay holds nothing twice
    assert _buy(api, "online-1", member_id, [_coffee(5)], channel="online").status == 200

    result = run("release-pending-points", _release_day(), False)

    assert result["members_affected"] == 1
    assert _card(api, token)["stamps"] == 3 and len(_stamp_coupons(api, token)) == 1
    assert api.get("/v1/me", headers=bearer(token)).json()["stamps_pending"] == []
    assert run("release-pending-points", _release_day(), False)["members_affected"] == 0  # exactly once
    assert len(_stamp_coupons(api, token)) == 1


def test_given_stamps_held_when_the_order_is_refunded_in_the_window_then_they_go_and_the_card_never_had_them(aws, api, members):
    from localstage.job import run

    set_rules(aws, stamp_cards=[CARD], pending_points=[{"channel": "online", "hold_days": 7}])
    token, member_id = _member(members)
    assert _buy(api, "in-store", member_id, [_coffee(2)], channel="store").status == 201
    assert _buy(api, "online-2", member_id, [_coffee(4)], channel="online").status == 201

    refund = _refund(api, "online-2", "rf-1", items=[{"sku": "latte", "quantity": 3}])

    assert refund.status == 201, refund.text
    assert refund.json()["stamps_removed"] == [{"card_id": "coffee-card", "removed": 3, "stamps": 2}]
    assert api.get("/v1/me", headers=bearer(token)).json()["stamps_pending"] == [
        {"card_id": "coffee-card", "stamps": 1, "available_on": _release_day()}
    ]
    assert _card(api, token)["stamps"] == 2  # the card's own stamps untouched

    run("release-pending-points", _release_day(), False)
    assert _card(api, token)["stamps"] == 3 and api.get("/v1/me", headers=bearer(token)).json()["stamps_pending"] == []
