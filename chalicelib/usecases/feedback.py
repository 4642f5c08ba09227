"""Feedback: members write in, operators answer, the member is told.

Each piece of feedback is written twice in one transaction: under the member
(`MEMBER#<id>` / `FEEDBACK#<id>`, their own list) and in the operators' queue
(`FEEDBACKQ#open` / `<id>`). Answering moves the queue entry from `open` to
`answered` and records the answer under the member, conditioned on the
feedback still being open, so an answer is recorded (and the member told) once.
Feedback text is personal: it never reaches the logs.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, TypedDict

from pynamodb.exceptions import DoesNotExist

from ..api.schemas.engagement import FeedbackRequest
from ..domain.clock import iso, utcnow
from ..domain.errors import IdempotencyConflict, InvalidState, NotFound, Unauthorized, ValidationFailed
from ..notify.sender import Message, send_best_effort
from ..observability import count, logger
from ..store import keys
from ..store.members import as_dict, get_member
from ..store.models import BaseItem, Order
from ..store.models_engagement import Feedback, FeedbackKey, FeedbackQueueEntry
from ..store.paging import decode_cursor, encode_cursor
from ..store.parameters import load_rules
from ..store.unit_of_work import Cancelled, Retryable, Transaction, with_retries
from .audit import Change as AuditChange
from .audit import add_audit
from .common import Answer as Outcome
from .common import fingerprint, plain

IDEMPOTENCY_KEY_MAX = 128


def new_feedback_id(now: datetime) -> str:
    """Sorts oldest first (milliseconds), unique by its random tail."""
    return f"fb_{int(now.timestamp() * 1000):013d}{secrets.token_hex(4)}"


def _answer_view(text: str | None, answered_at: datetime | None) -> dict[str, Any] | None:
    return {"text": text, "answered_at": iso(answered_at)} if text and answered_at else None


def feedback_view(item: Feedback) -> dict[str, Any]:
    return {
        "feedback_id": item.feedback_id,
        "category": item.category,
        "text": item.text,
        "order_id": item.order_id,
        "status": item.status,
        "created_at": iso(item.created_at),
        "answer": _answer_view(item.answer, item.answered_at),
    }


def queue_view(entry: FeedbackQueueEntry, status: str) -> dict[str, Any]:
    return {
        "feedback_id": entry.feedback_id,
        "member_id": entry.member_id,
        "category": entry.category,
        "text": entry.text,
        "order_id": entry.order_id,
        "status": status,
        "created_at": iso(entry.created_at),
        "answer": _answer_view(entry.answer, entry.answered_at),
    }


def _open_member(member_id: str) -> None:
    member = get_member(member_id)
    if member is None or member.status == "closed":
        raise Unauthorized("The membership is closed")


def _check_order(member_id: str, order_id: str) -> None:
    """The order must be one of the member's own (the same answer whether it exists or not)."""
    try:
        order = Order.get(keys.order_pk(order_id), keys.ORDER_SK)
    except DoesNotExist:
        order = None
    if order is None or order.member_id != member_id:
        raise ValidationFailed.single("order_id", "no order of yours has this id")


class _FeedbackFields(TypedDict):
    """What the member wrote: the same on their copy and on the queue entry."""

    feedback_id: str
    member_id: str
    category: str
    text: str
    order_id: str | None
    created_at: datetime


def submit_feedback(member_id: str, request: FeedbackRequest, idempotency_key: str | None) -> Outcome:
    """POST /v1/me/feedback: 201 with the new feedback; with an Idempotency-Key, a retry answers the same."""
    if idempotency_key is not None and (not idempotency_key or len(idempotency_key) > IDEMPOTENCY_KEY_MAX or not idempotency_key.isprintable()):
        raise ValidationFailed.single("Idempotency-Key", f"1 to {IDEMPOTENCY_KEY_MAX} printable characters")
    _open_member(member_id)
    digest = fingerprint(request.model_dump())
    if idempotency_key:
        try:
            earlier = FeedbackKey.get(keys.member_pk(member_id), keys.feedback_key_sk(idempotency_key), consistent_read=True)
            return _feedback_replay(earlier, digest)
        except DoesNotExist:
            pass
    if request.order_id:
        _check_order(member_id, request.order_id)

    def attempt() -> Outcome:
        now = utcnow()
        feedback_id = new_feedback_id(now)
        fields: _FeedbackFields = {
            "feedback_id": feedback_id,
            "member_id": member_id,
            "category": request.category,
            "text": request.text,
            "order_id": request.order_id,
            "created_at": now,
        }
        item = Feedback(keys.member_pk(member_id), keys.feedback_sk(feedback_id), status="open", **fields)
        body = feedback_view(item)
        tx = Transaction()
        tx.put("feedback", item, Feedback.pk.does_not_exist())
        tx.put("queue", FeedbackQueueEntry(keys.feedback_queue_pk("open"), feedback_id, **fields), FeedbackQueueEntry.pk.does_not_exist())
        if idempotency_key:
            key_item = FeedbackKey(
                keys.member_pk(member_id), keys.feedback_key_sk(idempotency_key), fingerprint=digest, response=body, created_at=now
            )
            tx.put("key", key_item, FeedbackKey.pk.does_not_exist(), return_old=True)
        try:
            tx.commit()
        except Cancelled as exc:
            if earlier := exc.failed.get("key"):
                return _feedback_replay(FeedbackKey.from_raw_data(earlier), digest)
            raise Retryable("feedback id or key taken meanwhile") from exc
        count("FeedbackReceived")
        logger.info("feedback received", extra={"member_id": member_id, "feedback_id": feedback_id, "category": request.category})
        return Outcome(201, body)

    return with_retries(attempt)


