"""Feedback: members write in, operators answer, the member is told.

Each piece of feedback is written twice in one unit of work: under the member (their own list)
and in the operators' open queue (store/feedback.py). Answering moves the queue entry from open
to answered and records the answer on the member's copy, conditioned on that copy still being
open, so an answer is recorded (and the member told) once. With an Idempotency-Key, the feedback
is recorded with its key's record (store/idempotency.py): a retry answers the same.
Feedback text is personal: it never reaches the logs.
"""

from __future__ import annotations

from typing import Any

from ..api.schemas.engagement import FeedbackRequest
from ..api.schemas.views import feedback_queue_view, feedback_view
from ..domain.clock import utcnow
from ..domain.errors import InvalidState, NotFound, ValidationFailed
from ..domain.membership import is_open
from ..notify.sender import Message, send_best_effort
from ..observability import count, logger
from ..store import feedback as feedback_store
from ..store.idempotency import existing_record, new_write_token, put_record, replay
from ..store.members import get_member
from ..store.models_engagement import FeedbackKey
from ..store.orders import get_order
from ..store.parameters import load_rules
from ..store.unit_of_work import Cancelled, UnitOfWork, run
from .audit import Change as AuditChange
from .audit import add_audit
from .common import Answer, created, fingerprint, replayed
from .sessions import MemberSession, open_member

CONFLICT = "That Idempotency-Key was already used for other feedback"


def _check_order(member_id: str, order_id: str) -> None:
    """The order must be one of the member's own (the same answer whether it exists or not)."""
    order = get_order(order_id)
    if order is None or order.member_id != member_id:
        raise ValidationFailed.single("order_id", "no order of yours has this id")


def submit_feedback(session: MemberSession, request: FeedbackRequest, idempotency_key: str | None) -> Answer:
    """POST /v1/me/feedback: 201 with the new feedback; with an Idempotency-Key, a retry answers
    the same (one replay convention: common.replayed)."""
    member_id = open_member(session).member_id
    digest = fingerprint(request.model_dump())
    if idempotency_key:
        earlier = feedback_store.get_record(member_id, idempotency_key)
        if earlier is not None:
            return replayed(replay(earlier, digest, CONFLICT))
    if request.order_id:
        _check_order(member_id, request.order_id)
    write_token = new_write_token()

    def explain(cancelled: Cancelled) -> Answer | None:
        if not idempotency_key:
            return None
        earlier = existing_record(cancelled, "record", FeedbackKey, feedback_store.record_key(member_id, idempotency_key))
        return replayed(replay(earlier, digest, CONFLICT, write_token)) if earlier is not None else None

    def attempt(uow: UnitOfWork) -> Answer:
        now = utcnow()
        item = feedback_store.new_feedback(member_id, request.category, request.text, request.order_id, now)
        body = feedback_view(item)
        feedback_store.add_feedback(uow, item)
        if idempotency_key:
            record = feedback_store.new_record(member_id, idempotency_key, fingerprint=digest, write_token=write_token, response=body, now=now)
            put_record(uow, "record", record)
        answer = uow.commit(explain)  # anything else failed: the feedback id was taken meanwhile
        if answer is not None:
            return answer
        count("FeedbackReceived")
        logger.info("feedback received", extra={"member_id": member_id, "feedback_id": item.feedback_id, "category": request.category})
        return created(body)

    return run(attempt)


def member_feedback(session: MemberSession, limit: int, cursor: str | None) -> dict[str, Any]:
    """GET /v1/me/feedback: newest first, with answers."""
    member_id = open_member(session).member_id
    return feedback_store.member_feedback_page(member_id, limit, cursor).view(feedback_view)


def feedback_queue(status: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """GET /v1/admin/feedback: open feedback oldest first (answer in order), answered newest first."""
    return feedback_store.queue_page(status, limit, cursor).view(lambda entry: feedback_queue_view(entry, status))


def answer_feedback(feedback_id: str, text: str, actor: str) -> Answer:
    """Record the answer once (with its audit entry, naming `actor`) and tell the member by SMS.

    The same answer again (an operator's retry) is a replay: 200, the same feedback, no second
    message; a different answer to answered feedback is 409 invalid_state.
    """
    rules = load_rules()

    def attempt(uow: UnitOfWork) -> tuple[Answer, str | None]:
        now = utcnow()
        opened, answered = feedback_store.queue_entries(feedback_id)
        if answered is not None:
            if answered.answer != text:
                raise InvalidState("This feedback was already answered")
            return Answer(200, feedback_queue_view(answered, "answered"), replayed=True), None
        if opened is None:
            raise NotFound(f"No feedback {feedback_id}")
        member_id = opened.member_id
        done = feedback_store.answer(uow, opened, text, now)
        # The answer text stays out of the audit trail (it may quote personal data).
        change = AuditChange(
            actor=actor,
            action="feedback.answer",
            target_type="feedback",
            target_id=feedback_id,
            before={"status": "open"},
            after={"status": "answered"},
            member_id=member_id,
        )
        add_audit(uow, change, rules, now)

        def explain(cancelled: Cancelled) -> None:
            if "feedback" in cancelled.failed and not feedback_store.member_copy_exists(member_id, feedback_id):
                raise NotFound(f"Feedback {feedback_id} belongs to an erased membership")
            # else: answered meanwhile; read again

        uow.commit(explain)
        return Answer(200, feedback_queue_view(done, "answered")), member_id

    answer, member_to_tell = run(attempt)
    if member_to_tell is not None:
        count("FeedbackAnswered")
        logger.info("feedback answered", extra={"member_id": member_to_tell, "feedback_id": feedback_id})
        member = get_member(member_to_tell)
        if member is not None and is_open(member.status):
            send_best_effort(
                Message(
                    channel="sms",
                    to=member.phone,
                    kind="feedback_answer",
                    body=f"[{rules.program_name}] We have answered your feedback. Open the app to read our reply.",
                )
            )
    return answer
