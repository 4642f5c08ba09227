"""Paid membership (付费会员): buying a plan at the till or from the wallet, refunding a purchase.

Every purchase and refund is one unit of work (store/unit_of_work.py): its idempotency record (put
only if absent), the purchase (`PlanMembership`), the member's plan and tier (conditioned on the
member's version), a 0-point ledger entry (`plan_started`, `plan_renewed`, `plan_refunded`; a
plan that ended but was not yet lapsed by the job gets its `plan_lapsed` first) and, when the
wallet pays, the wallet's debit or credit with its wallet entry. Nothing is half done.

Two purchases for one member at once are serialised by the member's version: each one that is
paid (a distinct payment id or Idempotency-Key) extends the plan by its own period, from the end
the other left; the same id twice is one purchase (the second answers the first's answer).
The domain (domain/plans.py) decides periods, renewals, refunds and tiers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ..api.schemas.plans import MembershipRefundRequest, TillMembershipRequest
from ..api.schemas.views import plan_view
from ..domain.clock import iso, today_in, utcnow
from ..domain.errors import Forbidden, IdempotencyConflict, InsufficientFunds, InvalidState, MemberClosed, NotFound
from ..domain.membership import MAY_BE_REFUNDED, MAY_SIGN_IN, require_may_move_money
from ..domain.notices import with_notice
from ..domain.plans import ClosureEnding, PlanHolding, buy, ending_on_closure, refund, refundable_until, require_plan, tier_without_plan
from ..domain.points import qualifying_points
from ..domain.rules import MembershipPlan, ProgramRules
from ..domain.tiers import tier_for_points
from ..domain.wallet import NotEnoughFunds, credit, debit
from ..observability import count, logger
from ..store.idempotency import existing_record, new_write_token, put_record, replay
from ..store.ledger import ledger_entry
from ..store.members import as_dict, notices_update, points_state
from ..store.models import Member, Recording
from ..store.models_plans import PlanMembership, PlanPaymentRecord, PlanRefundRecord
from ..store.models_wallet import Wallet
from ..store.parameters import load_rules
from ..store.plans import (
    add_membership,
    mark_ended_on_closure,
    mark_refunded,
    membership_and_refund,
    membership_refund_key,
    new_membership_id,
    new_payment_record,
    new_refund_record,
    plan_actions,
    read_for_purchase,
    till_payment_key,
    wallet_payment_key,
)
from ..store.unit_of_work import Cancelled, UnitOfWork, member_turn, run
from ..store.wallet import add_wallet_entry, member_and_wallet, new_wallet_entry_ids, wallet_write
from .common import Answer, created, fingerprint, replayed
from .member_changes import JobContext, MemberChange, MemberResult, change_member
from .merchants import Merchant
from .sessions import MemberSession

TILL, WALLET = "till", "wallet"


def earned_tier(rules: ProgramRules, member: Member, today: date) -> str:
    """The tier the member's points earn them today (purchases in the qualifying window)."""
    return tier_for_points(rules, qualifying_points(points_state(member), today, rules.tier_window_months))


def _tier_after_ending(rules: ProgramRules, member: Member, ended: PlanHolding, today: date) -> str:
    return tier_without_plan(rules, member.tier, ended, earned_tier(rules, member, today), member.tier_override)


def _add_plan_entries(uow: UnitOfWork, member: Member, entries: list[tuple[str, str]], now: datetime) -> None:
    """0-point ledger entries (kind, ref): the plan's history on the member's own books."""
    for n, (kind, ref) in enumerate(entries):
        uow.put(f"ledger{n}", ledger_entry(member.member_id, kind, 0, int(member.balance), ref, now))


