"""Points transfer between members (转赠): from the caller's balance to the member holding a phone,
once per Idempotency-Key, never more than the sender holds (docs/transfers.md)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import Any

from ..domain.clock import iso, today_in, utcnow
from ..domain.errors import HuiyuanError, IdempotencyConflict
from ..domain.phones import phone_ending
from ..domain.points import lot_expires_on
from ..domain.transfers import SentToday, allowance, check_sender, may_receive, move_points
from ..observability import count, logger
from ..store import transfers
from ..store.idempotency import existing_record, new_write_token, put_record, replay
from ..store.ledger import ledger_entry, open_lot
from ..store.members import member_id_for_phone, points_state, points_update
from ..store.models_transfers import TransferRecord
from ..store.parameters import load_rules
from ..store.unit_of_work import Cancelled, UnitOfWork, run
from .common import Answer, activity_actions, created, fingerprint, phone_or_error, replayed
from .messaging import Planned, add_deferral, decide, deliver_now
from .sessions import MemberSession, open_member

CONFLICT = "That Idempotency-Key was already used for another transfer"


def transfer_allowance(session: MemberSession) -> dict[str, Any]:
    """What the caller may still send today (GET /v1/me/transfers/allowance): the program-time
    day's limits less the day's totals the transfers keep on the member, read as the next transfer
    would read them (one strongly consistent read of the member)."""
    rules = load_rules()
    member = open_member(session)
    now = utcnow()
    today = today_in(rules.zone, now)
    sent = SentToday.of(transfers.sent_today_of(member), today.isoformat())
    left = allowance(rules.transfers, sent, int(member.balance), str(member.status), str(member.tier))
    resets_at = datetime.combine(today + timedelta(days=1), time(), tzinfo=rules.zone)
    return {
        "day": today.isoformat(),
        "resets_at": resets_at.isoformat(),
        "may_send": left.may_send,
        "sent_today": {"points": sent.points, "transfers": sent.transfers},
        "left_today": {"points": left.points_left, "transfers": left.transfers_left},
        "most_points_now": left.most_points_now,
    }


def transfer_points(session: MemberSession, idempotency_key: str, to_phone: str, points: int, note: str | None) -> Answer:
    """Move `points` from the caller to the member holding `to_phone`.

    One unit of work: the sender (version-checked: a concurrent spend makes this attempt read
    again, so the balance can never be spent twice), the transfer record (absent: exactly once),
    both ledger entries, the receiver (version-checked) and its lot, and the receiver's notice
    when quiet hours hold it back. The same key again answers the same (common.replayed).
    """
    rules = load_rules()
    phone = phone_or_error(to_phone, rules, "to_phone")
    digest = fingerprint({"to_phone": phone, "points": points, "note": note})
    write_token = new_write_token()
    receiver_id = member_id_for_phone(phone)
    sender_id = session.member_id
    notice: list[Planned] = []

    def explain(cancelled: Cancelled) -> Answer | None:
        done = existing_record(cancelled, "record", TransferRecord, transfers.record_key(sender_id, idempotency_key))
        return replayed(replay(done, digest, CONFLICT, write_token)) if done is not None else None

    def attempt(uow: UnitOfWork) -> Answer:
        notice.clear()
        now = utcnow()
        today = today_in(rules.zone, now)
        found, earlier, receiver = transfers.transfer_reads(sender_id, idempotency_key, receiver_id)
        sender = session.admit(found)
        if earlier is not None:
            return replayed(replay(earlier, digest, CONFLICT, write_token))
        check_sender(rules.transfers, sender.status, sender.tier)
        receiver_ok = receiver is not None and may_receive(receiver.status, bool(receiver.erased))
        receiver_state = points_state(receiver) if receiver is not None else points_state(sender)
        sent_today = SentToday.of(transfers.sent_today_of(sender), today.isoformat())
        moved = move_points(
            rules.transfers,
            points_state(sender),
            receiver_state,
            points,
            sent_today,
            same_member=receiver_id == sender_id,
            receiver_ok=receiver_ok,
        )
        assert receiver is not None  # receiver_ok
        transfer_id = transfers.new_transfer_id()
        body: dict[str, Any] = {
            "transfer_id": transfer_id,
            "to_phone": phone_ending(phone),
            "points": points,
            "balance": moved.sender.balance,
            "note": note,
            "created_at": iso(now),
        }
        put_record(
            uow, "record", transfers.new_record(sender_id, idempotency_key, fingerprint=digest, write_token=write_token, response=body, now=now)
        )
        uow.update(
            "member",
            sender,
            points_update(moved.sender) + transfers.sent_today_update(moved.sent_today.as_stored()) + activity_actions(sender, rules, today),
        )
        uow.put("ledger_out", ledger_entry(sender_id, "transfer_out", -points, moved.sender.balance, transfer_id, now))
        uow.put("ledger_in", ledger_entry(receiver.member_id, "transfer_in", points, moved.receiver.balance, transfer_id, now, lot=moved.lot))
        open_lot(uow, receiver.member_id, moved.lot, lot_expires_on(moved.lot, rules.points_validity_months), held=receiver.lots)
        text = f"{rules.program_name}: you received {points} points from {phone_ending(sender.phone)}." + (f" “{note}”" if note else "")
        decision = decide(receiver, rules, now.astimezone(rules.zone), kind="points_received", body=text, consent_required=False, marketing=False)
        receiver_actions = points_update(moved.receiver) + decision.actions
        if decision.planned is not None and decision.planned.deferred:
            receiver_actions += add_deferral(uow, receiver, decision.planned, transfer_id)
        elif decision.planned is not None:
            notice.append(decision.planned)
            if decision.planned.message.channel in ("push", "wechat"):  # the SMS a failed push or WeChat message falls back to
                notice.append(Planned(replace(decision.planned.message, channel="sms", to=receiver.phone), now, deferred=False))
        uow.update("receiver", receiver, receiver_actions)
        answer = uow.commit(explain)
        if answer is not None:
            notice.clear()
            return answer
        return created(body)

    try:
        answer = run(attempt, one_at_a_time=sender_id)
    except IdempotencyConflict:
        raise
    except HuiyuanError as exc:
        count("TransfersRejected")
        logger.info("transfer refused", extra={"member_id": sender_id, "code": exc.code})
        raise
    # After the commit, best effort: the points moved either way. A service notice whose push
    # reached no device (all unusable) goes by SMS instead.
    if answer.status == 201 and not answer.replayed and notice and not deliver_now(notice[0], receiver_id) and len(notice) > 1:
        deliver_now(notice[1])
    if answer.status == 201:
        count("Transfers")
        count("PointsTransferred", points)
        logger.info("points transferred", extra={"member_id": sender_id, "points": points})
    return answer
