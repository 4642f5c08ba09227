"""Paid membership (付费会员): a till records a plan it sold, a member buys one from the wallet,
renewals, refunds within the window, the tier it grants, and the `membership-plans` job that
ends plans and reminds members; replays, conflicts and bad input."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.plans import period_end
from chalicelib.domain.rules import MembershipPlan
from chalicelib.store import keys
from chalicelib.store.models_plans import PlanMembership
from chalicelib.store.models_wallet import Wallet
from localstage.job import run
from tests.integration.conftest import MERCHANT, bearer
from tests.support.books import balance_that_adds_up, stored_ledger, stored_member
from tests.support.outbox import messages
from tests.support.rules import set_rules

SHANGHAI = ZoneInfo("Asia/Shanghai")
PLUS = {
    "id": "plus",
    "name": "PLUS",
    "fee": 9900,
    "currency": "CNY",
    "period_months": 12,
    "tier": "gold",
    "refund_window_days": 7,
    "reminder_days_before_end": 7,
}
MONTHLY = {
    "id": "silver-month",
    "name": "Silver monthly",
    "fee": 1500,
    "currency": "CNY",
    "period_days": 30,
    "tier": "silver",
    "refund_window_days": 3,
    "reminder_days_before_end": 0,
}


def today() -> date:
    return datetime.now(SHANGHAI).date()


@pytest.fixture
def plans(aws: Any) -> None:
    set_rules(aws, plans=[PLUS, MONTHLY])


def till(api, payment_id: str, member_id: str, plan_id: str = "plus", **extra: Any):
    return api.post("/v1/memberships", {"payment_id": payment_id, "member_id": member_id, "plan_id": plan_id, **extra}, headers=MERCHANT)


def till_refund(api, membership_id: str, refund_id: str, headers: dict[str, str] | None = None):
    return api.post(f"/v1/memberships/{membership_id}/refunds", {"refund_id": refund_id}, headers=headers or MERCHANT)


def from_wallet(api, token: str, key: str, plan_id: str = "plus"):
    return api.post("/v1/me/memberships", {"plan_id": plan_id}, headers={**bearer(token), "Idempotency-Key": key})


def topup(api, member_id: str, amount: int, topup_id: str = "TU-1"):
    reply = api.post("/v1/wallet/topups", {"topup_id": topup_id, "member_id": member_id, "amount": amount, "currency": "CNY"}, headers=MERCHANT)
    assert reply.status == 201, reply.text


def problem(reply, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status, reply.text
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    body = reply.json()
    assert body["code"] == code
    return body


def me(api, token: str) -> dict[str, Any]:
    reply = api.get("/v1/me", headers=bearer(token))
    assert reply.status == 200, reply.text
    return reply.json()


def plan_entries(member_id: str) -> list[tuple[str, int, str]]:
    """The plan's history on the points ledger, oldest first: (kind, points, ref)."""
    entries = sorted(stored_ledger(member_id), key=lambda e: e.created_at)
    return [(e.kind, int(e.points), e.ref) for e in entries if e.kind.startswith("plan_")]


def member(members) -> tuple[str, str]:
    token, body = members.verified()
    return token, body["member"]["member_id"]


def backdate_purchase(membership_id: str, days: int) -> None:
    """The purchase was made `days` ago (the window is measured from its program date)."""
    item = PlanMembership.get(keys.membership_pk(membership_id), keys.MEMBERSHIP_SK, consistent_read=True)
    item.update(actions=[PlanMembership.purchased_on.set((today() - timedelta(days=days)).isoformat())])


# --- the rules -----------------------------------------------------------------------


def test_given_a_plan_whose_tier_is_not_in_the_program_then_the_rules_are_refused(aws):
    with pytest.raises(ValueError, match="platinum"):
        set_rules(aws, plans=[{**PLUS, "tier": "platinum"}])
    with pytest.raises(ValueError, match="exactly one of period_months or period_days"):
        set_rules(aws, plans=[{**PLUS, "period_days": 365}])
    with pytest.raises(ValueError, match="USD"):
        set_rules(aws, plans=[{**PLUS, "currency": "USD"}])
    with pytest.raises(ValueError, match="unique"):
        set_rules(aws, plans=[PLUS, PLUS])


