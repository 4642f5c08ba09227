"""Purchases, refunds and redemptions: points as a member sees them."""

from chalicelib.store import keys
from chalicelib.store.models import LedgerEntry, Member, Reward
from tests.integration.conftest import MERCHANT, bearer


def _balance(api, token):
    return api.get("/v1/me", headers=bearer(token)).json()["points"]["balance"]


def _ledger(api, token):
    items, cursor = [], None
    while True:
        page = api.get("/v1/me/ledger?limit=2" + (f"&cursor={cursor}" if cursor else ""), headers=bearer(token)).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def test_given_a_member_when_a_purchase_is_reported_then_points_are_awarded_and_the_ledger_sums_to_the_balance(api, members):
    token, body = members.verified()
    reply = members.purchase("o-1", 12850, phone=body["member"]["phone"])
    assert reply.status == 201
    assert reply.json() == {
        "order_id": "o-1",
        "member_id": body["member"]["member_id"],
        "points_earned": 128,
        "balance": 228,
        "tier": "member",
    }
    ledger = _ledger(api, token)
    assert [e["kind"] for e in ledger] == ["earn", "bonus"]
    assert sum(e["points"] for e in ledger) == _balance(api, token) == 228
    assert ledger[0]["balance_after"] == 228 and ledger[0]["ref"] == "o-1"


def test_given_the_same_order_twice_then_200_with_the_identical_body_and_nothing_awarded_twice(api, members):
    token, body = members.verified()
    first = members.purchase("o-1", 12850, phone=body["member"]["phone"])
    again = members.purchase("o-1", 12850, phone=body["member"]["phone"])
    assert (first.status, again.status) == (201, 200)
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true" and "Idempotent-Replayed" not in first.headers
    assert _balance(api, token) == 228


def test_given_the_same_order_in_national_form_then_it_is_still_a_replay(api, members):
    _, body = members.verified()
    phone = body["member"]["phone"]
    members.purchase("o-1", 1000, phone=phone)
    assert members.purchase("o-1", 1000, phone=phone.removeprefix("+86")).status == 200


def test_given_the_same_order_id_with_another_amount_then_409_and_nothing_changes(api, members):
    token, body = members.verified()
    members.purchase("o-1", 12850, phone=body["member"]["phone"])
    conflict = members.purchase("o-1", 99999, phone=body["member"]["phone"])
    assert conflict.status == 409
    assert conflict.json()["code"] == "idempotency_conflict"
    assert _balance(api, token) == 228


def test_given_a_member_id_instead_of_a_phone_then_the_purchase_is_credited(api, members):
    token, body = members.verified()
    assert members.purchase("o-1", 500, member_id=body["member"]["member_id"]).status == 201
    assert _balance(api, token) == 105
    unknown = members.purchase("o-2", 500, member_id="mbr_0000000000000000")
    assert unknown.status == 404


def test_given_an_unknown_phone_then_a_pending_member_keeps_the_points_and_is_invited(api, members, outbox_path):
    from tests.support.outbox import last_code, messages

    phone = members.phone()
    reply = members.purchase("o-1", 30000, phone=phone)
    assert reply.status == 201
    assert reply.json()["points_earned"] == 300
    invite = messages(outbox_path)[-1]
    assert (invite["to"], invite["kind"]) == (phone, "invite")
    member = Member.get(keys.member_pk(reply.json()["member_id"]), keys.PROFILE)
    assert member.status == "pending"
    # "pay and you are a member": signing up with that phone finds the points
    assert api.post("/v1/signup", {"phone": phone, "name": "赵敏"}).status == 202
    verified = api.post("/v1/auth/verify", {"phone": phone, "code": last_code(outbox_path, phone)}).json()
    assert verified["member"]["member_id"] == reply.json()["member_id"]
    assert verified["member"]["name"] == "赵敏"
    assert verified["member"]["points"]["balance"] == 400


def test_given_purchases_crossing_2000_points_then_the_member_is_upgraded_on_that_purchase_and_earns_more_after(api, members):
    token, body = members.verified()
    phone = body["member"]["phone"]
    assert members.purchase("o-1", 199_900, phone=phone).json()["tier"] == "member"
    crossing = members.purchase("o-2", 100, phone=phone).json()
    assert (crossing["points_earned"], crossing["tier"]) == (1, "silver")
    after = members.purchase("o-3", 10000, phone=phone).json()
    assert after["points_earned"] == 125
    assert api.get("/v1/me", headers=bearer(token)).json()["tier"] == "silver"


