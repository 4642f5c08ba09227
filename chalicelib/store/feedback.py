"""Feedback as the table keeps it: written twice, answered once.

- `MEMBER#<id>` / `FEEDBACK#<feedback_id>` (Feedback): the member's own copy and its answer;
  their list reads newest first.
- `FEEDBACKQ#open` | `FEEDBACKQ#answered` / `<feedback_id>` (FeedbackQueueEntry): the operators'
  queue; open feedback reads oldest first (answered in order), answered newest first.
- `MEMBER#<id>` / `FEEDBACKKEY#<key>` (FeedbackKey): the first answer to a member's
  Idempotency-Key, the idempotency record (store/idempotency.py) put with the feedback.

Feedback ids run forwards in time. Answering moves the queue entry from `open` to `answered` and
records the answer on the member's copy, conditioned on that copy still being open, in one unit
of work: an answer is recorded once.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Unpack

from pynamodb.exceptions import DoesNotExist

from . import keys
from .models import Recording
from .models_engagement import Feedback, FeedbackKey, FeedbackQueueEntry
from .paging import Page, query_page
from .reads import item_of, read_together
from .unit_of_work import UnitOfWork

FEEDBACK_ID_PREFIX = "fb_"


def new_feedback_id(now: datetime) -> str:
    """Sorts oldest first (milliseconds), unique by its random tail."""
    return f"{FEEDBACK_ID_PREFIX}{int(now.timestamp() * 1000):013d}{secrets.token_hex(4)}"


def new_feedback(member_id: str, category: str, text: str, order_id: str | None, now: datetime) -> Feedback:
    """The member's copy of new, open feedback (not yet written: `add_feedback`)."""
    feedback_id = new_feedback_id(now)
    return Feedback(
        keys.member_pk(member_id),
        keys.feedback_sk(feedback_id),
        feedback_id=feedback_id,
        member_id=member_id,
        category=category,
        text=text,
        order_id=order_id,
        status="open",
        created_at=now,
    )


def add_feedback(uow: UnitOfWork, feedback: Feedback) -> None:
    """Put the member's copy (part `feedback`) and the open queue's entry (part `queue`), each only
    if absent: either failing means the id was taken; start over."""
    uow.put("feedback", feedback, Feedback.pk.does_not_exist())
    uow.put("queue", _queue_entry("open", feedback), FeedbackQueueEntry.pk.does_not_exist())


def _queue_entry(status: str, feedback: Feedback | FeedbackQueueEntry, **answer: Any) -> FeedbackQueueEntry:
    """The operators' copy of `feedback` in the `status` queue (an answered one: with the `answer`
    and when it was given)."""
    return FeedbackQueueEntry(
        keys.feedback_queue_pk(status),
        feedback.feedback_id,
        feedback_id=feedback.feedback_id,
        member_id=feedback.member_id,
        category=feedback.category,
        text=feedback.text,
        order_id=feedback.order_id,
        created_at=feedback.created_at,
        **answer,
    )


def record_key(member_id: str, idempotency_key: str) -> tuple[str, str]:
    return keys.member_pk(member_id), keys.feedback_key_sk(idempotency_key)


def get_record(member_id: str, idempotency_key: str) -> FeedbackKey | None:
    try:
        return FeedbackKey.get(*record_key(member_id, idempotency_key), consistent_read=True)
    except DoesNotExist:
        return None


def new_record(member_id: str, idempotency_key: str, **recording: Unpack[Recording]) -> FeedbackKey:
    """The first answer to an Idempotency-Key (its idempotency record: `idempotency.put_record`)."""
    return FeedbackKey.new(record_key(member_id, idempotency_key), **recording)


def member_feedback_page(member_id: str, limit: int, cursor: str | None) -> Page[Feedback]:
    """The member's feedback, newest first: one query a page."""
    return query_page(Feedback, keys.member_pk(member_id), keys.FEEDBACK_PREFIX, limit, cursor, newest_first=True)


def queue_page(status: str, limit: int, cursor: str | None) -> Page[FeedbackQueueEntry]:
    """The operators' queue of `status`: open oldest first, answered newest first."""
    return query_page(FeedbackQueueEntry, keys.feedback_queue_pk(status), FEEDBACK_ID_PREFIX, limit, cursor, newest_first=status != "open")


def queue_entries(feedback_id: str) -> tuple[FeedbackQueueEntry | None, FeedbackQueueEntry | None]:
    """The feedback's open and answered queue entries (at most one exists): one strongly
    consistent round trip."""
    wanted = [(keys.feedback_queue_pk("open"), feedback_id), (keys.feedback_queue_pk("answered"), feedback_id)]
    found = read_together(wanted)
    return item_of(FeedbackQueueEntry, found.get(wanted[0])), item_of(FeedbackQueueEntry, found.get(wanted[1]))


def answer(uow: UnitOfWork, entry: FeedbackQueueEntry, text: str, now: datetime) -> FeedbackQueueEntry:
    """Record the answer on the member's copy (part `feedback`: fails unless that copy is still
    open, or when it is gone) and move the queue entry from open (`open`) to answered
    (`answered`). Returns the answered entry."""
    answered = _queue_entry("answered", entry, answer=text, answered_at=now)
    mine = Feedback(keys.member_pk(entry.member_id), keys.feedback_sk(entry.feedback_id))
    uow.update(
        "feedback",
        mine,
        [Feedback.status.set("answered"), Feedback.answer.set(text), Feedback.answered_at.set(now)],
        Feedback.status == "open",
    )
    uow.delete("open", entry, FeedbackQueueEntry.pk.exists())
    uow.put("answered", answered, FeedbackQueueEntry.pk.does_not_exist())
    return answered


def member_copy_exists(member_id: str, feedback_id: str) -> bool:
    """The member's copy is still there (erasure deletes it)."""
    try:
        Feedback.get(keys.member_pk(member_id), keys.feedback_sk(feedback_id), consistent_read=True)
    except DoesNotExist:
        return False
    return True
