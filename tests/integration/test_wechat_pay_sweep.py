"""The wechat-pay-sweep job asks WeChat Pay about what its notifications did not settle: a top-up
paid whose notification was lost is credited once, an order never paid is closed, a refund WeChat
Pay never answered is asked again, a refund whose notification was lost is settled. The API and
the job in-process under moto, against the fake WeChat Pay on loopback, which checks our signed
requests and signs its answers."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from chalicelib.domain.clock import today_in, utcnow
from chalicelib.jobs.runner import run_now
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.parameters import load_rules
from chalicelib.store.wechat_pay import get_order
from chalicelib.usecases.wechat_pay_sweep import GRACE, sweep_open
from tests.integration import test_wechat_pay_refunds as refunds
from tests.integration.test_wallet import stored_balance
from tests.integration.test_wechat_pay import deliver, order, status_of, wechat_member

wxpay = refunds.wxpay
paid = refunds.paid
_bonus_rules = refunds._bonus_rules
refund, entries = refunds.refund, refunds.entries


def tomorrow() -> date:
    return today_in(load_rules().zone, utcnow()) + timedelta(days=1)


def sweep(as_of: date | None = None, *, dry_run: bool = False) -> dict[str, Any]:
    """The job as its schedule runs it (for a later day: everything opened before that day ends)."""
    summary = run_now("wechat-pay-sweep", as_of or tomorrow(), dry_run=dry_run)
    assert summary["failed"] == 0, summary
    return summary


def test_given_a_top_up_paid_whose_notification_was_lost_then_the_sweep_credits_it_once_with_its_bonus(api, wechat, wxpay):
    token, member_id = wechat_member(api)
    out_trade_no = order(api, token, 50000)["out_trade_no"]
    late_notification = wxpay.notification(out_trade_no)  # WeChat Pay took the money; its notification never came
    assert status_of(api, token, out_trade_no)["status"] == "created" and stored_balance(member_id) == 0

    first = sweep()

    assert first["wechat_pay"] == {"orders_credited": 1}
    assert status_of(api, token, out_trade_no)["status"] == "paid"
    assert stored_balance(member_id) == 55000
    assert entries(api, token) == [("bonus", 5000), ("topup", 50000)]
    # Settled: the next run asks nothing, and the notification arriving at last changes nothing
    asked = len(wxpay.requests_seen)
    assert sweep()["members_examined"] == 0 and len(wxpay.requests_seen) == asked
    assert deliver(api, late_notification).status == 204
    assert stored_balance(member_id) == 55000 and len(entries(api, token)) == 2


def test_given_a_fresh_order_then_the_sweep_leaves_it_to_its_notification_and_an_unpaid_one_waits_until_it_is_closed(api, wechat, wxpay):
    token, member_id = wechat_member(api)
    out_trade_no = order(api, token, 20000)["out_trade_no"]
    created = get_order(out_trade_no)
    assert created is not None
    shard = keys.shard_of(out_trade_no, get_settings().index_shards)

    # Within the grace period nobody asks: the notification usually comes within seconds
    assert sweep_open(shard, created.created_at + GRACE / 2) == {}
    assert wxpay.requests_seen.count(f"GET /v3/pay/transactions/out-trade-no/{out_trade_no}") == 0
    # Later, still not paid: asked, and it waits
    assert sweep_open(shard, created.created_at + GRACE * 2) == {"examined": 1, "orders_waiting": 1}
    assert status_of(api, token, out_trade_no)["status"] == "created"

    # Hours later (the next day's run): closed at WeChat Pay, so it can no longer be paid, and here
    assert sweep()["wechat_pay"] == {"orders_closed": 1}
    assert wxpay.orders[out_trade_no].trade_state == "CLOSED"
    assert status_of(api, token, out_trade_no)["status"] == "closed"
    assert stored_balance(member_id) == 0
    assert sweep()["members_examined"] == 0


def test_given_an_order_wechat_pay_never_received_then_the_sweep_closes_it_without_crediting(api, wechat, wxpay):
    token, member_id = wechat_member(api)
    out_trade_no = order(api, token, 20000)["out_trade_no"]
    del wxpay.orders[out_trade_no]  # its creation was lost on the way: WeChat Pay knows no such order

    assert sweep()["wechat_pay"] == {"orders_closed": 1}
    assert status_of(api, token, out_trade_no)["status"] == "closed" and stored_balance(member_id) == 0


def test_given_a_refund_wechat_pay_never_answered_then_the_sweep_asks_again_and_settles_it_when_its_notification_is_lost(api, wxpay, paid):
    token, member_id, out_trade_no = paid
    wxpay.fail_next_refund = (500, "SYSTEM_ERROR")
    assert refund(api, out_trade_no).status == 502
    assert wxpay.refunds == {} and stored_balance(member_id) == 0  # held, WeChat Pay has nothing

    assert sweep()["wechat_pay"] == {"refunds_asked": 1}
    ((out_refund_no, at_wechat_pay),) = wxpay.refunds.items()
    assert (at_wechat_pay.refund, at_wechat_pay.out_trade_no) == (50000, out_trade_no)
    assert refund(api, out_trade_no).json()["status"] == "processing"

    # Still processing at WeChat Pay: it waits
    assert sweep()["wechat_pay"] == {"refunds_waiting": 1}
    wxpay.refund_notification(out_refund_no)  # the refund succeeded; its notification never came

    assert sweep()["wechat_pay"] == {"refunds_succeeded": 1}
    assert status_of(api, token, out_trade_no)["status"] == "refunded"
    assert stored_balance(member_id) == 0 and len(entries(api, token)) == 4
    assert refund(api, out_trade_no).json()["status"] == "succeeded"
    assert len(wxpay.refunds) == 1 and sweep()["members_examined"] == 0


def test_given_a_refund_that_ended_abnormal_without_notification_then_the_sweep_gives_the_money_back_once(api, wxpay, paid):
    token, member_id, out_trade_no = paid
    out_refund_no = refund(api, out_trade_no).json()["out_refund_no"]
    late = wxpay.refund_notification(out_refund_no, status="ABNORMAL")

    assert sweep()["wechat_pay"] == {"refunds_failed": 1}
    assert stored_balance(member_id) == 55000
    assert entries(api, token)[0] == ("refund_returned", 55000)
    assert status_of(api, token, out_trade_no)["status"] == "paid"
    assert refunds.deliver_refund(api, late).status == 204
    assert stored_balance(member_id) == 55000 and len(entries(api, token)) == 5


def test_given_wechat_pay_unreachable_then_the_sweep_changes_nothing_and_the_next_run_completes(api, wechat, wxpay):
    token, member_id = wechat_member(api)
    out_trade_no = order(api, token, 50000)["out_trade_no"]
    wxpay.notification(out_trade_no)
    wxpay.stop()

    assert sweep()["wechat_pay"] == {"unanswered": 1}
    assert status_of(api, token, out_trade_no)["status"] == "created" and stored_balance(member_id) == 0

    wxpay.start()
    assert sweep()["wechat_pay"] == {"orders_credited": 1}
    assert stored_balance(member_id) == 55000


def test_a_dry_run_counts_what_is_open_and_asks_wechat_pay_nothing(api, wxpay, paid):
    token, _, out_trade_no = paid
    refund(api, out_trade_no)
    unpaid = order(api, token, 20000)["out_trade_no"]
    asked = len(wxpay.requests_seen)

    summary = sweep(dry_run=True)

    assert summary["wechat_pay"] == {"open_orders": 1, "open_refunds": 1}
    assert len(wxpay.requests_seen) == asked
    assert status_of(api, token, unpaid)["status"] == "created" and status_of(api, token, out_trade_no)["status"] == "refunding"