# --- at the till -----------------------------------------------------------------------


def test_given_a_member_when_the_till_sells_plus_then_the_member_is_gold_for_a_year_and_the_ledger_says_so(api, members, plans):
    token, member_id = member(members)
    assert me(api, token)["plan"] is None

    reply = till(api, "PAY-1", member_id)

    assert reply.status == 201, reply.text
    body = reply.json()
    ends = period_end(MembershipPlan.model_validate(PLUS), today())
    assert body["membership_id"].startswith("msp_")
    assert (body["kind"], body["fee"], body["currency"], body["paid_by"], body["tier"]) == ("started", 9900, "CNY", "till", "gold")
    assert body["period"] == {"starts_on": today().isoformat(), "ends_on": ends.isoformat()}
    assert body["refundable_until"] == (today() + timedelta(days=7)).isoformat()
    view = me(api, token)
    assert view["tier"] == "gold"
    assert view["plan"] == {
        "plan_id": "plus",
        "name": "PLUS",
        "tier": "gold",
        "started_on": today().isoformat(),
        "ends_on": ends.isoformat(),
        "status": "active",
        "membership_id": body["membership_id"],
    }
    # Fees are money: the points balance is what it was, the plan's start is a 0-point entry.
    assert view["points"]["balance"] == 100 and balance_that_adds_up(member_id) == 100
    assert plan_entries(member_id) == [("plan_started", 0, body["membership_id"])]
    ledger = api.get("/v1/me/ledger", headers=bearer(token)).json()["items"]
    assert ledger[0]["kind"] == "plan_started" and ledger[0]["points"] == 0 and ledger[0]["balance_after"] == 100


def test_given_a_gold_plan_then_purchases_earn_at_the_gold_multiplier(api, members, plans):
    _, member_id = member(members)
    till(api, "PAY-1", member_id)
    reply = members.purchase("o-1", 10000, member_id=member_id)
    assert reply.json()["points_earned"] == 150 and reply.json()["tier"] == "gold"


def test_given_the_same_payment_id_again_then_the_first_answer_and_nothing_twice(api, members, plans):
    _, member_id = member(members)
    first = till(api, "PAY-1", member_id)
    again = till(api, "PAY-1", member_id)
    assert again.status == 200 and again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    problem(till(api, "PAY-1", member_id, plan_id="silver-month"), 409, "idempotency_conflict")
    assert len(plan_entries(member_id)) == 1
    assert stored_member(member_id).plan["ends_on"] == first.json()["period"]["ends_on"]


def test_given_a_running_plan_when_bought_again_then_it_is_renewed_from_the_current_end(api, members, plans):
    token, member_id = member(members)
    first = till(api, "PAY-1", member_id).json()
    second = till(api, "PAY-2", member_id)
    assert second.status == 201, second.text
    end = date.fromisoformat(first["period"]["ends_on"])
    renewal = second.json()
    assert renewal["kind"] == "renewed"
    assert renewal["period"] == {
        "starts_on": (end + timedelta(days=1)).isoformat(),
        "ends_on": period_end(MembershipPlan.model_validate(PLUS), end + timedelta(days=1)).isoformat(),
    }
    assert me(api, token)["plan"]["ends_on"] == renewal["period"]["ends_on"]
    assert plan_entries(member_id) == [("plan_started", 0, first["membership_id"]), ("plan_renewed", 0, renewal["membership_id"])]