def _feedback_replay(earlier: FeedbackKey, digest: str) -> Outcome:
    if earlier.fingerprint != digest:
        raise IdempotencyConflict("That Idempotency-Key was already used for other feedback")
    return Outcome(201, plain(as_dict(earlier.response)))


def member_feedback(member_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """GET /v1/me/feedback: newest first, with answers."""
    _open_member(member_id)
    pk = keys.member_pk(member_id)
    start = {"pk": {"S": pk}, "sk": {"S": decode_cursor(cursor, keys.FEEDBACK_PREFIX)}} if cursor else None
    results = BaseItem.query(
        pk, BaseItem.sk.startswith(keys.FEEDBACK_PREFIX), scan_index_forward=False, limit=limit, last_evaluated_key=start, consistent_read=True
    )
    items = [feedback_view(i) for i in results if isinstance(i, Feedback)]
    last = results.last_evaluated_key
    return {"items": items, "next_cursor": encode_cursor(last["sk"]["S"]) if last and len(items) == limit else None}


def feedback_queue(status: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """GET /v1/admin/feedback: open feedback oldest first (answer in order), answered newest first."""
    pk = keys.feedback_queue_pk(status)
    start = {"pk": {"S": pk}, "sk": {"S": decode_cursor(cursor, "fb_")}} if cursor else None
    results = BaseItem.query(pk, scan_index_forward=status == "open", limit=limit, last_evaluated_key=start, consistent_read=True)
    items = [queue_view(i, status) for i in results if isinstance(i, FeedbackQueueEntry)]
    last = results.last_evaluated_key
    return {"items": items, "next_cursor": encode_cursor(last["sk"]["S"]) if last and len(items) == limit else None}


def answer_feedback(feedback_id: str, text: str, actor: str) -> Outcome:
    """Record the answer once (with its audit entry, naming `actor`) and tell the member by SMS.

    The same answer again (an operator's retry) gives 200 and the same
    feedback, with no second message; a different answer to answered
    feedback is 409 invalid_state.
    """
    rules = load_rules()
    answered_now: list[str] = []

    def attempt() -> Outcome:
        now = utcnow()
        wanted = [(keys.feedback_queue_pk("open"), feedback_id), (keys.feedback_queue_pk("answered"), feedback_id)]
        found = {(i.pk, i.sk): i for i in BaseItem.batch_get(wanted, consistent_read=True)}
        open_entry, answered = found.get(wanted[0]), found.get(wanted[1])
        if isinstance(answered, FeedbackQueueEntry):
            if answered.answer != text:
                raise InvalidState("This feedback was already answered")
            return Outcome(200, queue_view(answered, "answered"))
        if not isinstance(open_entry, FeedbackQueueEntry):
            raise NotFound(f"No feedback {feedback_id}")
        done = FeedbackQueueEntry(
            keys.feedback_queue_pk("answered"),
            feedback_id,
            feedback_id=feedback_id,
            member_id=open_entry.member_id,
            category=open_entry.category,
            text=open_entry.text,
            order_id=open_entry.order_id,
            answer=text,
            answered_at=now,
            created_at=open_entry.created_at,
        )
        mine = Feedback(keys.member_pk(open_entry.member_id), keys.feedback_sk(feedback_id))
        tx = Transaction()
        tx.update(
            "feedback",
            mine,
            [Feedback.status.set("answered"), Feedback.answer.set(text), Feedback.answered_at.set(now)],
            Feedback.status == "open",
        )
        tx.delete("open", open_entry, FeedbackQueueEntry.pk.exists())
        tx.put("answered", done, FeedbackQueueEntry.pk.does_not_exist())
        # The answer text stays out of the audit trail (it may quote personal data).
        change = AuditChange(
            actor=actor,
            action="feedback.answer",
            target_type="feedback",
            target_id=feedback_id,
            before={"status": "open"},
            after={"status": "answered"},
            member_id=open_entry.member_id,
        )
        add_audit(tx, change, rules, now)
        try:
            tx.commit()
        except Cancelled as exc:
            if "feedback" in exc.failed and not _member_copy_exists(open_entry.member_id, feedback_id):
                raise NotFound(f"Feedback {feedback_id} belongs to an erased membership") from exc
            raise Retryable("feedback answered meanwhile") from exc
        answered_now.append(open_entry.member_id)
        return Outcome(200, queue_view(done, "answered"))

    outcome = with_retries(attempt)
    if answered_now:
        member_id = answered_now[0]
        count("FeedbackAnswered")
        logger.info("feedback answered", extra={"member_id": member_id, "feedback_id": feedback_id})
        member = get_member(member_id)
        if member is not None and member.status != "closed":
            send_best_effort(
                Message(
                    channel="sms",
                    to=member.phone,
                    kind="feedback_answer",
                    body=f"[{rules.program_name}] We have answered your feedback. Open the app to read our reply.",
                )
            )
    return outcome


def _member_copy_exists(member_id: str, feedback_id: str) -> bool:
    try:
        Feedback.get(keys.member_pk(member_id), keys.feedback_sk(feedback_id), consistent_read=True)
    except DoesNotExist:
        return False
    return True
