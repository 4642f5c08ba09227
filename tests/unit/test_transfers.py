"""The transfer rules (domain/transfers.py): who may send, the limits, and where the points go."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chalicelib.domain.errors import InsufficientPoints, MemberFrozen, RecipientUnavailable, TransferLimit, TransfersClosed, TransferToSelf
from chalicelib.domain.points import PointsState
from chalicelib.domain.rules import DEFAULT_RULES, ProgramRules, TransferRules
from chalicelib.domain.transfers import SentToday, check_sender, may_receive, move_points

OPEN = TransferRules(enabled=True, min_points=10, max_points=100, max_points_per_day=150, max_transfers_per_day=3, min_balance_kept=5)
SENDER = PointsState(balance=120, lots={"2026-01": 20, "2026-03": 100})
RECEIVER = PointsState(balance=7, lots={"2026-11": 7})
TODAY = SentToday("2026-11-30")


def _move(points: int, sent: SentToday = TODAY, **kw: bool):
    return move_points(OPEN, SENDER, RECEIVER, points, sent, same_member=kw.get("same", False), receiver_ok=kw.get("ok", True))


def test_given_a_transfer_then_the_points_leave_the_oldest_lots_and_land_in_the_oldest_month_they_came_from():
    moved = _move(50)

    assert moved.sender == PointsState(balance=70, lots={"2026-03": 70})
    assert moved.lot == "2026-01"
    assert moved.receiver.balance == 57 and moved.receiver.lots == {"2026-11": 7, "2026-01": 50}
    assert moved.receiver.earned_months == {}  # received points never qualify for a tier
    assert moved.sent_today == SentToday("2026-11-30", 50, 1)


def test_given_each_limit_then_the_transfer_is_refused_with_its_reason():
    with pytest.raises(TransferToSelf):
        _move(50, same=True)
    with pytest.raises(RecipientUnavailable):
        _move(50, ok=False)
    with pytest.raises(TransferLimit, match="10 to 100"):
        _move(9)
    with pytest.raises(TransferLimit, match="10 to 100"):
        _move(101)
    with pytest.raises(TransferLimit, match="150 points a day"):
        _move(60, SentToday("2026-11-30", 100, 1))
    with pytest.raises(TransferLimit, match="3 transfers a day"):
        _move(10, SentToday("2026-11-30", 30, 3))
    with pytest.raises(TransferLimit, match="5 points must stay"):
        move_points(OPEN, PointsState(balance=104, lots={"2026-01": 104}), RECEIVER, 100, TODAY, same_member=False, receiver_ok=True)
    with pytest.raises(InsufficientPoints):
        move_points(OPEN, PointsState(balance=20, lots={"2026-01": 20}), RECEIVER, 30, TODAY, same_member=False, receiver_ok=True)


def test_given_yesterday_totals_then_today_starts_from_nothing():
    assert SentToday.of({"day": "2026-11-29", "points": 150, "transfers": 3}, "2026-11-30") == SentToday("2026-11-30")
    assert SentToday.of({"day": "2026-11-30", "points": 40, "transfers": 2}, "2026-11-30") == SentToday("2026-11-30", 40, 2)
    assert SentToday.of(None, "2026-11-30") == SentToday("2026-11-30")


def test_given_the_sender_then_off_frozen_and_tiers_refuse():
    with pytest.raises(TransfersClosed):
        check_sender(TransferRules(), "active", "member")
    with pytest.raises(MemberFrozen):
        check_sender(OPEN, "frozen", "member")
    with pytest.raises(TransfersClosed):
        check_sender(OPEN.model_copy(update={"sender_tiers": ("gold",)}), "active", "member")
    check_sender(OPEN, "active", "member")


def test_only_an_active_member_receives():
    assert may_receive("active", False)
    assert not may_receive("active", True)
    assert not any(may_receive(status, False) for status in ("pending", "frozen", "closed", None))


def test_given_inconsistent_transfer_rules_then_they_are_refused():
    with pytest.raises(ValidationError):
        TransferRules(min_points=10, max_points=5)
    with pytest.raises(ValidationError):
        TransferRules(max_points=100, max_points_per_day=50)
    with pytest.raises(ValidationError, match="unknown tiers"):
        ProgramRules.model_validate({**DEFAULT_RULES.model_dump(mode="json"), "transfers": {"sender_tiers": ["platinum"]}})
