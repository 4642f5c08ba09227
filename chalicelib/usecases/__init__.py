"""Use cases: one function per thing a caller can do. They own the transactions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..notify.sender import on_template_sms_accepted

if TYPE_CHECKING:
    from ..notify.sender import Message


def _keep_for_receipt(provider: str, message_id: str, message: Message) -> None:
    """Every SMS a template provider accepts, from any function that sends, is kept by its message
    id for the provider's delivery receipt (usecases/sms_receipts.py; imported on the first one)."""
    from .sms_receipts import record_send

    record_send(provider, message_id, message)


on_template_sms_accepted(_keep_for_receipt)
