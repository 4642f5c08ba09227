"""Crediting or debiting points by hand: an `adjust` ledger entry like any other balance change,
once per `adjustment_id` (store/idempotency.py), never below zero, audited in the same unit of work.

A credit is a new lot (it expires like earned points) and does not count toward tier
qualification; a debit spends the oldest lots first.
"""

from __future__ import annotations

from typing import Any

from ...api.schemas.operators import AdjustmentRequest
from ...domain.clock import iso, today_in, utcnow
from ...domain.errors import InsufficientPoints, MemberClosed, NotFound
from ...domain.membership import is_closed
from ...domain.points import NotEnoughPoints, earn, lot_expires_on, month_key, spend
from ...observability import count, logger
from ...store.adjustments import adjustment_key, member_and_adjustment, new_adjustment
from ...store.idempotency import existing_record, new_write_token, put_record, replay
from ...store.ledger import ledger_entry, open_lot
from ...store.members import points_state, points_update
from ...store.models_admin import Adjustment
from ...store.parameters import load_rules
from ...store.unit_of_work import Cancelled, UnitOfWork, run
from ..audit import Change, add_audit
from ..common import Answer, created, fingerprint, replayed


def adjust_points(member_id: str, request: AdjustmentRequest, actor: str) -> Answer:
    """201 and the adjustment; the same adjustment again: its first answer (a replay); another
    under the same id: 409 idempotency_conflict; a debit below zero: 409 insufficient_points."""
    rules = load_rules()
    digest = fingerprint({"member_id": member_id, "points": request.points, "reason": request.reason})
    write_token = new_write_token()
    conflict = f"Adjustment {request.adjustment_id} was already made with different points or reason"

    def replay_from(cancelled: Cancelled) -> Answer | None:
        record = existing_record(cancelled, "adjustment", Adjustment, adjustment_key(member_id, request.adjustment_id))
        return replayed(replay(record, digest, conflict, write_token)) if record else None

    def attempt(uow: UnitOfWork) -> Answer:
        now = utcnow()
        member, earlier = member_and_adjustment(member_id, request.adjustment_id)
        if earlier is not None:
            return replayed(replay(earlier, digest, conflict, write_token))
        if member is None:
            raise NotFound(f"No member {member_id}")
        if is_closed(member.status):
            raise MemberClosed("The membership is closed")
        state = points_state(member)
        month = month_key(today_in(rules.zone, now))
        if request.points > 0:
            new_state = earn(state, request.points, month, qualifying=False)
        else:
            try:
                new_state = spend(state, -request.points)
            except NotEnoughPoints:
                raise InsufficientPoints(f"The balance is {state.balance}; it cannot go below zero") from None
        lot = month if request.points > 0 else None
        entry = ledger_entry(member_id, "adjust", request.points, new_state.balance, request.adjustment_id, now, lot=lot)
        body: dict[str, Any] = {
            "adjustment_id": request.adjustment_id,
            "member_id": member_id,
            "points": request.points,
            "balance": new_state.balance,
            "entry_id": entry.entry_id,
            "reason": request.reason,
            "created_at": iso(now),
        }
        put_record(
            uow,
            "adjustment",
            new_adjustment(member_id, request.adjustment_id, fingerprint=digest, write_token=write_token, response=body, now=now),
        )
        uow.update("member", member, points_update(new_state))
        uow.put("ledger", entry)
        if lot is not None:
            open_lot(uow, member_id, lot, lot_expires_on(lot, rules.points_validity_months), held=member.lots)
        change = Change(
            actor,
            "points.adjust",
            "member",
            member_id,
            {"balance": state.balance},
            {"balance": new_state.balance, "points": request.points},
            reason=request.reason,
            member_id=member_id,
            ref=request.adjustment_id,
        )
        add_audit(uow, change, rules, now)
        return uow.commit(explain=replay_from) or created(body)

    answer = run(attempt)
    if answer.status == 201:
        count("OperatorActions")
        logger.info("points adjusted", extra={"member_id": member_id, "points": request.points})
    return answer
