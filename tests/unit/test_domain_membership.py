"""The membership's statuses and transitions (chalicelib/domain/membership.py): what each status
may do, and what a member or an operator is told when it may not. (Closure's grace period and
erasure day: test_profile_rules.py.)"""

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.errors import AlreadyClosed, InvalidState, MemberClosed, MemberFrozen
from chalicelib.domain.membership import (
    Status,
    closing,
    erase_after,
    frozen,
    is_closed,
    is_open,
    require_may_earn,
    require_may_move_money,
    require_may_spend,
    restored,
    unfrozen,
)

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def refusal(check, *args, **kwargs):
    """The error type and the detail the caller reads."""
    with pytest.raises((MemberFrozen, MemberClosed, InvalidState, AlreadyClosed)) as refused:
        check(*args, **kwargs)
    return type(refused.value), refused.value.detail


@pytest.mark.parametrize("status", ["pending", "active"])
def test_given_a_pending_or_active_member_then_they_may_earn_spend_and_move_money(status):
    assert require_may_earn(status) is None
    assert require_may_spend(status) is None
    assert require_may_move_money(status, "pay") is None


def test_given_a_frozen_member_then_a_purchase_earns_nothing_and_the_till_is_told_why():
    assert refusal(require_may_earn, "frozen") == (MemberFrozen, "The membership is frozen; no points can be awarded")
    assert refusal(require_may_earn, "closed") == (MemberClosed, "The membership is closed")


def test_given_a_frozen_member_then_a_redemption_is_refused_and_the_member_is_told_why():
    assert refusal(require_may_spend, "frozen") == (MemberFrozen, "The membership is frozen; points cannot be spent")
    assert refusal(require_may_spend, "closed") == (MemberClosed, "The membership is closed")


def test_given_a_frozen_or_closed_member_then_the_wallet_neither_tops_up_nor_pays():
    assert refusal(require_may_move_money, "frozen", "pay") == (MemberFrozen, "The membership is frozen; the wallet cannot pay")
    assert refusal(require_may_move_money, "frozen", "be topped up") == (MemberFrozen, "The membership is frozen; the wallet cannot be topped up")
    assert refusal(require_may_move_money, "closed", "pay") == (MemberClosed, "The membership is closed")


def test_given_a_closed_membership_then_it_is_closed_and_not_open_and_no_status_is_not_open_either():
    assert is_closed("closed") and not is_open("closed")
    assert not is_closed("frozen") and is_open("frozen")
    assert is_open("pending") and is_open("active")
    assert not is_open(None)


@pytest.mark.parametrize("status", ["pending", "active"])
def test_given_an_open_membership_when_an_operator_freezes_it_then_it_is_frozen(status):
    assert frozen(status) is Status.FROZEN


def test_given_a_frozen_or_closed_membership_when_an_operator_freezes_it_then_they_are_told_why_not():
    assert refusal(frozen, "frozen") == (InvalidState, "The membership is already frozen")
    assert refusal(frozen, "closed") == (MemberClosed, "The membership is closed; restore it first")


def test_given_a_frozen_membership_when_unfrozen_then_a_verified_member_is_active_and_an_unverified_one_pending():
    assert unfrozen("frozen", activated=True) is Status.ACTIVE
    assert unfrozen("frozen", activated=False) is Status.PENDING


def test_given_a_membership_that_is_not_frozen_when_unfrozen_then_the_operator_is_told_its_status():
    assert refusal(unfrozen, "active", activated=True) == (InvalidState, "The membership is not frozen (it is active)")
    assert refusal(unfrozen, "pending", activated=False) == (InvalidState, "The membership is not frozen (it is pending)")
    assert refusal(unfrozen, "closed", activated=True) == (MemberClosed, "The membership is closed; restore it first")


@pytest.mark.parametrize("status", ["pending", "active", "frozen"])
def test_given_an_open_membership_when_closed_then_it_is_closed(status):
    assert closing(status) is Status.CLOSED


def test_given_a_closed_membership_when_closed_again_then_the_member_is_told_it_already_is():
    assert refusal(closing, "closed") == (AlreadyClosed, "The membership is already closed")


def test_given_a_closure_then_erasure_is_due_the_grace_period_later():
    assert erase_after(NOW, 30) == NOW + timedelta(days=30)
    assert erase_after(NOW, 0) == NOW


@pytest.mark.parametrize(
    ("before_close", "status"), [("active", Status.ACTIVE), ("frozen", Status.FROZEN), ("pending", Status.PENDING), (None, Status.ACTIVE)]
)
def test_given_a_closed_membership_within_its_grace_period_when_restored_then_it_is_as_before(before_close, status):
    assert restored("closed", erased=False, erase_at=NOW + timedelta(seconds=1), before_close=before_close, now=NOW) is status
    assert restored("closed", erased=False, erase_at=None, before_close=before_close, now=NOW) is status


def test_given_a_membership_that_cannot_be_restored_then_the_operator_is_told_why():
    assert refusal(restored, "closed", erased=True, erase_at=None, before_close="active", now=NOW) == (
        InvalidState,
        "The membership was erased; it cannot be restored",
    )
    assert refusal(restored, "active", erased=False, erase_at=None, before_close=None, now=NOW) == (InvalidState, "The membership is not closed")
    assert refusal(restored, "closed", erased=False, erase_at=NOW, before_close="active", now=NOW) == (
        InvalidState,
        "The grace period is over; the membership is being erased",
    )
