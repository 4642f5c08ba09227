"""Points transfers as the table keeps them: the sender's `TransferRecord` (`MEMBER#<sender>` /
`TRANSFER#<Idempotency-Key>`, store/idempotency.py) put in the unit of work that moves the points,
and the sender's day totals on the member (`transfers_sent`, version-checked with the balance)."""

from __future__ import annotations

import secrets
from typing import Any, Unpack

from pynamodb.expressions.update import Action

from . import keys
from .members import as_dict
from .models import Member, Recording
from .models_transfers import TransferRecord
from .reads import item_of, member_key, read_together


def new_transfer_id() -> str:
    return f"trf_{secrets.token_hex(8)}"


def record_key(member_id: str, idempotency_key: str) -> tuple[str, str]:
    return keys.member_pk(member_id), keys.transfer_sk(idempotency_key)


def transfer_reads(sender_id: str, idempotency_key: str, receiver_id: str | None) -> tuple[Member | None, TransferRecord | None, Member | None]:
    """The sender, any transfer already recorded under the key, and the receiver (when a member
    holds the phone): one strongly consistent round trip."""
    wanted = [member_key(sender_id), record_key(sender_id, idempotency_key)]
    if receiver_id is not None:
        wanted.append(member_key(receiver_id))
    found = read_together(wanted)
    receiver = item_of(Member, found.get(member_key(receiver_id))) if receiver_id is not None else None
    return item_of(Member, found.get(wanted[0])), item_of(TransferRecord, found.get(wanted[1])), receiver


def sent_today_of(member: Member) -> dict[str, Any]:
    return as_dict(member.transfers_sent)


def sent_today_update(stored: dict[str, Any]) -> list[Action]:
    return [Member.transfers_sent.set(stored)]


def new_record(member_id: str, idempotency_key: str, **recording: Unpack[Recording]) -> TransferRecord:
    """The record of a transfer (its idempotency record: `idempotency.put_record`)."""
    return TransferRecord.new(record_key(member_id, idempotency_key), **recording)
