"""Points transfer between members (转赠): who may send, how much, and where the points go. Pure.

The points leave the sender's lots oldest first, as a redemption spends them, and reach the
receiver in one lot: that of the oldest month they came from. So a transfer never makes points
live longer than they would have with the sender (passing points back and forth cannot reset
their expiry), and the receiver's lot expires no later than the first of the sender's lots used.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import HuiyuanError, InsufficientPoints, RecipientUnavailable, TransferLimit, TransfersClosed, TransferToSelf
from .membership import Status, require_may_spend
from .points import NotEnoughPoints, PointsState, earn, spend
from .rules import TransferRules


@dataclass(frozen=True)
class SentToday:
    """What a member sent on one program-time day (the member's `transfers_sent`)."""

    day: str
    points: int = 0
    transfers: int = 0

    @classmethod
    def of(cls, stored: dict[str, object] | None, today: str) -> SentToday:
        """The day's totals as stored; nothing sent when they are from another day."""
        if not stored or stored.get("day") != today:
            return cls(today)
        return cls(today, int(str(stored.get("points", 0))), int(str(stored.get("transfers", 0))))

    def plus(self, points: int) -> SentToday:
        return SentToday(self.day, self.points + points, self.transfers + 1)

    def as_stored(self) -> dict[str, object]:
        return {"day": self.day, "points": self.points, "transfers": self.transfers}


@dataclass(frozen=True)
class Moved:
    sender: PointsState
    receiver: PointsState
    lot: str  # the receiver's lot month (domain doc above)
    sent_today: SentToday


def check_sender(rules: TransferRules, status: str, tier: str) -> None:
    """The program allows transfers, from this tier, and the sender may spend (not frozen)."""
    if not rules.enabled:
        raise TransfersClosed("The program does not allow points transfers")
    require_may_spend(status)
    if rules.sender_tiers and tier not in rules.sender_tiers:
        raise TransfersClosed("Members of this tier cannot transfer points")


@dataclass(frozen=True)
class Allowance:
    """What a member may still send on one program-time day: the day's limits less what the day's
    totals (`SentToday`) already used, and the most one transfer could move now."""

    sent_today: SentToday
    points_left: int
    transfers_left: int
    most_points_now: int
    may_send: bool


def allowance(rules: TransferRules, sent_today: SentToday, balance: int, status: str, tier: str) -> Allowance:
    """The day's allowance as `move_points` would judge the next transfer: the per-day points and
    count less what was sent, and the most one transfer may move (within the per-transfer limits,
    the day's points left and the balance less `min_balance_kept`; 0 when nothing can go)."""
    try:
        check_sender(rules, status, tier)
        may_send = True
    except HuiyuanError:
        may_send = False
    points_left = max(rules.max_points_per_day - sent_today.points, 0)
    transfers_left = max(rules.max_transfers_per_day - sent_today.transfers, 0)
    most = min(rules.max_points, points_left, balance - rules.min_balance_kept)
    if not may_send or transfers_left == 0 or most < rules.min_points:
        most = 0
    return Allowance(sent_today, points_left, transfers_left, most, may_send)


def may_receive(status: str | None, erased: bool) -> bool:
    """Only a verified, open, unfrozen member receives points."""
    return status == Status.ACTIVE and not erased


def move_points(
    rules: TransferRules, sender: PointsState, receiver: PointsState, points: int, sent_today: SentToday, *, same_member: bool, receiver_ok: bool
) -> Moved:
    """The sender's and receiver's points after moving `points`, within the limits, or the error
    that refuses it: to oneself, the recipient (one answer for every reason), the per-transfer,
    per-day and kept-balance limits, then the balance itself."""
    if same_member:
        raise TransferToSelf("Points cannot be transferred to your own membership")
    if not receiver_ok:
        raise RecipientUnavailable("This phone number cannot receive points")
    if points < rules.min_points or points > rules.max_points:
        raise TransferLimit(f"A transfer moves {rules.min_points} to {rules.max_points} points")
    after = sent_today.plus(points)
    if after.transfers > rules.max_transfers_per_day:
        raise TransferLimit(f"At most {rules.max_transfers_per_day} transfers a day")
    if after.points > rules.max_points_per_day:
        raise TransferLimit(f"At most {rules.max_points_per_day} points a day; {sent_today.points} sent today")
    try:
        spent = spend(sender, points)
    except NotEnoughPoints:
        raise InsufficientPoints(f"The balance is {sender.balance}") from None
    if spent.balance < rules.min_balance_kept:
        raise TransferLimit(f"At least {rules.min_balance_kept} points must stay in the balance")
    months = [month for month, held in sender.lots_oldest_first() if spent.lots.get(month, 0) < held]
    lot = months[0]
    return Moved(spent, earn(receiver, points, lot, qualifying=False), lot, after)