def test_given_a_running_plan_when_another_plan_is_bought_then_409_and_nothing_changes(api, members, plans):
    token, member_id = member(members)
    till(api, "PAY-1", member_id)
    problem(till(api, "PAY-2", member_id, plan_id="silver-month"), 409, "invalid_state")
    assert me(api, token)["plan"]["plan_id"] == "plus"
    assert len(plan_entries(member_id)) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"payment_id": "P", "member_id": "mbr_x"}, "plan_id"),
        ({"payment_id": "P", "member_id": "mbr_x", "plan_id": "plus", "fee": 1}, "fee"),
        ({"payment_id": "P", "member_id": "mbr_x", "plan_id": "PLUS!"}, "plan_id"),
        ({"payment_id": "", "member_id": "mbr_x", "plan_id": "plus"}, "payment_id"),
    ],
)
def test_given_bad_input_then_400_naming_the_field(api, plans, body, field):
    reply = api.post("/v1/memberships", body, headers=MERCHANT)
    assert field in [e["field"] for e in problem(reply, 400, "validation_error")["errors"]]


def test_given_an_unknown_plan_member_or_key_then_a_clear_error(api, members, plans):
    _, member_id = member(members)
    problem(till(api, "PAY-1", member_id, plan_id="nope"), 404, "not_found")
    problem(till(api, "PAY-1", "mbr_unknown"), 404, "not_found")
    problem(api.post("/v1/memberships", {"payment_id": "P", "member_id": member_id, "plan_id": "plus"}), 401, "unauthorized")
    assert stored_member(member_id).plan is None


def test_given_a_frozen_member_then_no_plan_is_sold(api, members, plans):
    _, member_id = member(members)
    assert api.post(f"/v1/admin/members/{member_id}/freeze", {"reason": "fraud check"}).status == 200
    problem(till(api, "PAY-1", member_id), 403, "member_frozen")
    assert stored_member(member_id).plan is None


# --- from the wallet -------------------------------------------------------------------


def test_given_a_wallet_when_the_member_buys_plus_then_the_fee_and_the_plan_are_one_write(api, members, plans):
    token, member_id = member(members)
    topup(api, member_id, 20000)

    reply = from_wallet(api, token, "k-1")

    assert reply.status == 201, reply.text
    body = reply.json()
    assert (body["paid_by"], body["wallet_balance"], body["tier"]) == ("wallet", 10100, "gold")
    wallet = api.get("/v1/me/wallet", headers=bearer(token)).json()
    assert wallet["balance"] == 10100
    assert wallet["items"][0] | {"entry_id": None, "created_at": None} == {
        "entry_id": None,
        "created_at": None,
        "kind": "payment",
        "amount": -9900,
        "balance_after": 10100,
        "ref": body["membership_id"],
    }
    assert plan_entries(member_id) == [("plan_started", 0, body["membership_id"])]
    assert me(api, token)["points"]["balance"] == 100

    again = from_wallet(api, token, "k-1")
    assert again.status == 200 and again.json() == body
    problem(from_wallet(api, token, "k-1", plan_id="silver-month"), 409, "idempotency_conflict")
    assert api.get("/v1/me/wallet", headers=bearer(token)).json()["balance"] == 10100


def test_given_too_little_in_the_wallet_then_409_insufficient_funds_and_no_plan(api, members, plans):
    token, member_id = member(members)
    topup(api, member_id, 5000)
    problem(from_wallet(api, token, "k-1"), 409, "insufficient_funds")
    token2, member2 = member(members)
    problem(from_wallet(api, token2, "k-1"), 409, "insufficient_funds")  # no wallet at all
    assert me(api, token)["plan"] is None and me(api, token)["tier"] == "member"
    assert api.get("/v1/me/wallet", headers=bearer(token)).json()["balance"] == 5000
    assert plan_entries(member_id) == [] and plan_entries(member2) == []


def test_given_no_idempotency_key_or_token_then_400_or_401(api, members, plans):
    token, _ = member(members)
    reply = api.post("/v1/me/memberships", {"plan_id": "plus"}, headers=bearer(token))
    problem(reply, 400, "validation_error")
    assert api.post("/v1/me/memberships", {"plan_id": "plus"}, headers={"Idempotency-Key": "k"}).status == 401


