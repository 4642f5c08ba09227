"""The unit of work: read, decide with the domain, write everything in one DynamoDB
TransactWriteItems, and start over when someone else wrote first.

    def attempt(uow: UnitOfWork) -> Answer:
        member = members.get(member_id)               # read
        state = points.spend(...)                     # decide (domain)
        uow.update("member", member, ...)             # write, all or nothing
        ledger.add_entry(uow, ...)
        uow.commit(explain=...)                       # a failed condition: explain it, or start over
        return Answer(...)                            # the result, never smuggled out

    answer = run(attempt)

`commit` names the parts of the transaction: DynamoDB reports a cancelled
transaction as a list of reasons in request order (PynamoDB sends condition
checks, deletes, puts, then updates); the unit keeps that order, so `explain`
asks "did the `order` put fail?" and gets the old item back when the part asked
for it (ReturnValuesOnConditionCheckFailure). A failure `explain` does not turn
into an answer or an error is contention: `run` reads again and retries with
jittered backoff, then answers 503 temporarily_unavailable with nothing written.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ConnectionError, HTTPClientError
from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from ..domain.errors import TemporarilyUnavailable
from ..observability import logger
from .models import BaseItem

RETRYABLE_CODES = frozenset(
    {
        "TransactionConflict",
        "TransactionConflictException",
        "ThrottlingError",
        "ThrottlingException",
        "ProvisionedThroughputExceeded",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TransactionInProgressException",
        "InternalServerError",
    }
)

_connection: Connection | None = None


def connection() -> Connection:
    global _connection
    if _connection is None:
        _connection = Connection(
            region=BaseItem.Meta.region,
            connect_timeout_seconds=BaseItem.Meta.connect_timeout_seconds,
            read_timeout_seconds=BaseItem.Meta.read_timeout_seconds,
            max_retry_attempts=BaseItem.Meta.max_retry_attempts,
        )
    return _connection


def error_code(exc: PynamoDBException) -> str | None:
    """DynamoDB's error code, or None when there was no answer (a timeout, a lost connection):
    PynamoDB's own `cause_response_code` raises for those."""
    response = getattr(exc.cause, "response", None)
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


def _no_answer(exc: PynamoDBException) -> bool:
    return isinstance(exc.cause, (ConnectionError, HTTPClientError))


def is_transient(exc: BaseException) -> bool:
    """Throttling, contention or no answer, outlasting botocore's own retries: safe to retry."""
    if isinstance(exc, Retryable):
        return True
    return isinstance(exc, PynamoDBException) and (error_code(exc) in RETRYABLE_CODES or _no_answer(exc))


class Retryable(Exception):
    """Contention or throttling: read again and retry."""


class Cancelled(Exception):
    """A condition failed. `failed` maps part names to the old item (or None)."""

    def __init__(self, failed: dict[str, dict[str, Any] | None]) -> None:
        super().__init__(", ".join(failed))
        self.failed = failed


@dataclass
class _Part:
    name: str
    kind: str  # condition_check | delete | put | update


# An item's update actions, as store modules build them and use cases pass them on to `update`.
type Writes = list[Action]

_ORDER = {"condition_check": 0, "delete": 1, "put": 2, "update": 3}


class UnitOfWork:
    """The writes of one attempt, then `commit()`: all or nothing."""

    def __init__(self) -> None:
        from pynamodb.transactions import TransactWrite

        self._tw = TransactWrite(connection=connection())
        self._parts: list[_Part] = []

    def put(self, name: str, item: Model, condition: Condition | None = None, *, return_old: bool = False) -> None:
        self._tw.save(item, condition=condition, return_values="ALL_OLD" if return_old else None)
        self._parts.append(_Part(name, "put"))

    def update(self, name: str, item: Model, actions: Sequence[Action], condition: Condition | None = None, *, return_old: bool = False) -> None:
        self._tw.update(item, actions=list(actions), condition=condition, return_values="ALL_OLD" if return_old else None)
        self._parts.append(_Part(name, "update"))

    def delete(self, name: str, item: Model, condition: Condition | None = None) -> None:
        self._tw.delete(item, condition=condition)
        self._parts.append(_Part(name, "delete"))

    def condition_check(self, name: str, model: type[Model], hash_key: str, range_key: str, condition: Condition) -> None:
        self._tw.condition_check(model, hash_key, range_key, condition=condition)
        self._parts.append(_Part(name, "condition_check"))

    def commit[R](self, explain: Callable[[Cancelled], R | None] | None = None) -> R | None:
        """Write everything, or nothing. When a condition fails, `explain` may raise the caller's
        error or return an answer (a replay from the record another write left); anything it
        does not explain is contention (Retryable: `run` starts the attempt over)."""
        try:
            self._write()
        except Cancelled as failure:
            answer = explain(failure) if explain is not None else None
            if answer is not None:
                return answer
            raise Retryable(f"{', '.join(failure.failed) or 'a condition'} changed meanwhile") from failure
        return None

    def _write(self) -> None:
        if not self._parts:
            return
        try:
            self._tw._commit()
        except TransactWriteError as exc:
            raise _translate(exc, self._wire_order()) from exc
        except PynamoDBException as exc:
            if is_transient(exc):
                # No answer may still mean it committed: the retry's conditions tell.
                raise Retryable(error_code(exc) or type(exc.cause).__name__) from exc
            raise

    def _wire_order(self) -> list[str]:
        return [p.name for p in sorted(self._parts, key=lambda p: _ORDER[p.kind])]