@dataclass(frozen=True)
class _Purchase:
    """One purchase, checked once before its attempts."""

    paid_by: str
    plan: MembershipPlan
    rules: ProgramRules
    member_id: str
    record_key: tuple[str, str]
    digest: str
    write_token: str
    conflict: str
    merchant: Merchant | None = None
    store_id: str | None = None
    payment_ref: str = ""

    def replay(self, record: PlanPaymentRecord) -> Answer:
        if self.merchant is not None and not self.merchant.acts_for(record.store_id):
            raise IdempotencyConflict(f"Payment id {self.payment_ref} is already in use; use another id")
        return replayed(replay(record, self.digest, self.conflict, self.write_token))

    def explain(self, cancelled: Cancelled) -> Answer | None:
        earlier = existing_record(cancelled, "record", PlanPaymentRecord, self.record_key)
        return self.replay(earlier) if earlier is not None else None


def _buy(purchase: _Purchase) -> Answer:
    rules, plan = purchase.rules, purchase.plan

    def attempt(uow: UnitOfWork) -> Answer:
        now = utcnow()
        today = today_in(rules.zone, now)
        record, member, wallet = read_for_purchase(purchase.record_key, purchase.member_id)
        if record is not None:
            return purchase.replay(record)
        if member is None:
            raise NotFound("No member with that member_id")
        require_may_move_money(member.status, "pay for a plan")
        membership_id = new_membership_id()
        held = PlanHolding.from_map(as_dict(member.plan))
        bought = buy(plan, held, member.tier, membership_id, today)
        entries: list[tuple[str, str]] = []
        base_tier = member.tier
        if bought.lapses_first is not None:
            entries.append(("plan_lapsed", bought.lapses_first.membership_id))
            base_tier = _tier_after_ending(rules, member, bought.lapses_first, today)
        entries.append((bought.event, membership_id))
        tier = rules.effective_tier(base_tier, member.tier_override, plan.tier)
        wallet_balance = None
        if purchase.paid_by == WALLET:
            wallet_balance = _pay_from_wallet(uow, member, wallet, plan, membership_id, now)
        plan_held = plan_view(bought.holding, today)
        body: dict[str, Any] = {
            "membership_id": membership_id,
            "member_id": member.member_id,
            "plan_id": plan.id,
            "name": plan.name,
            "kind": bought.event.removeprefix("plan_"),
            "fee": plan.fee,
            "currency": plan.currency,
            "paid_by": purchase.paid_by,
            "period": {"starts_on": bought.period_starts_on.isoformat(), "ends_on": bought.holding.ends_on.isoformat()},
            "refundable_until": refundable_until(today, plan.refund_window_days).isoformat(),
            "plan": plan_held,
            "tier": tier,
            "created_at": iso(now),
            **({"wallet_balance": wallet_balance} if wallet_balance is not None else {}),
        }
        recording = Recording(fingerprint=purchase.digest, write_token=purchase.write_token, response=body, now=now)
        record = new_payment_record(
            purchase.record_key, recording=recording, membership_id=membership_id, member_id=member.member_id, store_id=purchase.store_id
        )
        put_record(uow, "record", record)
        add_membership(
            uow,
            membership_id,
            member_id=member.member_id,
            plan_id=plan.id,
            name=plan.name,
            fee=plan.fee,
            currency=plan.currency,
            paid_by=purchase.paid_by,
            payment_ref=purchase.payment_ref,
            store_id=purchase.store_id,
            merchant_store=purchase.merchant.store_id if purchase.merchant else None,
            purchased_on=today.isoformat(),
            refund_window_days=plan.refund_window_days,
            period_starts_on=bought.period_starts_on.isoformat(),
            period_ends_on=bought.holding.ends_on.isoformat(),
            previous_ends_on=bought.previous_ends_on.isoformat() if bought.previous_ends_on else None,
            previous_membership_id=bought.previous_membership_id,
            created_at=now,
        )
        # The member's version is the condition: a status change, another purchase or any other
        # write since the read makes this attempt read again (and decide again).
        uow.update("member", member, plan_actions(member, bought.holding.as_map(), bought.holding.ends_on, tier))
        _add_plan_entries(uow, member, entries, now)
        return uow.commit(purchase.explain) or created(body)

    answer = run(attempt, one_at_a_time=member_turn(purchase.member_id))
    if not answer.replayed:
        count("PlanPurchases")
        count("PlanFees", answer.body["fee"])
        logger.info(
            "plan bought",
            extra={"member_id": answer.body["member_id"], "plan_id": plan.id, "kind": answer.body["kind"], "paid_by": purchase.paid_by},
        )
    return answer