# --- refunds -----------------------------------------------------------------------------


def test_given_a_till_sale_within_the_window_when_refunded_then_the_plan_ends_and_the_tier_goes_back(api, members, plans):
    token, member_id = member(members)
    sold = till(api, "PAY-1", member_id).json()

    reply = till_refund(api, sold["membership_id"], "RF-1")

    assert reply.status == 201, reply.text
    body = reply.json()
    assert (body["fee"], body["paid_by"], body["plan"], body["tier"]) == (9900, "till", None, "member")
    assert "wallet_balance" not in body
    view = me(api, token)
    assert view["plan"] is None and view["tier"] == "member"
    assert plan_entries(member_id) == [("plan_started", 0, sold["membership_id"]), ("plan_refunded", 0, sold["membership_id"])]
    assert stored_member(member_id).plan_end_bucket is None  # the job has nothing left to end

    again = till_refund(api, sold["membership_id"], "RF-1")
    assert again.status == 200 and again.json() == body
    problem(till_refund(api, sold["membership_id"], "RF-2"), 409, "idempotency_conflict")
    assert len(plan_entries(member_id)) == 2


def test_given_a_purchase_past_its_refund_window_then_409_refund_window_closed_and_nothing_changes(api, members, plans):
    token, member_id = member(members)
    sold = till(api, "PAY-1", member_id).json()
    backdate_purchase(sold["membership_id"], 8)

    body = problem(till_refund(api, sold["membership_id"], "RF-1"), 409, "refund_window_closed")

    assert (today() - timedelta(days=1)).isoformat() in body["detail"]
    assert me(api, token)["plan"]["status"] == "active" and me(api, token)["tier"] == "gold"
    assert len(plan_entries(member_id)) == 1


def test_given_a_renewal_when_it_is_refunded_then_the_end_goes_back_and_the_plan_runs_on(api, members, plans):
    token, member_id = member(members)
    first = till(api, "PAY-1", member_id).json()
    renewal = till(api, "PAY-2", member_id).json()
    problem(till_refund(api, first["membership_id"], "RF-0"), 409, "invalid_state")  # the later renewal first

    reply = till_refund(api, renewal["membership_id"], "RF-1")

    assert reply.status == 201, reply.text
    view = me(api, token)
    assert view["plan"]["ends_on"] == first["period"]["ends_on"] and view["plan"]["membership_id"] == first["membership_id"]
    assert view["tier"] == "gold"
    assert plan_entries(member_id)[-1] == ("plan_refunded", 0, renewal["membership_id"])


def test_given_another_stores_key_then_403_and_an_unknown_membership_404(api, members, plans, aws):
    _, member_id = member(members)
    sold = till(api, "PAY-1", member_id, store_id="sh-01").json()
    issued = api.post("/v1/admin/merchant-keys", {"store_id": "bj-02"})
    assert issued.status == 201, issued.text
    other = {"x-api-key": issued.json()["api_key"]}
    problem(till_refund(api, sold["membership_id"], "RF-1", headers=other), 403, "forbidden")
    problem(till_refund(api, "msp_unknown", "RF-1"), 404, "not_found")
    assert stored_member(member_id).plan is not None


def test_given_a_wallet_paid_plan_when_the_member_refunds_it_then_the_fee_goes_back_to_the_wallet(api, members, plans):
    token, member_id = member(members)
    topup(api, member_id, 20000)
    bought = from_wallet(api, token, "k-1").json()
    headers = {**bearer(token), "Idempotency-Key": "r-1"}

    reply = api.post(f"/v1/me/memberships/{bought['membership_id']}/refunds", None, headers=headers)

    assert reply.status == 201, reply.text
    assert reply.json()["wallet_balance"] == 20000
    wallet = api.get("/v1/me/wallet", headers=bearer(token)).json()
    assert wallet["balance"] == 20000
    assert (wallet["items"][0]["kind"], wallet["items"][0]["amount"], wallet["items"][0]["ref"]) == ("refund", 9900, bought["membership_id"])
    assert sum(e["amount"] for e in wallet["items"]) == 20000
    assert me(api, token)["plan"] is None and me(api, token)["tier"] == "member"
    again = api.post(f"/v1/me/memberships/{bought['membership_id']}/refunds", None, headers=headers)
    assert again.status == 200 and again.json() == reply.json()
    assert int(Wallet.get(keys.member_pk(member_id), keys.WALLET_SK).balance) == 20000


