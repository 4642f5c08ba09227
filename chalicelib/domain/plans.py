"""Paid membership (付费会员): the rules of a plan a member buys with money, pure (no AWS).

A member holds at most one plan at a time (`PlanHolding`, kept on the member): the plan's tier is
a floor while it runs, like an operator's override (rules.effective_tier). Periods are program
dates, `ends_on` inclusive:

- buying a plan while none runs starts it today; buying the same plan again while it runs renews
  it: the new period starts the day after the current end (a renewal never loses a paid day);
- buying another plan while one runs is refused (one plan at a time);
- a purchase is refundable while `today <= purchased_on + refund_window_days`, and only the
  latest purchase of the running plan (refund the renewal before the period it extends): a
  refunded renewal puts the end back where it was, a refunded start ends the plan at once;
- the day after `ends_on` the plan lapses (the `membership-plans` job) and the member's tier
  becomes what it would be without the plan (`tier_without_plan`).

Fees are money (minor units): nothing here touches points.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Literal

from .errors import InvalidState, NotFound, RefundWindowClosed
from .points import add_months

if TYPE_CHECKING:
    from .rules import MembershipPlan, ProgramRules

PlanEvent = Literal["plan_started", "plan_renewed", "plan_lapsed", "plan_refunded"]
PLAN_LEDGER_KINDS: tuple[str, ...] = ("plan_started", "plan_renewed", "plan_lapsed", "plan_refunded", "plan_ended")


@dataclass(frozen=True)
class PlanHolding:
    """The plan a member holds: which, the tier it grants, its current period's end (inclusive),
    the purchase that paid for the latest period, and the tier the member held before it began."""

    plan_id: str
    name: str
    tier: str
    started_on: date
    ends_on: date
    membership_id: str
    tier_before: str

    def runs_on(self, day: date) -> bool:
        return day <= self.ends_on

    def as_map(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "name": self.name,
            "tier": self.tier,
            "started_on": self.started_on.isoformat(),
            "ends_on": self.ends_on.isoformat(),
            "membership_id": self.membership_id,
            "tier_before": self.tier_before,
        }

    @classmethod
    def from_map(cls, value: dict[str, Any] | None) -> PlanHolding | None:
        if not value:
            return None
        return cls(
            plan_id=str(value["plan_id"]),
            name=str(value["name"]),
            tier=str(value["tier"]),
            started_on=date.fromisoformat(str(value["started_on"])),
            ends_on=date.fromisoformat(str(value["ends_on"])),
            membership_id=str(value["membership_id"]),
            tier_before=str(value["tier_before"]),
        )


def period_end(plan: MembershipPlan, starts_on: date) -> date:
    """The last day (inclusive) of a period of `plan` that starts on `starts_on`: 12 months from
    2026-11-30 end on 2027-11-29; a month that has no such day ends on its last day's eve."""
    if plan.period_days is not None:
        return starts_on + timedelta(days=plan.period_days - 1)
    assert plan.period_months is not None
    year, month = add_months(starts_on.year, starts_on.month, plan.period_months)
    day = starts_on.day
    while True:
        try:
            return date(year, month, day) - timedelta(days=1)
        except ValueError:  # 31 January + 1 month: no 31 February, the period ends on the last day
            day -= 1
            if day < 28:
                raise


@dataclass(frozen=True)
class PlanPurchase:
    """What buying a plan does: the event, the holding after it, the period it pays for, the end
    before it (None when it starts the plan) and whether an ended plan lapses first."""

    event: PlanEvent
    holding: PlanHolding
    period_starts_on: date
    previous_ends_on: date | None
    previous_membership_id: str | None
    lapses_first: PlanHolding | None


def buy(plan: MembershipPlan, held: PlanHolding | None, held_tier: str, membership_id: str, today: date) -> PlanPurchase:
    """Start or renew `plan` today; 409 invalid_state while another plan runs, or if the plan is not
    on sale. A plan that ended but was not yet lapsed by the job lapses in the same write."""
    if not plan.on_sale:
        raise InvalidState(f"The plan {plan.id} is no longer on sale")
    if held is not None and held.runs_on(today):
        if held.plan_id != plan.id:
            raise InvalidState(f"The member holds the plan {held.plan_id} until {held.ends_on.isoformat()}; another plan can be bought after it ends")
        starts = held.ends_on + timedelta(days=1)
        holding = replace(held, name=plan.name, tier=plan.tier, ends_on=period_end(plan, starts), membership_id=membership_id)
        return PlanPurchase("plan_renewed", holding, starts, held.ends_on, held.membership_id, None)
    # The tier held before: an ended plan's own tier_before (its floor still shows on the member).
    tier_before = held.tier_before if held is not None else held_tier
    holding = PlanHolding(plan.id, plan.name, plan.tier, today, period_end(plan, today), membership_id, tier_before)
    return PlanPurchase("plan_started", holding, today, None, None, held)