def _translate(exc: TransactWriteError, names: list[str]) -> Exception:
    if error_code(exc) != "TransactionCanceledException":
        if is_transient(exc):
            return Retryable(error_code(exc) or type(exc.cause).__name__)
        return exc
    failed: dict[str, dict[str, Any] | None] = {}
    for name, reason in zip(names, exc.cancellation_reasons, strict=False):
        if reason is None or reason.code in (None, "None"):
            continue
        if reason.code in RETRYABLE_CODES:
            return Retryable(reason.code)
        if reason.code == "ConditionalCheckFailed":
            failed[name] = reason.raw_item
        else:
            return exc
    return Cancelled(failed)


# Backoff after a lost race: full jitter over a window that starts at the attempt's own duration
# (the time in which the winner's write landed: ~10-30 ms on DynamoDB, far more on a busy local
# stack) and doubles with each loss, capped; and a time budget, so that the caller hears 503 well
# before API Gateway's 29 s timeout.
BACKOFF_FLOOR = 0.002
BACKOFF_CAP = 0.5
RETRY_BUDGET_SECONDS = 20.0


def backoff(number: int, attempt_seconds: float) -> float:
    """The sleep before try `number + 1`, after try `number` (0-based) took `attempt_seconds` and lost."""
    window = min(BACKOFF_CAP, max(BACKOFF_FLOOR, attempt_seconds) * 2**number)
    return random.uniform(0, window)  # noqa: S311 - jitter, not a secret


# One lock per contended key (a member), alive while some request holds or waits for it.
_key_locks: weakref.WeakValueDictionary[str, threading.Lock] = weakref.WeakValueDictionary()
_key_locks_guard = threading.Lock()


@contextlib.contextmanager
def _one_at_a_time(key: str | None) -> Iterator[None]:
    if key is None:
        yield
        return
    with _key_locks_guard:
        lock = _key_locks.get(key)
        if lock is None:
            lock = _key_locks[key] = threading.Lock()
    with lock:
        yield


def member_turn(member: str | None) -> str:
    """The `one_at_a_time` key of a member's writes: its id, or the phone a till named it by (a
    member named both ways takes two keys: slower under contention, never wrong, the optimistic
    checks still serialise)."""
    return f"member:{member}"


def run[T](attempt: Callable[[UnitOfWork], T], *, attempts: int = 30, one_at_a_time: str | None = None) -> T:
    """Run `attempt` (read, decide, write one unit of work) until it commits without contention.

    Each try gets a fresh unit of work. Exponential backoff with full jitter, scaled to how long a
    try takes (`backoff`); after `attempts`, or `RETRY_BUDGET_SECONDS`, the caller gets a
    retryable 503 and nothing was written.

    `one_at_a_time` names what the attempts contend for (a member): requests with the same key
    in this process run one after another instead of racing each other through DynamoDB, where
    all but one would lose and retry. That bounds parallelism per key to one per process (a
    threaded server: the local stage); a Lambda container serves one request at a time, so
    between containers the optimistic check and the retries above are what serialise.
    """
    with _one_at_a_time(one_at_a_time):
        deadline = time.monotonic() + RETRY_BUDGET_SECONDS
        for number in range(attempts):
            began = time.monotonic()
            try:
                return attempt(UnitOfWork())
            except Retryable as exc:
                logger.debug("transaction retry", extra={"attempt": number, "reason": str(exc)})
                pause = backoff(number, time.monotonic() - began)
                if time.monotonic() + pause > deadline:
                    break
                time.sleep(pause)
    raise TemporarilyUnavailable("The request met too much contention; retry it")