def test_given_a_till_paid_plan_then_the_member_cannot_refund_it_to_the_wallet_nor_another_members(api, members, plans):
    token, member_id = member(members)
    sold = till(api, "PAY-1", member_id).json()
    headers = {**bearer(token), "Idempotency-Key": "r-1"}
    problem(api.post(f"/v1/me/memberships/{sold['membership_id']}/refunds", None, headers=headers), 409, "invalid_state")
    other_token, _ = member(members)
    other = {**bearer(other_token), "Idempotency-Key": "r-1"}
    problem(api.post(f"/v1/me/memberships/{sold['membership_id']}/refunds", None, headers=other), 404, "not_found")
    assert me(api, token)["plan"]["status"] == "active"


# --- the membership-plans job -------------------------------------------------------------


def test_given_a_plan_when_its_last_day_has_passed_then_the_job_ends_it_once_and_the_tier_goes_back(api, members, plans, outbox_path):
    token, member_id = member(members)
    till(api, "PAY-1", member_id, plan_id="silver-month")
    ends = today() + timedelta(days=29)

    early = run("membership-plans", ends.isoformat(), False)
    assert early["members_affected"] == 0 and me(api, token)["tier"] == "silver"

    result = run("membership-plans", (ends + timedelta(days=1)).isoformat(), False)

    assert result["members_affected"] == 1
    view = me(api, token)
    assert view["plan"] is None and view["tier"] == "member"
    assert [k for k, _, _ in plan_entries(member_id)] == ["plan_started", "plan_lapsed"]
    assert balance_that_adds_up(member_id) == 100
    # The job runs at 00:10, in quiet hours: the service message waits for their end.
    assert result["messages_deferred"] == 1
    run("send-deferred", (ends + timedelta(days=1)).isoformat(), False)
    lapsed = [m for m in messages(outbox_path) if m["kind"] == "plan_lapsed"]
    assert len(lapsed) == 1 and "Silver monthly" in lapsed[0]["body"]

    again = run("membership-plans", (ends + timedelta(days=2)).isoformat(), False)
    assert again["members_affected"] == 0
    assert [k for k, _, _ in plan_entries(member_id)] == ["plan_started", "plan_lapsed"]


def test_given_a_member_who_earned_gold_during_a_silver_plan_then_the_lapse_keeps_gold(api, members, plans):
    token, member_id = member(members)
    till(api, "PAY-1", member_id, plan_id="silver-month")
    members.purchase("o-big", 1_000_000, member_id=member_id)  # 12,500 points at silver: gold
    assert me(api, token)["tier"] == "gold"
    run("membership-plans", (today() + timedelta(days=30)).isoformat(), False)
    assert me(api, token)["tier"] == "gold" and me(api, token)["plan"] is None


def test_given_a_plan_ending_in_7_days_then_one_service_reminder_without_marketing_consent(api, members, plans, outbox_path):
    _, member_id = member(members)  # no marketing consent: a plan reminder is a service message
    sold = till(api, "PAY-1", member_id).json()
    ends = date.fromisoformat(sold["period"]["ends_on"])
    day = (ends - timedelta(days=7)).isoformat()

    first = run("membership-plans", day, False)
    again = run("membership-plans", day, False)

    assert first["messages_deferred"] == 1  # quiet hours apply; consent and the marketing cap do not
    assert again["members_affected"] == 0
    run("send-deferred", day, False)
    reminders = [m for m in messages(outbox_path) if m["kind"] == "plan_reminder"]
    assert len(reminders) == 1 and ends.isoformat() in reminders[0]["body"]
    assert len(plan_entries(member_id)) == 1  # a reminder changes nothing on the books


