"""Pay-to-join's pure rules: what a store's payment notification says, and how a holding's points
join a member (domain/pay_to_join.py)."""

from __future__ import annotations

import pytest

from chalicelib.domain.pay_to_join import MalformedPayment, is_store_payment, join_points, store_for, store_payment
from chalicelib.domain.points import PointsState


def resource(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "sp_mchid": "1900000100",
        "sub_mchid": "1900000109",
        "sp_appid": "wx10ca1000000000a1",
        "transaction_id": "4200000000000000000000000001",
        "trade_state": "SUCCESS",
        "success_time": "2026-12-01T10:00:00+08:00",
        "payer": {"sp_openid": "o-payer"},
        "amount": {"total": 12800, "payer_total": 12800, "currency": "CNY"},
    }
    return {**base, **changes}


def test_given_a_paid_store_notification_then_the_payment_names_the_store_merchant_the_payer_and_the_amount():
    payment = store_payment("TRANSACTION.SUCCESS", resource())
    assert payment is not None
    assert (payment.sub_mchid, payment.openid, payment.amount, payment.currency) == ("1900000109", "o-payer", 12800, "CNY")
    assert is_store_payment(resource()) and not is_store_payment({"mchid": "1900000100"})


def test_given_a_refund_or_unpaid_state_then_there_is_no_payment_to_earn_on():
    assert store_payment("TRANSACTION.SUCCESS", resource(trade_state="REFUND")) is None
    assert store_payment("REFUND.SUCCESS", resource()) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"transaction_id": "42-00"},
        {"payer": {}},
        {"amount": {"total": "12800"}},
        {"amount": {"total": -1}},
        {"amount": {"total": 10**12 + 1}},
        {"sub_mchid": None},
        {"success_time": "soon"},
    ],
)
def test_given_a_paid_notification_missing_what_wechat_pay_always_sends_then_it_is_malformed(changes):
    with pytest.raises(MalformedPayment):
        store_payment("TRANSACTION.SUCCESS", resource(**changes))


def test_given_the_operators_mapping_then_only_a_mapped_sub_merchant_has_a_store():
    assert store_for({"1900000109": "store-1"}, "1900000109") == "store-1"
    assert store_for({"1900000109": "store-1"}, "1900000110") is None


def test_given_a_holding_with_two_months_of_points_then_they_join_the_member_month_by_month_and_the_holding_is_left_empty():
    holding = PointsState(balance=80, lifetime_earned=80, lots={"2026-11": 50, "2026-12": 30}, earned_months={"2026-11": 50, "2026-12": 30})
    member = PointsState(balance=-20, lifetime_earned=500, lots={}, earned_months={"2026-12": 100})

    joined = join_points(holding, member)

    assert joined.points == 80 and joined.months == (("2026-11", 50), ("2026-12", 30))
    assert (joined.holding.balance, joined.holding.lots) == (0, {})
    # a debt of the member's is paid first, as any earning pays it
    assert joined.member.balance == 60 and sum(joined.member.lots.values()) == 60
    assert joined.member.earned_months == {"2026-11": 50, "2026-12": 130}