def _pay_from_wallet(uow: UnitOfWork, member: Member, wallet: Wallet | None, plan: MembershipPlan, membership_id: str, now: datetime) -> int:
    """Debit the fee in the unit of work (never below zero, in the plan's currency); the balance after."""
    before = int(wallet.balance) if wallet else 0
    if wallet is not None and wallet.currency != plan.currency:
        raise InvalidState(f"The plan costs {plan.currency}; the wallet holds {wallet.currency}")
    try:
        balance = debit(before, plan.fee)
    except NotEnoughFunds:
        raise InsufficientFunds(f"The plan costs {plan.fee}; the wallet balance is {before}") from None
    assert wallet is not None
    wallet_write(uow, member.member_id, wallet, balance, plan.currency, now, debit=plan.fee)
    (entry_id,) = new_wallet_entry_ids(wallet, 1)
    add_wallet_entry(uow, "wallet_entry", member.member_id, entry_id, "payment", -plan.fee, balance, membership_id, now)
    return balance


def buy_plan_at_till(request: TillMembershipRequest, merchant: Merchant) -> Answer:
    """The till took the fee: record the plan for the member, once per payment id."""
    rules = load_rules()
    plan = require_plan(rules, request.plan_id)
    store_id = merchant.store_for(request.store_id)
    digest = fingerprint({"payment_id": request.payment_id, "member_id": request.member_id, "plan_id": request.plan_id, "store_id": request.store_id})
    purchase = _Purchase(
        TILL,
        plan,
        rules,
        request.member_id,
        till_payment_key(request.payment_id),
        digest,
        new_write_token(),
        f"Payment {request.payment_id} was already recorded with a different body",
        merchant=merchant,
        store_id=store_id,
        payment_ref=request.payment_id,
    )
    return _buy(purchase)


def buy_plan_from_wallet(session: MemberSession, idempotency_key: str, plan_id: str) -> Answer:
    """The member pays the plan's fee from their wallet: the debit and the plan in one transaction,
    once per Idempotency-Key. The token is admitted on the member read first."""
    session.check()  # the token, before anything else is said (a closed member learns nothing)
    rules = load_rules()
    plan = require_plan(rules, plan_id)
    purchase = _Purchase(
        WALLET,
        plan,
        rules,
        session.member_id,
        wallet_payment_key(session.member_id, idempotency_key),
        fingerprint({"plan_id": plan_id}),
        new_write_token(),
        "That Idempotency-Key was already used for another plan",
        payment_ref=idempotency_key,
    )
    return _buy(purchase)


# --- refunds ---------------------------------------------------------------------------------


