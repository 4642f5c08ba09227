"""Writes that must not happen twice: one mechanism for every idempotent route.

The record of a write (an order, a refund, a redemption, a top-up, a payment, a coupon use, an
adjustment, a feedback, a reported action) is put *if absent*, keyed by the caller's id for it, in the same unit of
work as the write's effect. So the effect and its record commit together or not at all, and a
second request with the same id finds the record instead of doing the work again:

- the same request (the same fingerprint: what it means, keyed so it reveals nothing) is a
  replay, answered with the stored answer;
- another request under the same id is `409 idempotency_conflict`;
- a retry whose first answer was lost (it carries the same write token as the record) gets
  that first answer as if it were the first time.

The put returns the record already there when it fails (ReturnValuesOnConditionCheckFailure),
so a replay that races its twin costs no extra read. This is better than an idempotency table
beside the data: there is no window in which the effect exists without its record.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from ..domain.errors import IdempotencyConflict
from .members import as_dict
from .models import BaseItem
from .unit_of_work import Cancelled, UnitOfWork


class Record(Protocol):
    """What every idempotency record keeps."""

    fingerprint: str
    response: Any


@dataclass(frozen=True)
class Replay:
    """The stored answer to a request already done; `own_write` when it was this very request's
    write (its first answer never arrived)."""

    body: dict[str, Any]
    own_write: bool = False


def new_write_token() -> str:
    """Tells this request's own write from another's when a commit's answer is lost."""
    return secrets.token_hex(8)


def put_record(uow: UnitOfWork, name: str, record: BaseItem) -> None:
    """Put the record only if none exists under its key (the part `name` fails otherwise, and
    brings the existing record back for `replay_from`)."""
    uow.put(name, record, type(record).pk.does_not_exist(), return_old=True)


def replay(record: Record, fingerprint: str, conflict: str, write_token: str = "") -> Replay:
    """The stored answer for the same request; 409 idempotency_conflict (`conflict` says why) for
    another request under the same id."""
    if record.fingerprint != fingerprint:
        raise IdempotencyConflict(conflict)
    own = bool(write_token) and getattr(record, "write_token", None) == write_token
    return Replay(plain(as_dict(record.response)), own_write=own)


def existing_record[R: BaseItem](cancelled: Cancelled, name: str, model: type[R], key: tuple[str, str]) -> R | None:
    """The record a failed `put_record` part found (None if that part did not fail): from the
    cancellation when DynamoDB returned it, else read."""
    if name not in cancelled.failed:
        return None
    raw = cancelled.failed[name]
    return model.from_raw_data(raw) if raw else model.get(*key, consistent_read=True)


def plain(value: Any) -> Any:
    """A stored answer back to plain JSON types (DynamoDB numbers come back as Decimal or float)."""
    from decimal import Decimal

    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
