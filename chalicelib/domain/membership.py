"""The membership: its statuses, the transitions between them, what each status allows, and
closure (grace period, then erasure). Pure.

    pending --verify (SMS code)--> active <--unfreeze-- frozen
       |                             |  --freeze-->      |
       +------------ close ----------+-------------------+--> closed --restore (grace period)--> as before
                                                                 |
                                                     erase (after the grace period): final

- pending: enrolled (by a signup or a till's purchase), phone not yet proven; keeps points and
  stored value, cannot sign in until the SMS code comes back.
- active: may earn, spend, pay and be paid.
- frozen: an operator's hold: reads only; earns nothing and spends nothing (403 member_frozen),
  refunds still come back.
- closed: tokens refused, nothing earned or spent; erased after `closure_grace_days`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from .errors import AlreadyClosed, InvalidState, MemberClosed, MemberFrozen


class Status(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    FROZEN = "frozen"
    CLOSED = "closed"


# Who may take part in what (statuses as stored: plain strings, which a StrEnum equals).
MAY_SIGN_IN = frozenset({Status.PENDING, Status.ACTIVE, Status.FROZEN})
MAY_MOVE_MONEY = frozenset({Status.PENDING, Status.ACTIVE})  # top up and pay (a pending member holds a wallet)
MAY_BE_REFUNDED = frozenset({Status.PENDING, Status.ACTIVE, Status.FROZEN})
MAY_BE_REVIEWED = frozenset({Status.ACTIVE, Status.FROZEN})  # the yearly tier review


def is_closed(status: str) -> bool:
    return status == Status.CLOSED


def is_open(status: str | None) -> bool:
    """Not closed: the member's own routes answer (a closed membership's token is refused)."""
    return status is not None and status != Status.CLOSED


def admits_member_token(status: str | None, erased: bool, member_epoch: int, token_epoch: int) -> bool:
    """Whether a member's (verified) token still acts for them: the membership is open and not
    erased, and the token is from the member's current epoch (signing out starts the next one,
    so every token issued before stops working)."""
    return is_open(status) and not erased and member_epoch == token_epoch


def require_may_earn(status: str) -> None:
    """Purchases, bonuses: 403 member_frozen for a frozen member, 409 member_closed for a closed one."""
    if status == Status.FROZEN:
        raise MemberFrozen("The membership is frozen; no points can be awarded")
    if status == Status.CLOSED:
        raise MemberClosed("The membership is closed")


def require_may_spend(status: str) -> None:
    if status == Status.FROZEN:
        raise MemberFrozen("The membership is frozen; points cannot be spent")
    if status == Status.CLOSED:
        raise MemberClosed("The membership is closed")


def require_may_move_money(status: str, action: str) -> None:
    """A wallet top-up or payment: `action` completes "the wallet cannot ..."."""
    if status == Status.FROZEN:
        raise MemberFrozen(f"The membership is frozen; the wallet cannot {action}")
    if status not in MAY_MOVE_MONEY:
        raise MemberClosed("The membership is closed")


# --- transitions (operators: freeze, unfreeze, close, restore; the member: close) ------------


def activated(status: str) -> Status:
    """The phone came back proven (the SMS code): a pending member becomes active."""
    if status != Status.PENDING:
        raise InvalidState("Only a pending membership is activated")
    return Status.ACTIVE


def frozen(status: str) -> Status:
    if status == Status.CLOSED:
        raise MemberClosed("The membership is closed; restore it first")
    if status == Status.FROZEN:
        raise InvalidState("The membership is already frozen")
    return Status.FROZEN


def unfrozen(status: str, *, activated: bool) -> Status:
    """Back to active once verified, else to pending."""
    if status == Status.CLOSED:
        raise MemberClosed("The membership is closed; restore it first")
    if status != Status.FROZEN:
        raise InvalidState(f"The membership is not frozen (it is {status})")
    return Status.ACTIVE if activated else Status.PENDING


def closing(status: str) -> Status:
    if status == Status.CLOSED:
        raise AlreadyClosed("The membership is already closed")
    return Status.CLOSED


def restored(status: str, *, erased: bool, erase_at: datetime | None, before_close: str | None, now: datetime) -> Status:
    """The status a closed membership goes back to, within its grace period."""
    if erased:
        raise InvalidState("The membership was erased; it cannot be restored")
    if status != Status.CLOSED:
        raise InvalidState("The membership is not closed")
    if not restorable(status, erased, erase_at, now):
        raise InvalidState("The grace period is over; the membership is being erased")
    return Status(before_close or Status.ACTIVE)


# --- closure -----------------------------------------------------------------------------


def erase_after(closed_at: datetime, grace_days: int) -> datetime:
    return closed_at + timedelta(days=grace_days)


def erasure_day(erase_at: datetime, zone: ZoneInfo) -> date:
    """The program-time day the grace period ends: the erasure index bucket."""
    return erase_at.astimezone(zone).date()


def restorable(status: str, erased: bool, erase_at: datetime | None, now: datetime) -> bool:
    """A closed membership can be restored until its grace period ends (and never once erased)."""
    return status == Status.CLOSED and not erased and (erase_at is None or now < erase_at)


def due_for_erasure(status: str, erased: bool, erase_at: datetime | None, now: datetime) -> bool:
    return status == Status.CLOSED and not erased and erase_at is not None and erase_at <= now