def _refund(membership_id: str, refund_id: str, digest: str, check: Callable[[PlanMembership], None]) -> Answer:
    """Refund one purchase: the fee back (to the wallet, for a wallet-paid one; the till gives back
    what it took), the plan's end put back or the plan ended, its 0-point ledger entry.
    `check(membership)` refuses a caller who may not refund this purchase."""
    rules = load_rules()
    write_token = new_write_token()
    conflict = f"Membership {membership_id} was already refunded under another refund id"

    def explain(cancelled: Cancelled) -> Answer | None:
        earlier = existing_record(cancelled, "refund", PlanRefundRecord, membership_refund_key(membership_id))
        return replayed(replay(earlier, digest, conflict, write_token)) if earlier is not None else None

    def attempt(uow: UnitOfWork) -> Answer:
        now = utcnow()
        today = today_in(rules.zone, now)
        membership, done = membership_and_refund(membership_id)
        if membership is None:
            raise NotFound(f"No membership {membership_id}")
        check(membership)
        if done is not None:
            return replayed(replay(done, digest, conflict, write_token))
        member, wallet = member_and_wallet(membership.member_id)
        if member is None or member.status not in MAY_BE_REFUNDED:
            raise MemberClosed("The membership is closed: refund this plan by other means")
        held = PlanHolding.from_map(as_dict(member.plan))
        previous_ends_on = date.fromisoformat(membership.previous_ends_on) if membership.previous_ends_on else None
        after = refund(
            held,
            membership_id,
            previous_ends_on,
            membership.previous_membership_id,
            date.fromisoformat(membership.purchased_on),
            int(membership.refund_window_days),
            today,
        )
        assert held is not None  # refund() refuses a purchase of a plan the member does not hold
        tier = member.tier if after.holding is not None else _tier_after_ending(rules, member, held, today)
        fee, paid_by = int(membership.fee), membership.paid_by
        body: dict[str, Any] = {
            "refund_id": refund_id,
            "membership_id": membership_id,
            "member_id": member.member_id,
            "fee": fee,
            "currency": membership.currency,
            "paid_by": paid_by,
            "plan": plan_view(after.holding, today),
            "tier": tier,
            "created_at": iso(now),
        }
        if paid_by == WALLET:
            balance = credit(int(wallet.balance) if wallet else 0, fee)
            wallet_write(uow, member.member_id, wallet, balance, membership.currency, now)
            (entry_id,) = new_wallet_entry_ids(wallet, 1)
            add_wallet_entry(uow, "wallet_entry", member.member_id, entry_id, "refund", fee, balance, membership_id, now)
            body["wallet_balance"] = balance
        recording = Recording(fingerprint=digest, write_token=write_token, response=body, now=now)
        put_record(uow, "refund", new_refund_record(membership_id, refund_id, recording=recording))
        mark_refunded(uow, membership, now)
        holding = after.holding
        uow.update("member", member, plan_actions(member, holding.as_map() if holding else None, holding.ends_on if holding else None, tier))
        _add_plan_entries(uow, member, [("plan_refunded", membership_id)], now)
        return uow.commit(explain) or created(body)

    answer = run(attempt)
    if not answer.replayed:
        count("PlanRefunds")
        logger.info("plan refunded", extra={"member_id": answer.body["member_id"], "membership_id": membership_id, "paid_by": answer.body["paid_by"]})
    return answer


def refund_membership_at_till(membership_id: str, request: MembershipRefundRequest, merchant: Merchant) -> Answer:
    """A store's refund of a purchase within its window (the till gives back what it took; a
    wallet-paid one goes back to the wallet). Only a key of the store that sold it, or a
    brand-wide key, may refund it (a wallet-paid one: a brand-wide key)."""

    def check(membership: PlanMembership) -> None:
        if not merchant.acts_for(membership.store_id):
            raise Forbidden("Only the store that sold this membership may refund it")

    digest = fingerprint({"membership_id": membership_id, "refund_id": request.refund_id})
    return _refund(membership_id, request.refund_id, digest, check)


def refund_membership_to_wallet(session: MemberSession, membership_id: str, idempotency_key: str) -> Answer:
    """The member's own refund of a plan they paid from the wallet, within its window: the fee
    goes back to the wallet in the same transaction. A till-paid one is refunded at the till."""
    session.check()

    def check(membership: PlanMembership) -> None:
        if membership.member_id != session.member_id:
            raise NotFound(f"No membership {membership_id}")
        if membership.paid_by != WALLET:
            raise InvalidState("This membership was paid at a till: the store that sold it refunds it")

    digest = fingerprint({"membership_id": membership_id, "refund_id": idempotency_key})
    return _refund(membership_id, idempotency_key, digest, check)


# --- the `membership-plans` job, member by member (jobs/specs.py) ------------------------------


def lapse_ended_plan(member: Member, ctx: JobContext) -> MemberResult:
    """End the plan of a member whose period is over by the job's day: a `plan_lapsed` entry, the
    tier back to what it is without the plan, and a service message. Once: the plan is gone after."""
    return change_member(member, ctx, lambda current: _lapse(current, ctx))