def test_given_a_plan_renewed_before_its_end_then_the_job_neither_ends_nor_reminds_it_on_the_old_dates(api, members, plans):
    token, member_id = member(members)
    first = till(api, "PAY-1", member_id).json()
    till(api, "PAY-2", member_id)
    ends = date.fromisoformat(first["period"]["ends_on"])
    assert run("membership-plans", (ends - timedelta(days=7)).isoformat(), False)["members_affected"] == 0
    assert run("membership-plans", (ends + timedelta(days=1)).isoformat(), False)["members_affected"] == 0
    assert me(api, token)["plan"]["status"] == "active"


def test_given_plans_on_sale_then_the_program_lists_them_for_members_to_choose(api, aws):
    set_rules(aws, plans=[PLUS, {**MONTHLY, "on_sale": False}])
    listed = api.get("/v1/program").json()["plans"]
    assert listed == [
        {
            "plan_id": "plus",
            "name": "PLUS",
            "fee": 9900,
            "currency": "CNY",
            "period_months": 12,
            "period_days": None,
            "tier": "gold",
            "refund_window_days": 7,
        }
    ]


def test_given_a_plan_no_longer_on_sale_then_nobody_buys_it_and_who_holds_it_keeps_it(api, members, aws):
    set_rules(aws, plans=[PLUS])
    token, member_id = member(members)
    till(api, "PAY-1", member_id)
    set_rules(aws, plans=[{**PLUS, "on_sale": False}])
    problem(till(api, "PAY-2", member_id), 409, "invalid_state")
    assert me(api, token)["plan"]["status"] == "active" and me(api, token)["tier"] == "gold"


def test_given_a_running_gold_plan_then_the_yearly_review_never_drops_the_member_under_gold(api, members, plans):
    from datetime import UTC

    from chalicelib.store.models import Member

    token, member_id = member(members)
    till(api, "PAY-1", member_id)
    joined = datetime.now(UTC) - timedelta(days=365 * 2)
    joined_local = joined.astimezone(SHANGHAI).date()
    stored_member(member_id).update(
        actions=[
            Member.created_at.set(joined),
            Member.anniversary_bucket.set(keys.anniversary_bucket(joined_local.strftime("%m-%d"), keys.shard_of(member_id, 8))),
        ]
    )
    as_of = joined_local.replace(year=today().year)
    if as_of > today() + timedelta(days=31):
        as_of = as_of.replace(year=today().year - 1)

    result = run("tier-review", as_of.isoformat(), False)

    assert result["members_examined"] == 1  # few points (gold would drop to silver), but the plan is a floor
    assert me(api, token)["tier"] == "gold"


# --- closing the membership ends the plan ------------------------------------------------------


def close_me(api, token: str):
    return api.request("DELETE", "/v1/me", json_body={"reason": "moving"}, headers=bearer(token))


def test_given_a_till_sale_within_its_window_when_the_member_closes_then_the_plan_ends_and_the_store_owes_the_fee(api, members, plans):
    token, member_id = member(members)
    sold = till(api, "PAY-1", member_id).json()

    reply = close_me(api, token)

    assert reply.status == 200, reply.text
    assert plan_entries(member_id) == [("plan_started", 0, sold["membership_id"]), ("plan_ended", 0, sold["membership_id"])]
    stored = stored_member(member_id)
    assert stored.plan is None and stored.plan_end_bucket is None and stored.tier == "member"
    purchase = PlanMembership.get(keys.membership_pk(sold["membership_id"]), keys.MEMBERSHIP_SK, consistent_read=True)
    assert (purchase.refund_due, purchase.status) == ("till", "paid") and purchase.ended_at is not None
    assert balance_that_adds_up(member_id) == 100
    # The lapse job finds nothing left to end on the plan's last day
    run("membership-plans", (period_end(MembershipPlan.model_validate(PLUS), today()) + timedelta(days=1)).isoformat(), False)
    assert len(plan_entries(member_id)) == 2