def test_given_a_refund_of_part_of_an_order_then_points_come_back_in_proportion_once(api, members):
    token, body = members.verified()
    members.purchase("o-1", 10000, phone=body["member"]["phone"])
    refund = api.post("/v1/purchases/o-1/refunds", {"refund_id": "r-1", "amount": 2500}, headers=MERCHANT)
    assert refund.status == 201
    assert refund.json() == {"refund_id": "r-1", "order_id": "o-1", "points_reversed": 25, "balance": 175}
    again = api.post("/v1/purchases/o-1/refunds", {"refund_id": "r-1", "amount": 2500}, headers=MERCHANT)
    assert (again.status, again.json(), again.headers.get("Idempotent-Replayed")) == (200, refund.json(), "true")
    rest = api.post("/v1/purchases/o-1/refunds", {"refund_id": "r-2", "amount": 7500}, headers=MERCHANT)
    assert rest.json()["points_reversed"] == 75
    assert _balance(api, token) == 100
    ledger = _ledger(api, token)
    assert [e["points"] for e in ledger if e["kind"] == "refund"] == [-75, -25]
    assert sum(e["points"] for e in ledger) == 100


def test_given_refunds_beyond_the_purchase_amount_then_409_and_nothing_changes(api, members):
    token, body = members.verified()
    members.purchase("o-1", 10000, phone=body["member"]["phone"])
    assert api.post("/v1/purchases/o-1/refunds", {"refund_id": "r-1", "amount": 6000}, headers=MERCHANT).status == 201
    over = api.post("/v1/purchases/o-1/refunds", {"refund_id": "r-2", "amount": 5000}, headers=MERCHANT)
    assert over.status == 409
    assert over.json()["code"] == "refund_exceeds_purchase"
    assert _balance(api, token) == 140


def test_given_a_refund_id_reused_with_another_amount_then_409(api, members):
    _, body = members.verified()
    members.purchase("o-1", 10000, phone=body["member"]["phone"])
    api.post("/v1/purchases/o-1/refunds", {"refund_id": "r-1", "amount": 1000}, headers=MERCHANT)
    conflict = api.post("/v1/purchases/o-1/refunds", {"refund_id": "r-1", "amount": 2000}, headers=MERCHANT)
    assert conflict.status == 409
    assert conflict.json()["code"] == "idempotency_conflict"


def test_given_a_refund_for_an_unknown_order_then_404(api):
    reply = api.post("/v1/purchases/nope/refunds", {"refund_id": "r-1", "amount": 100}, headers=MERCHANT)
    assert reply.status == 404


def test_given_points_already_spent_when_the_purchase_is_refunded_then_the_balance_may_go_negative_as_documented(api, members):
    token, body = members.verified()
    members.purchase("o-1", 50000, phone=body["member"]["phone"])
    api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers={**bearer(token), "Idempotency-Key": "k"})
    refund = api.post("/v1/purchases/o-1/refunds", {"refund_id": "r-1", "amount": 50000}, headers=MERCHANT).json()
    assert refund["balance"] == -400
    assert sum(e["points"] for e in _ledger(api, token)) == -400


def test_given_enough_points_when_redeeming_then_a_coupon_is_issued_and_points_spent_once_per_key(api, members):
    token, body = members.verified()
    members.purchase("o-1", 50000, phone=body["member"]["phone"])
    headers = {**bearer(token), "Idempotency-Key": "3b1f-key"}
    first = api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers=headers)
    assert first.status == 201
    assert first.json()["points_spent"] == 500 and first.json()["balance"] == 100
    assert len(first.json()["coupon"]["code"]) == 10
    again = api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers=headers)
    assert (again.status, again.headers.get("Idempotent-Replayed"), again.json()) == (200, "true", first.json())
    other = api.post("/v1/me/redemptions", {"reward_id": "tote-bag"}, headers=headers)
    assert other.status == 409 and other.json()["code"] == "idempotency_conflict"
    assert _balance(api, token) == 100


