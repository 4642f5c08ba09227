"""Points for actions other than purchases (issue 14, item 8; docs/actions.md).

- A store backend reports an action of a member (`POST /v1/actions`: a product review, a
  share, a survey...): the program's `action_rules` say what each type earns and how many a
  member may earn per day and per period. Exactly once per (store, event id), by the record put
  in the unit of work that awards the points (store/idempotency.py): a replay answers the first
  answer, another body under the same event id is 409 idempotency_conflict. An action past its
  limit is still recorded, with 0 points and `limit_reached` saying which limit.
- A member checks in from the app once a program-time day (`POST /v1/me/check-ins`): the
  rules' `check_in.points`, plus a streak bonus on the day the consecutive days reach one. A
  second check-in that day answers the first's result and awards nothing.

Every award is a ledger entry (kind `action` or `check_in`) and a lot, written in the same
transaction as the balance and the limit counters or check-in day, all on the member item and
conditioned on its version (domain/actions.py): racing requests cannot pass a limit or check in
twice. Action and check-in points count toward the balance, not toward tier qualification
(tiers reward spending, as operators' credits do).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ..api.schemas.actions import ActionRequest
from ..domain.actions import award_action, check_in, current_streak, next_streak_bonus
from ..domain.clock import iso, today_in, utcnow
from ..domain.errors import ActionNotOffered, NotFound
from ..domain.membership import require_may_earn
from ..domain.points import earn, lot_expires_on, month_key
from ..domain.rules import CHECK_IN, CheckInRule, ProgramRules
from ..observability import count, logger
from ..store import actions as store
from ..store.idempotency import Replay, existing_record, new_write_token, plain, put_record, replay
from ..store.ledger import ledger_entry, open_lot
from ..store.members import points_state, points_update, update_member
from ..store.models_engagement import ActionEvent
from ..store.parameters import load_rules
from ..store.unit_of_work import Cancelled, UnitOfWork, member_turn, run
from .common import Answer, activity_actions, created, fingerprint, replayed
from .merchants import Merchant
from .sessions import MemberSession, open_member

ACTION_KIND = "action"


def _not_offered(rules: ProgramRules, action_type: str) -> ActionNotOffered:
    offered = ", ".join(rule.type for rule in rules.action_rules) or "none"
    return ActionNotOffered(f"The program awards no points for actions of type {action_type!r} (its action types: {offered})")


def record_action(request: ActionRequest, merchant: Merchant) -> Answer:
    """201 with what the action earned; the same report again: 200 and the first answer; another
    body under the same event id: 409 idempotency_conflict; a type no rule names: 422
    action_not_offered; an unknown member: 404; frozen: 403 member_frozen; closed: 409."""
    rules = load_rules()
    store_id = merchant.store_for(request.store_id)
    occurred_at = iso(request.occurred_at) if request.occurred_at else None
    digest = fingerprint(
        {
            "store_id": store_id,
            "event_id": request.event_id,
            "member_id": request.member_id,
            "type": request.type,
            "occurred_at": occurred_at,
            "ref": request.ref,
        }
    )
    conflict = f"Event {request.event_id} was already reported with a different body"
    write_token = new_write_token()

    def explain(cancelled: Cancelled) -> Answer | None:
        earlier = existing_record(cancelled, "action", ActionEvent, store.action_key(store_id, request.event_id))
        return replayed(replay(earlier, digest, conflict, write_token)) if earlier is not None else None

    def attempt(uow: UnitOfWork) -> Answer:
        now = utcnow()
        today = today_in(rules.zone, now)
        member, earlier = store.member_and_action(request.member_id, store_id, request.event_id)
        if earlier is not None:
            # Answered from the record whatever became of the rules or the member since.
            return replayed(replay(earlier, digest, conflict, write_token))
        rule = rules.action_rule(request.type)
        if rule is None:
            raise _not_offered(rules, request.type)
        if member is None:
            raise NotFound("No member with that member_id")
        require_may_earn(member.status)
        award = award_action(rules, rule, store.action_counts(member), today)
        balance = int(member.balance)
        if award.points:
            month = month_key(today)
            state = earn(points_state(member), award.points, month, qualifying=False)
            balance = state.balance
            update_member(uow, member, points_update(state) + store.action_counts_update(award.counts) + activity_actions(member, rules, today))
            uow.put("ledger", ledger_entry(member.member_id, ACTION_KIND, award.points, balance, f"{rule.type}:{request.event_id}", now, lot=month))
            open_lot(uow, member.member_id, month, lot_expires_on(month, rules.points_validity_months), held=member.lots)
        # At a limit nothing of the member changes: the counters only grow within their day and
        # period, so the refusal cannot be overtaken by another request.
        body: dict[str, Any] = {
            "event_id": request.event_id,
            "store_id": store_id,
            "member_id": member.member_id,
            "type": rule.type,
            "label": rule.label,
            "points_awarded": award.points,
            "limit_reached": award.limit_reached,
            "balance": balance,
            "ref": request.ref,
            "occurred_at": occurred_at,
            "recorded_at": iso(now),
        }
        record = store.new_action(
            store_id,
            request.event_id,
            {"merchant_store": merchant.store_id, "member_id": member.member_id, "action_type": rule.type, "points": award.points},
            fingerprint=digest,
            write_token=write_token,
            response=body,
            now=now,
        )
        put_record(uow, "action", record)
        store.add_action_ref(uow, member.member_id, store_id, request.event_id)
        return uow.commit(explain) or created(body)

    # Awards for one member in this process take turns (store/unit_of_work.run), as purchases do.
    answer = run(attempt, one_at_a_time=member_turn(request.member_id))
    if answer.status == 201:
        body = answer.body
        count("ActionsRecorded")
        count("ActionPoints", body["points_awarded"])
        logged = {"member_id": body["member_id"], "type": body["type"], "points": body["points_awarded"], "limit_reached": body["limit_reached"]}
        logger.info("action recorded", extra={**logged, "store_id": store_id})
    return answer


# --- the daily check-in ---------------------------------------------------------------------


def _next_bonus(rule: CheckInRule, streak: int) -> dict[str, int] | None:
    ahead = next_streak_bonus(rule, streak)
    return None if ahead is None else {"days": ahead[0], "points": ahead[1], "check_ins_to_go": ahead[2]}


def check_in_today(session: MemberSession) -> Answer:
    """201 with today's check-in and what it earned; a second check-in the same program-time
    day: 200 and the first one's answer (nothing awarded again); check-in off: 422
    action_not_offered; frozen: 403 member_frozen."""
    rules = load_rules()
    write_token = new_write_token()

    def attempt(uow: UnitOfWork) -> Answer:
        now = utcnow()
        today = today_in(rules.zone, now)
        member = open_member(session)
        last = store.last_check_in(member)
        if last.get("on") == today.isoformat():
            # Today's check-in is done: its answer (this request's own, if its answer was lost).
            first = Replay(plain(last.get("answer") or {}), own_write=last.get("write_token") == write_token)
            return replayed(first)
        if not rules.check_in.enabled:
            raise ActionNotOffered("This program has no daily check-in")
        require_may_earn(member.status)
        last_on = date.fromisoformat(last["on"]) if last.get("on") else None
        made = check_in(rules.check_in, last_on, int(last.get("streak", 0)), today)
        month = month_key(today)
        state = earn(points_state(member), made.total, month, qualifying=False)
        body: dict[str, Any] = {
            "checked_in_on": today.isoformat(),
            "streak": made.streak,
            "points_awarded": made.total,
            "streak_bonus": made.streak_bonus,
            "balance": state.balance,
            "next_streak_bonus": _next_bonus(rules.check_in, made.streak),
            "checked_in_at": iso(now),
        }
        writes = store.check_in_update(today.isoformat(), made.streak, body, write_token) + activity_actions(member, rules, today)
        if made.total:
            writes += points_update(state)
            uow.put("ledger", ledger_entry(member.member_id, CHECK_IN, made.total, state.balance, f"check_in:{today.isoformat()}", now, lot=month))
            open_lot(uow, member.member_id, month, lot_expires_on(month, rules.points_validity_months), held=member.lots)
        update_member(uow, member, writes)
        uow.commit()  # the member changed meanwhile (another check-in?): read again and decide again
        return created(body)

    answer = run(attempt, one_at_a_time=member_turn(session.member_id))
    if answer.status == 201:
        count("CheckIns")
        count("CheckInPoints", answer.body["points_awarded"])
        logger.info("checked in", extra={"member_id": session.member_id, "streak": answer.body["streak"], "points": answer.body["points_awarded"]})
    return answer


def check_in_state(session: MemberSession) -> dict[str, Any]:
    """GET /v1/me/check-ins: whether the program offers the check-in and what it gives, today's
    state and the streak as it stands (one read of the member, which admits the token)."""
    rules = load_rules()
    member = open_member(session)
    today = today_in(rules.zone, utcnow())
    last = store.last_check_in(member)
    last_on = date.fromisoformat(last["on"]) if last.get("on") else None
    streak = current_streak(last_on, int(last.get("streak", 0)), today)
    rule = rules.check_in
    return {
        "enabled": rule.enabled,
        "today": today.isoformat(),
        "checked_in_today": last_on == today,
        "streak": streak,
        "last_check_in_on": last_on.isoformat() if last_on else None,
        "points_per_check_in": rule.points,
        "streak_bonuses": [{"days": days, "points": points} for days, points in rule.streak_bonuses.items()],
        "next_streak_bonus": _next_bonus(rule, streak) if rule.enabled else None,
    }
