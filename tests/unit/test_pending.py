"""Pending points, pure (domain/pending.py): which purchases are held, until when, what a refund
cancels and what a release makes available."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from chalicelib.domain.pending import PendingState, cancel, hold, hold_days, release_day, release_due
from chalicelib.domain.points import PointsState
from chalicelib.domain.reconciliation import Holdings, drift
from chalicelib.domain.rules import DEFAULT_RULES, ProgramRules

DAY = date(2026, 11, 28)


def rules(*holds: dict) -> ProgramRules:
    return ProgramRules.model_validate({**DEFAULT_RULES.model_dump(mode="json"), "pending_points": list(holds)})


def test_given_the_default_rules_then_nothing_is_held():
    assert hold_days(DEFAULT_RULES, "online") == 0 and hold_days(DEFAULT_RULES, None) == 0
    assert release_day(DEFAULT_RULES, "online", DAY, PendingState()) is None


def test_given_a_channel_hold_and_a_default_then_each_channel_gets_its_own_else_the_default():
    r = rules({"channel": "online", "hold_days": 7}, {"hold_days": 2})
    assert (hold_days(r, "online"), hold_days(r, "app"), hold_days(r, "store"), hold_days(r, None)) == (7, 2, 2, 2)
    only_online = rules({"channel": "online", "hold_days": 7})
    assert (hold_days(only_online, "online"), hold_days(only_online, "store"), hold_days(only_online, None)) == (7, 0, 0)


def test_given_a_rule_document_with_two_holds_for_one_channel_or_a_bad_hold_then_it_is_refused():
    with pytest.raises(ValidationError, match="at most one hold per channel"):
        rules({"hold_days": 7}, {"hold_days": 3})
    with pytest.raises(ValidationError):
        rules({"channel": "online", "hold_days": 0})
    with pytest.raises(ValidationError):
        rules({"channel": "shop", "hold_days": 7})


def test_given_a_purchase_then_it_is_released_hold_days_later_but_never_on_a_day_already_released():
    r = rules({"channel": "online", "hold_days": 7})
    assert release_day(r, "online", DAY, PendingState()) == date(2026, 12, 5)
    # A job run ahead of the clock released up to 2026-12-10: a new hold goes after it.
    assert release_day(r, "online", DAY, PendingState(released_through="2026-12-10")) == date(2026, 12, 11)


def test_given_holds_then_a_refund_cancels_only_points_still_pending_and_never_more_than_held():
    state = hold(hold(PendingState(), date(2026, 12, 5), 100), date(2026, 12, 5), 50)
    assert (state.total, state.by_day) == (150, {"2026-12-05": 150})
    after, cancelled = cancel(state, "2026-12-05", 30)
    assert (cancelled, after.total, after.by_day) == (30, 120, {"2026-12-05": 120})
    after, cancelled = cancel(after, "2026-12-05", 500)
    assert (cancelled, after.total, after.by_day) == (120, 0, {})
    assert cancel(after, "2026-12-05", 10)[1] == 0


def test_given_pending_days_when_released_then_due_days_move_into_the_balance_in_their_month_and_a_second_release_does_nothing():
    state = hold(hold(PendingState(), date(2026, 11, 30), 40), date(2026, 12, 5), 60)
    release = release_due(state, PointsState(balance=10, lots={"2026-11": 10}), date(2026, 12, 1))
    assert release.released == [("2026-11-30", 40)] and release.total == 40
    assert release.points.balance == 50 and release.points.lots == {"2026-11": 50} and release.points.earned_months == {"2026-11": 40}
    assert release.pending == PendingState(total=60, by_day={"2026-12-05": 60}, released_through="2026-12-01")
    assert release_due(release.pending, release.points, date(2026, 12, 1)).released == []
    # Released: a refund now finds nothing pending for that day.
    assert not release.pending.is_pending("2026-11-30") and release.pending.is_pending("2026-12-05")


def test_given_a_negative_balance_when_points_are_released_then_they_pay_the_debt_first():
    release = release_due(hold(PendingState(), DAY, 100), PointsState(balance=-30), DAY)
    assert release.points.balance == 70 and release.points.lots == {"2026-11": 70}


def test_given_pending_changes_that_do_not_add_up_to_the_members_pending_points_then_reconciliation_reports_drift():
    books = Holdings("m", has_member=True, balance=0, pending_points=100)
    books.add_ledger_entry("earn_pending", 0, 0, pending=100)
    assert drift(books) == []
    books.add_ledger_entry("points_available", 100, 100, pending=-100)
    assert [d.check for d in drift(books)] == ["points_sum", "pending_sum"]


def test_given_a_referral_clawback_below_zero_then_it_is_no_drift_but_another_debit_there_is():
    books = Holdings("m", has_member=True, balance=-150)
    books.add_ledger_entry("earn", 50, 50)
    books.add_ledger_entry("referral_clawback", -200, -150)
    assert drift(books) == []
    books.add_ledger_entry("redeem", -10, -160)
    books.balance = -160
    assert "debit_below_zero" in [d.check for d in drift(books)]
