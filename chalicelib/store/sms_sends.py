"""SMS a template provider accepted, and their delivery receipts (usecases/sms_receipts.py).

Access patterns: put one `SmsSend` by provider message id when the provider accepts an SMS
(`SMSSEND#<provider>#<id>` / `SMSSEND`); get and update it by that id when the provider's receipt
arrives. A receipt is recorded once: the update is conditional on the status still being `sent`,
so a replayed or late duplicate receipt changes nothing. Kept `KEPT_DAYS` (TTL; an expired item is
treated as absent, as DynamoDB may delete it up to 48 hours late).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.update import Action

from . import keys
from .models_sms import SmsSend

KEPT_DAYS = 30  # the providers report within 72 hours; operators may look a little longer
Outcome = Literal["recorded", "replayed", "unknown"]


def record_send(provider: str, message_id: str, kind: str, phone_digest: str, now: datetime) -> None:
    """The provider accepted this SMS: keep its id for the receipt (put only if absent: an id is
    the provider's and never reused)."""
    item = SmsSend(
        keys.sms_send_pk(provider, message_id),
        keys.SMS_SEND_SK,
        provider=provider,
        kind=kind,
        phone_digest=phone_digest,
        status="sent",
        sent_at=now,
        ttl=now + timedelta(days=KEPT_DAYS),
    )
    try:
        item.save(SmsSend.pk.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise


def _live(provider: str, message_id: str, now: datetime) -> SmsSend | None:
    try:
        item = SmsSend.get(keys.sms_send_pk(provider, message_id), keys.SMS_SEND_SK, consistent_read=True)
    except DoesNotExist:
        return None
    return None if item.ttl is not None and item.ttl <= now else item


def record_receipt(provider: str, message_id: str, *, delivered: bool, error_code: str | None, now: datetime) -> Outcome:
    """Record the receipt on the send, once: `recorded` the first time, `replayed` when the send
    already has one (nothing changes), `unknown` when no such send is kept (nothing written)."""
    item = _live(provider, message_id, now)
    if item is None:
        return "unknown"
    if item.status != "sent":
        return "replayed"
    actions: list[Action] = [SmsSend.status.set("delivered" if delivered else "failed"), SmsSend.reported_at.set(now)]
    if error_code and not delivered:
        actions.append(SmsSend.error_code.set(error_code[:64]))
    try:
        item.update(actions, condition=SmsSend.status == "sent")
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return "replayed"  # another copy of the receipt recorded it first
        raise
    return "recorded"


def delivery_of(provider: str, message_id: str, now: datetime) -> tuple[str, str | None] | None:
    """(status, error code) of a kept send; None if unknown. For tests and operators."""
    item = _live(provider, message_id, now)
    return (item.status, item.error_code) if item is not None else None