def test_given_too_few_points_then_409_insufficient_points_and_nothing_spent(api, members):
    token, _ = members.verified()
    reply = api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers={**bearer(token), "Idempotency-Key": "k"})
    assert reply.status == 409 and reply.json()["code"] == "insufficient_points"
    assert _balance(api, token) == 100
    assert [e.kind for e in LedgerEntry.query(keys.member_pk(members_id(api, token)))] == ["bonus"]


def members_id(api, token):
    return api.get("/v1/me", headers=bearer(token)).json()["member_id"]


def test_given_a_limited_reward_when_its_stock_runs_out_then_409_out_of_stock(api, members):
    token, body = members.verified()
    members.purchase("o-1", 2_000_000, phone=body["member"]["phone"])
    reward = Reward.get(keys.REWARD_PK, keys.reward_sk("tote-bag"))
    reward.update(actions=[Reward.stock.set(1)])
    ok = api.post("/v1/me/redemptions", {"reward_id": "tote-bag"}, headers={**bearer(token), "Idempotency-Key": "a"})
    gone = api.post("/v1/me/redemptions", {"reward_id": "tote-bag"}, headers={**bearer(token), "Idempotency-Key": "b"})
    assert ok.status == 201
    assert gone.status == 409 and gone.json()["code"] == "out_of_stock"
    stock = api.get("/v1/rewards").json()["items"]
    assert next(r for r in stock if r["reward_id"] == "tote-bag")["stock"] == 0


def test_given_a_frozen_member_then_redemption_is_403_and_purchases_are_refused(api, members):
    token, body = members.verified()
    member = Member.get(keys.member_pk(body["member"]["member_id"]), keys.PROFILE)
    member.update(actions=[Member.status.set("frozen")])
    reply = api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers={**bearer(token), "Idempotency-Key": "k"})
    assert reply.status == 403 and reply.json()["code"] == "member_frozen"
    assert members.purchase("o-1", 1000, phone=body["member"]["phone"]).status == 403


def test_given_a_closed_member_then_their_token_no_longer_opens_anything(api, members):
    token, body = members.verified()
    member = Member.get(keys.member_pk(body["member"]["member_id"]), keys.PROFILE)
    member.update(actions=[Member.status.set("closed")])
    assert api.get("/v1/me", headers=bearer(token)).status == 401
    assert api.get("/v1/me/ledger", headers=bearer(token)).status == 401


def test_given_two_members_then_each_token_only_ever_shows_its_own_member(api, members):
    token_a, a = members.verified()
    token_b, b = members.verified()
    members.purchase("o-a", 10000, phone=a["member"]["phone"])
    assert api.get("/v1/me", headers=bearer(token_b)).json()["member_id"] == b["member"]["member_id"]
    assert [e["ref"] for e in _ledger(api, token_b)] == ["welcome"]
    # a cursor from A's ledger cannot page into it with B's token
    page = api.get("/v1/me/ledger?limit=1", headers=bearer(token_a)).json()
    leaked = api.get(f"/v1/me/ledger?limit=5&cursor={page['next_cursor']}", headers=bearer(token_b)).json()
    assert all(e["ref"] != "o-a" for e in leaked["items"])


def test_given_purchases_and_bonuses_then_me_shows_the_progress_to_the_next_tier_from_purchases_only(api, members):
    # Given a new member (100 welcome points, which never count) who buys for 1,500 points
    token, body = members.verified()
    assert body["member"]["tier_progress"] == {
        "qualifying_points": 0,
        "window_months": 12,
        "next_tier": "silver",
        "next_threshold": 2000,
        "points_needed": 2000,
    }
    members.purchase("o-1", 150000, phone=body["member"]["phone"])
    # When they read themselves, Then 500 more points from purchases reach silver
    progress = api.get("/v1/me", headers=bearer(token)).json()["tier_progress"]
    assert progress == {"qualifying_points": 1500, "window_months": 12, "next_tier": "silver", "next_threshold": 2000, "points_needed": 500}
    # And a purchase past gold's threshold leaves no next tier
    members.purchase("o-2", 1000000, phone=body["member"]["phone"])
    me = api.get("/v1/me", headers=bearer(token)).json()
    assert me["tier"] == "gold"
    assert me["tier_progress"] == {"qualifying_points": 11500, "window_months": 12, "next_tier": None, "next_threshold": None, "points_needed": None}
