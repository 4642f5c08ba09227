"""GET /v1/program shows members the rules; the promotions calendar changes what purchases earn."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib.store import keys
from chalicelib.store.models import LedgerEntry, Member
from tests.integration.conftest import MERCHANT
from tests.support.rules import set_rules

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _today() -> date:
    return datetime.now(SHANGHAI).date()


def _promotion(pid: str, start: date, end: date, multiplier: str = "2", weekdays: tuple[int, ...] = ()) -> dict:
    return {
        "id": pid,
        "name": f"Promotion {pid}",
        "starts_on": start.isoformat(),
        "ends_on": end.isoformat(),
        "multiplier": multiplier,
        "weekdays": list(weekdays),
    }


def _other_weekday(day: date) -> int:
    return day.isoweekday() % 7 + 1


def _earned(members, phone: str, order_id: str, amount: int = 10000) -> int:
    reply = members.purchase(order_id, amount, phone=phone)
    assert reply.status == 201, reply.text
    return reply.json()["points_earned"]


def _ledger_sum_is_balance(member_id: str) -> int:
    member = Member.get(keys.member_pk(member_id), keys.PROFILE, consistent_read=True)
    assert sum(int(e.points) for e in LedgerEntry.query(keys.member_pk(member_id), LedgerEntry.sk.startswith(keys.LEDGER_PREFIX))) == int(
        member.balance
    )
    return int(member.balance)


def test_given_the_default_rules_then_anyone_can_read_the_program_without_signing_in(api):
    reply = api.get("/v1/program")
    assert reply.status == 200
    assert reply.headers["Cache-Control"] == "public, max-age=60"
    program = reply.json()
    assert program["program_name"] == "Huiyuan"
    assert program["timezone"] == "Asia/Shanghai" and program["today"] == _today().isoformat()
    assert program["currencies"] == ["CNY"]
    assert program["earning"]["earn_rate"] == "1" and program["earning"]["promotion_multiplier_today"] == "1"
    assert program["tiers"] == [
        {"tier_id": "member", "name": "Member", "threshold": 0, "multiplier": "1"},
        {"tier_id": "silver", "name": "Silver", "threshold": 2000, "multiplier": "1.25"},
        {"tier_id": "gold", "name": "Gold", "threshold": 10000, "multiplier": "1.5"},
    ]
    assert program["tier_window_months"] == 12
    assert program["welcome"] == {"points": 100, "coupon": None}
    assert program["birthday"] == {"points": 200, "multiplier": "2", "coupon": None}
    assert program["referral"] == {"referrer_points": 200, "referee_points": 100}
    assert program["expiry"]["points_validity_months"] == 12
    assert program["coupon_valid_days"] == 30
    assert program["promotions"] == {"active": [], "upcoming": []}
    # Transfers (转赠) are off by default: an app shows no "Give points" until the operator opens them.
    assert program["transfers"] == {
        "enabled": False,
        "min_points": 1,
        "max_points": 10000,
        "max_points_per_day": 20000,
        "max_transfers_per_day": 10,
        "min_balance_kept": 0,
        "sender_tiers": [],
    }


def test_given_promotions_in_the_rules_then_the_program_shows_the_running_and_upcoming_ones_but_not_the_past(api, aws):
    today = _today()
    set_rules(
        aws,
        promotions=[
            _promotion("past", today - timedelta(days=30), today - timedelta(days=1)),
            _promotion("member-day", today - timedelta(days=7), today + timedelta(days=7), "2", (today.isoweekday(),)),
            _promotion("other-day", today, today + timedelta(days=7), "3", (_other_weekday(today),)),
            _promotion("next-month", today + timedelta(days=30), today + timedelta(days=31), "1.5"),
        ],
        welcome_coupon_reward_id="coffee",
    )
    program = api.get("/v1/program").json()
    active = {p["promotion_id"]: p for p in program["promotions"]["active"]}
    assert set(active) == {"member-day", "other-day"}
    assert (active["member-day"]["applies_today"], active["other-day"]["applies_today"]) == (True, False)
    assert active["member-day"]["weekdays"] == [today.isoweekday()] and active["member-day"]["multiplier"] == "2"
    assert [p["promotion_id"] for p in program["promotions"]["upcoming"]] == ["next-month"]
    assert program["promotions"]["upcoming"][0]["multiplier"] == "1.5"
    assert program["earning"]["promotion_multiplier_today"] == "2"
    assert program["welcome"]["coupon"] == {"reward_id": "coffee", "name": "免费咖啡 Free coffee"}


def test_given_a_promotion_today_then_a_purchase_earns_the_multiplied_points_and_the_ledger_still_sums(api, members, aws):
    today = _today()
    _, body = members.verified()
    phone = body["member"]["phone"]
    set_rules(aws, promotions=[_promotion("double", today, today, "2")])
    assert _earned(members, phone, "o-1") == 200
    assert _ledger_sum_is_balance(body["member"]["member_id"]) == 300


def test_given_a_promotion_on_another_weekday_or_already_over_then_purchases_earn_the_usual_points(api, members, aws):
    today = _today()
    _, body = members.verified()
    phone = body["member"]["phone"]
    set_rules(
        aws,
        promotions=[
            _promotion("other-day", today - timedelta(days=7), today + timedelta(days=7), "2", (_other_weekday(today),)),
            _promotion("over", today - timedelta(days=7), today - timedelta(days=1), "5"),
            _promotion("later", today + timedelta(days=1), today + timedelta(days=2), "5"),
        ],
    )
    assert _earned(members, phone, "o-1") == 100


def test_given_overlapping_promotions_then_the_highest_applies_and_they_do_not_stack(api, members, aws):
    today = _today()
    _, body = members.verified()
    set_rules(aws, promotions=[_promotion("double", today, today, "2"), _promotion("triple", today, today, "3")])
    assert _earned(members, body["member"]["phone"], "o-1") == 300


def test_given_a_silver_member_on_their_birthday_during_a_promotion_then_the_multipliers_multiply(api, members, aws):
    today = _today()
    born = "1992-02-29" if (today.month, today.day) == (2, 29) else today.replace(year=1990).isoformat()
    _, body = members.verified(birthday=born)
    member_id = body["member"]["member_id"]
    Member.get(keys.member_pk(member_id), keys.PROFILE).update(actions=[Member.tier.set("silver")])
    set_rules(aws, promotions=[_promotion("double", today, today, "2")])
    # 100.00 x 1 point x 1.25 (silver) x 2 (birthday) x 2 (promotion)
    assert _earned(members, body["member"]["phone"], "o-1") == 500
    assert _ledger_sum_is_balance(member_id) == 600


def test_given_a_purchase_earned_during_a_promotion_when_half_is_refunded_then_half_of_what_it_earned_comes_back(api, members, aws):
    today = _today()
    _, body = members.verified()
    set_rules(aws, promotions=[_promotion("double", today, today, "2")])
    _earned(members, body["member"]["phone"], "o-1")
    refund = api.post("/v1/purchases/o-1/refunds", {"refund_id": "r-1", "amount": 5000}, headers=MERCHANT)
    assert refund.json()["points_reversed"] == 100
    assert _ledger_sum_is_balance(body["member"]["member_id"]) == 200


def test_given_a_replayed_purchase_after_the_promotion_changed_then_the_first_answer_stands(api, members, aws):
    today = _today()
    _, body = members.verified()
    phone = body["member"]["phone"]
    set_rules(aws, promotions=[_promotion("double", today, today, "2")])
    first = members.purchase("o-1", 10000, phone=phone)
    set_rules(aws, promotions=[])
    replay = members.purchase("o-1", 10000, phone=phone)
    assert (replay.status, replay.json()) == (200, first.json())
    assert _ledger_sum_is_balance(body["member"]["member_id"]) == 300


def test_given_transfers_opened_with_limits_then_the_program_shows_them_for_the_app_to_state_before_a_member_gives(api, aws):
    limits = {"min_points": 10, "max_points": 500, "max_points_per_day": 800, "max_transfers_per_day": 3, "min_balance_kept": 50}
    set_rules(aws, transfers={"enabled": True, **limits, "sender_tiers": ["silver", "gold"]})

    program = api.get("/v1/program").json()

    assert program["transfers"] == {"enabled": True, **limits, "sender_tiers": ["silver", "gold"]}


def test_given_a_write_to_the_program_then_405(api):
    reply = api.post("/v1/program", {"program_name": "x"})
    assert reply.status == 405 and reply.json()["code"] == "method_not_allowed"