def _lapse(member: Member, ctx: JobContext) -> MemberChange:
    change = MemberChange()
    held = PlanHolding.from_map(as_dict(member.plan))
    if held is None:
        return change.skipping("no_plan")
    if held.runs_on(ctx.as_of):
        return change.skipping("still_running")  # renewed since the index was read
    tier = _tier_after_ending(ctx.rules, member, held, ctx.as_of)
    change.actions += plan_actions(member, None, None, tier)
    change.entries.append(("plan_lapsed", 0, held.membership_id, None))
    if member.status in MAY_SIGN_IN:
        body = (
            f"[{ctx.rules.program_name}] Your {held.name} membership ended on {held.ends_on.isoformat()}. "
            f"Your tier is now {ctx.rules.tier(tier).name}."
        )
        # A service message about what the member paid for: no consent needed, outside the
        # marketing frequency cap, but never sent in quiet hours (it waits for their end).
        change.with_message(member, ctx, kind="plan_lapsed", body=body, consent_required=False, marketing=False)
        change.message_ref = f"plan-lapsed:{held.membership_id}"
    return change


def remind_plan_end(member: Member, ctx: JobContext, days: int) -> MemberResult:
    """Tell a member their plan ends in `days` days (the plan's `reminder_days_before_end`), once
    per period end; a service message, like the lapse's."""
    return change_member(member, ctx, lambda current: _reminder(current, ctx, days))


def _reminder(member: Member, ctx: JobContext, days: int) -> MemberChange:
    change = MemberChange()
    held = PlanHolding.from_map(as_dict(member.plan))
    if held is None or held.ends_on != ctx.as_of + timedelta(days=days):
        return change.skipping("not_due")  # renewed or refunded since the index was read
    plan = ctx.rules.plan(held.plan_id)
    if plan is None or plan.reminder_days_before_end != days:
        return change.skipping("not_due")
    if member.status not in MAY_SIGN_IN:
        return change.skipping(f"status_{member.status}")
    notice = f"plan:{held.membership_id}:{held.ends_on.isoformat()}"
    notices = as_dict(member.notices)
    if notice in notices:
        return change.skipping("already_reminded")
    body = (
        f"[{ctx.rules.program_name}] Your {held.name} membership ends on {held.ends_on.isoformat()}. "
        f"Renew it before then to keep your {ctx.rules.tier(held.tier).name} benefits without a break."
    )
    change.with_message(member, ctx, kind="plan_reminder", body=body, consent_required=False, marketing=False)
    if change.message:
        change.message_ref = notice
        change.actions += notices_update(with_notice(notices, notice, ctx.as_of))
    return change


# --- closing a membership (usecases/closure.py) -------------------------------------------------


@dataclass(frozen=True)
class PlanEnding:
    """What closing does to the plan held: the member's writes (no plan, the tier without it), and
    the writes beside the member's (the purchase marked, the 0-point ledger entry)."""

    actions: list[Any]
    membership: PlanMembership | None
    entry: str
    membership_id: str
    refund_due: str | None

    def write(self, uow: UnitOfWork, member: Member, now: datetime) -> None:
        if self.membership is not None and self.entry == "plan_ended":
            mark_ended_on_closure(uow, self.membership, now, self.refund_due)
        _add_plan_entries(uow, member, [(self.entry, self.membership_id)], now)

    def summary(self) -> dict[str, Any]:
        return {"membership_id": self.membership_id, "ended": self.entry, "refund_due": self.refund_due}


def plan_ending_on_closure(member: Member, rules: ProgramRules, now: datetime) -> PlanEnding | None:
    """The plan a closing member holds ends with the membership (domain/plans.ending_on_closure:
    409 invalid_state while a wallet-paid purchase can still be refunded); None: no plan."""
    held = PlanHolding.from_map(as_dict(member.plan))
    if held is None:
        return None
    today = today_in(rules.zone, now)
    membership, _ = membership_and_refund(held.membership_id)
    if membership is None:  # never: the plan names the purchase that paid for it
        ending = ClosureEnding("plan_ended")
    else:
        purchased_on, window = date.fromisoformat(membership.purchased_on), int(membership.refund_window_days)
        ending = ending_on_closure(held, membership.paid_by, purchased_on, window, membership.status != "paid", today)
    tier = _tier_after_ending(rules, member, held, today)
    return PlanEnding(plan_actions(member, None, None, tier), membership, ending.entry, held.membership_id, ending.refund_due)