def test_given_a_plan_past_its_window_when_an_operator_closes_the_member_then_it_ends_without_refund_and_the_audit_says_so(api, members, plans):
    _, member_id = member(members)
    sold = till(api, "PAY-1", member_id).json()
    backdate_purchase(sold["membership_id"], 8)

    reply = api.post(f"/v1/admin/members/{member_id}/close", {"reason": "asked by phone"})

    assert reply.status == 200, reply.text
    assert reply.json()["tier"] == "member"
    assert plan_entries(member_id)[-1] == ("plan_ended", 0, sold["membership_id"])
    purchase = PlanMembership.get(keys.membership_pk(sold["membership_id"]), keys.MEMBERSHIP_SK, consistent_read=True)
    assert purchase.refund_due is None and purchase.ended_at is not None
    today_audit = api.get(f"/v1/admin/audit?day={today().isoformat()}").json()["items"]
    (closing,) = [e for e in today_audit if e["action"] == "member.close" and e["target"]["id"] == member_id]
    assert closing["after"]["plan"] == {"membership_id": sold["membership_id"], "ended": "plan_ended", "refund_due": None}


def test_given_a_wallet_paid_plan_still_refundable_then_closing_is_409_and_nothing_changes_until_it_is_refunded(api, members, plans):
    token, member_id = member(members)
    topup(api, member_id, 9900)
    bought = from_wallet(api, token, "k-1").json()

    refused = problem(close_me(api, token), 409, "invalid_state")
    assert "refund it to the wallet" in refused["detail"]
    problem(api.post(f"/v1/admin/members/{member_id}/close", {"reason": "asked"}), 409, "invalid_state")
    assert me(api, token)["status"] == "active" and me(api, token)["plan"]["status"] == "active"
    assert plan_entries(member_id) == [("plan_started", 0, bought["membership_id"])]

    # Refunded to the wallet, and the wallet's money still blocks closing until it is paid out
    refund = api.post(f"/v1/me/memberships/{bought['membership_id']}/refunds", headers={**bearer(token), "Idempotency-Key": "r-1"})
    assert refund.status == 201, refund.text
    problem(close_me(api, token), 409, "invalid_state")


def test_given_a_wallet_paid_plan_past_its_window_and_an_empty_wallet_then_closing_ends_it(api, members, plans):
    token, member_id = member(members)
    topup(api, member_id, 9900)
    bought = from_wallet(api, token, "k-1").json()
    backdate_purchase(bought["membership_id"], 8)

    assert close_me(api, token).status == 200
    assert plan_entries(member_id)[-1] == ("plan_ended", 0, bought["membership_id"])
    assert stored_member(member_id).plan is None


def test_given_plan_purchases_and_a_refund_then_the_members_data_export_holds_them_without_a_scan(api, members, plans):
    token, member_id = member(members)
    _, other_id = member(members)
    sold = till(api, "PAY-1", member_id).json()
    renewed = till(api, "PAY-2", member_id).json()
    assert till_refund(api, renewed["membership_id"], "RF-1").status == 201
    till(api, "PAY-3", other_id)

    data = api.get("/v1/me/export", headers=bearer(token)).json()

    rows = {r["membership_id"]: r for r in data["plan_memberships"]}
    assert set(rows) == {sold["membership_id"], renewed["membership_id"]}
    assert (rows[sold["membership_id"]]["fee"], rows[sold["membership_id"]]["paid_by"], rows[sold["membership_id"]]["refund"]) == (9900, "till", None)
    assert rows[renewed["membership_id"]]["status"] == "refunded" and rows[renewed["membership_id"]]["refund"]["refund_id"] == "RF-1"
    assert "fingerprint" not in json.dumps(data) and "MEMBERSHIP#" not in json.dumps(data)