def refundable_until(purchased_on: date, window_days: int) -> date:
    """The last day a purchase made on `purchased_on` may be refunded."""
    return purchased_on + timedelta(days=window_days)


@dataclass(frozen=True)
class PlanRefund:
    """What refunding one purchase does: the holding after it (None: the plan ends now)."""

    holding: PlanHolding | None


def refund(
    held: PlanHolding | None,
    membership_id: str,
    previous_ends_on: date | None,
    previous_membership_id: str | None,
    purchased_on: date,
    window_days: int,
    today: date,
) -> PlanRefund:
    """Refund the purchase `membership_id`: 409 refund_window_closed after its window, 409
    invalid_state unless it paid for the latest period of the plan the member holds."""
    last_day = refundable_until(purchased_on, window_days)
    if today > last_day:
        raise RefundWindowClosed(f"The refund window of this membership closed on {last_day.isoformat()}")
    if held is None or held.membership_id != membership_id:
        raise InvalidState("Only the latest purchase of the plan the member holds can be refunded (refund a later renewal first)")
    if previous_ends_on is None or previous_membership_id is None or previous_ends_on < today:
        return PlanRefund(None)  # it started the plan (or what it extended is over): the plan ends now
    return PlanRefund(replace(held, ends_on=previous_ends_on, membership_id=previous_membership_id))


def tier_without_plan(rules: ProgramRules, held_tier: str, holding: PlanHolding, earned_tier: str, override: str | None) -> str:
    """The tier when a plan ends (lapsed or refunded): what the member held before it, or what
    their points earned since (`earned_tier`), whichever is higher, never under an operator's
    override, and never above the tier held now (a member who earned past the plan keeps it)."""
    before = holding.tier_before if rules.tier_rank(holding.tier_before) >= rules.tier_rank(earned_tier) else earned_tier
    without = rules.effective_tier(before, override)
    return without if rules.tier_rank(without) < rules.tier_rank(held_tier) else held_tier


def plan_status(holding: PlanHolding, today: date) -> str:
    """`active` while the period runs, `ended` once it is over (until the job lapses it)."""
    return "active" if holding.runs_on(today) else "ended"


def require_plan(rules: ProgramRules, plan_id: str) -> MembershipPlan:
    plan = rules.plan(plan_id)
    if plan is None:
        raise NotFound(f"No membership plan {plan_id}")
    return plan


@dataclass(frozen=True)
class ClosureEnding:
    """What closing a membership does to the plan it holds: `entry` the 0-point ledger kind
    (`plan_lapsed` for a period already over, else `plan_ended`) and `refund_due` who owes the
    member the fee of the latest purchase (`till`: the store that sold it, within its window;
    None: nobody)."""

    entry: str
    refund_due: str | None = None


def ending_on_closure(held: PlanHolding, paid_by: str, purchased_on: date, window_days: int, refunded: bool, today: date) -> ClosureEnding:
    """The plan ends with the membership (domain/membership.py: a closed member holds nothing).
    Within the latest purchase's refund window its fee is owed back: a wallet-paid one must go
    back to the wallet first (409 invalid_state: closure needs an empty wallet, and that refund
    is the member's own move), a till-paid one is left for the till (`refund_due`). Outside the
    window the plan ends without a refund, as if it had lapsed early."""
    if not held.runs_on(today):
        return ClosureEnding("plan_lapsed")  # over already; the job had not lapsed it yet
    if refunded or today > refundable_until(purchased_on, window_days):
        return ClosureEnding("plan_ended")
    if paid_by == "wallet":
        raise InvalidState(
            f"The {held.name} plan paid from the wallet can still be refunded (until "
            f"{refundable_until(purchased_on, window_days).isoformat()}): refund it to the wallet, then the wallet, "
            "before the membership can close"
        )
    return ClosureEnding("plan_ended", refund_due="till")
