"""Paid membership plans as the store keeps them: the plan a member holds (the member's `plan` map
and its sparse `members_by_plan_end` index key), one `PlanMembership` per purchase, and the
idempotency records of purchases and refunds (keys.py).

A plan changes only in a unit of work that updates the member (version-checked) and puts its
0-point ledger entry (store/ledger.py); a wallet-paid purchase or refund adds the wallet's write
and entry (store/wallet.py) to the same unit.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pynamodb.expressions.update import Action

from . import keys
from .members import member_shard
from .models import Member, Recording
from .models_plans import PlanMembership, PlanPaymentRecord, PlanRefundRecord
from .models_wallet import Wallet
from .reads import item_of, member_key, read_together, wallet_key
from .unit_of_work import UnitOfWork

# --- keys ------------------------------------------------------------------------------------


def membership_key(membership_id: str) -> tuple[str, str]:
    return keys.membership_pk(membership_id), keys.MEMBERSHIP_SK


def membership_refund_key(membership_id: str) -> tuple[str, str]:
    return keys.membership_pk(membership_id), keys.MEMBERSHIP_REFUND_SK


def till_payment_key(payment_id: str) -> tuple[str, str]:
    return keys.plan_payment_pk(payment_id), keys.PLANPAY_SK


def wallet_payment_key(member_id: str, idempotency_key: str) -> tuple[str, str]:
    return keys.member_pk(member_id), keys.plan_key_sk(idempotency_key)


# --- reads -----------------------------------------------------------------------------------


def read_for_purchase(record_key: tuple[str, str], member_id: str) -> tuple[PlanPaymentRecord | None, Member | None, Wallet | None]:
    """The purchase's record (if the id was used before), the member and their wallet: one
    strongly consistent batch read."""
    found = read_together([record_key, member_key(member_id), wallet_key(member_id)])
    return (
        item_of(PlanPaymentRecord, found.get(record_key)),
        item_of(Member, found.get(member_key(member_id))),
        item_of(Wallet, found.get(wallet_key(member_id))),
    )


def membership_and_refund(membership_id: str) -> tuple[PlanMembership | None, PlanRefundRecord | None]:
    """A purchase and the record of its refund (if refunded), one batch read."""
    bought, refund = membership_key(membership_id), membership_refund_key(membership_id)
    found = read_together([bought, refund])
    return item_of(PlanMembership, found.get(bought)), item_of(PlanRefundRecord, found.get(refund))


# --- writes ----------------------------------------------------------------------------------


def plan_actions(member: Member, holding: dict[str, Any] | None, ends_on: date | None, tier: str) -> list[Action]:
    """The member's writes for the plan it holds now (None: none), the index key of the day its
    period ends (moved only when that day changes), and the tier if it changes."""
    actions: list[Action] = []
    if holding is None:
        actions += [Member.plan.remove(), Member.plan_end_bucket.remove()]
    else:
        actions.append(Member.plan.set(holding))
        assert ends_on is not None
        bucket = keys.plan_end_bucket(ends_on.isoformat(), member_shard(member.member_id))
        if bucket != member.plan_end_bucket:
            actions.append(Member.plan_end_bucket.set(bucket))
    if tier != member.tier:
        actions.append(Member.tier.set(tier))
    return actions


def new_membership_id() -> str:
    import secrets

    return f"msp_{secrets.token_hex(8)}"


def add_membership(uow: UnitOfWork, membership_id: str, **fields: Any) -> None:
    """Put the purchase (never over another)."""
    item = PlanMembership(*membership_key(membership_id), membership_id=membership_id, **fields)
    uow.put("membership", item, PlanMembership.pk.does_not_exist())


def mark_refunded(uow: UnitOfWork, membership: PlanMembership, now: datetime) -> None:
    """The purchase is refunded: conditioned on its version and on not being refunded yet."""
    uow.update(
        "membership",
        membership,
        [PlanMembership.status.set("refunded"), PlanMembership.refunded_at.set(now)],
        PlanMembership.status == "paid",
    )


def mark_ended_on_closure(uow: UnitOfWork, membership: PlanMembership, now: datetime, refund_due: str | None) -> None:
    """The membership closed while this purchase's period ran: when, and who owes the fee back
    (None: nobody). Conditioned on its version and on not being refunded."""
    actions = [PlanMembership.ended_at.set(now)] + ([PlanMembership.refund_due.set(refund_due)] if refund_due else [])
    uow.update("membership", membership, actions, PlanMembership.status == "paid")


def new_payment_record(key: tuple[str, str], *, recording: Recording, **fields: Any) -> PlanPaymentRecord:
    """The idempotency record of a purchase: membership_id, member_id, store_id."""
    return PlanPaymentRecord.new(key, **recording, **fields)


def new_refund_record(membership_id: str, refund_id: str, *, recording: Recording) -> PlanRefundRecord:
    return PlanRefundRecord.new(membership_refund_key(membership_id), refund_id=refund_id, membership_id=membership_id, **recording)
