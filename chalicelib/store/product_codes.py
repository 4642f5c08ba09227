"""Scan-to-earn product codes as the table keeps them (keys.py: PCBATCH#, PCODE#, PCTRY#).

- A batch's codes are written with BatchWriteItem (25 items a request, unprocessed items
  retried by PynamoDB), a few requests in parallel: one write unit per code, no transactions.
  BatchWriteItem cannot be conditional, so a fresh code that happened to equal an existing one
  would replace it; at 80 bits, among ten million codes, the odds of any such pair are about
  4 x 10^-11.
- A code is used by a conditional update (`used_by` absent) in the transaction that credits the
  member, with one shard of its batch's redemption count: exactly one member ever gets it.
- Failed attempts are counted per member and hour by a conditional update (below the limit),
  before the code is judged.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Unpack

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from . import keys
from .members import as_dict
from .models import BaseItem, Member, Recording
from .models_product_codes import ProductCode, ProductCodeAttempts, ProductCodeBatch, ProductCodeRedemptions, ProductCodeRequest
from .reads import item_of, member_key, read_together
from .unit_of_work import UnitOfWork, error_code

# Codes a worker thread writes in one go (40 BatchWriteItem requests), and the threads.
_SLICE = 1000
_WRITERS = 8


def _write_slice(batch_id: str, digests: list[str]) -> None:
    with ProductCode.batch_write() as writer:
        for digest in digests:
            writer.save(ProductCode(keys.product_code_pk(digest), keys.PRODUCT_CODE_SK, batch_id=batch_id))


def write_codes(batch_id: str, digests: list[str]) -> None:
    """Put one item per code digest, under `batch_id` (BatchWriteItem, slices in parallel)."""
    slices = [digests[i : i + _SLICE] for i in range(0, len(digests), _SLICE)]
    if len(slices) <= 1:
        for part in slices:
            _write_slice(batch_id, part)
        return
    with ThreadPoolExecutor(max_workers=min(_WRITERS, len(slices))) as pool:
        for done in [pool.submit(_write_slice, batch_id, part) for part in slices]:
            done.result()  # the first failure raises


def new_batch(batch_id: str, **fields: Any) -> ProductCodeBatch:
    return ProductCodeBatch(keys.product_batch_pk(batch_id), keys.PRODUCT_BATCH_SK, batch_id=batch_id, **fields)


def add_batch(uow: UnitOfWork, batch: ProductCodeBatch) -> None:
    uow.put("batch", batch, ProductCodeBatch.pk.does_not_exist())


def get_batch(batch_id: str) -> ProductCodeBatch | None:
    try:
        return ProductCodeBatch.get(keys.product_batch_pk(batch_id), keys.PRODUCT_BATCH_SK, consistent_read=True)
    except ProductCodeBatch.DoesNotExist:
        return None


@dataclass(frozen=True)
class BatchState:
    batch: ProductCodeBatch | None
    redeemed: int


def batch_state(batch_id: str) -> BatchState:
    """The batch and its redemption count (the sum of its shards): one BatchGetItem."""
    wanted = [(keys.product_batch_pk(batch_id), keys.PRODUCT_BATCH_SK)]
    wanted += [(keys.product_redeemed_pk(batch_id, shard), keys.PRODUCT_REDEEMED_SK) for shard in range(keys.PRODUCT_CODE_SHARDS)]
    batch: ProductCodeBatch | None = None
    redeemed = 0
    for item in BaseItem.batch_get(wanted, consistent_read=True):
        if isinstance(item, ProductCodeBatch):
            batch = item
        elif isinstance(item, ProductCodeRedemptions):
            redeemed += int(item.redeemed)
    return BatchState(batch, redeemed)


def revoke_batch(uow: UnitOfWork, batch: ProductCodeBatch, actor: str, now: datetime) -> None:
    """Mark the batch revoked, if it is still as read (part `batch` fails otherwise): active, or
    generating (its queued parts then stop)."""
    uow.update(
        "batch",
        batch,
        [ProductCodeBatch.status.set("revoked"), ProductCodeBatch.revoked_at.set(now), ProductCodeBatch.revoked_by.set(actor)],
        ProductCodeBatch.status == str(batch.status),
    )


def _update_batch(batch_id: str, actions: list[Action], condition: Condition) -> ProductCodeBatch | None:
    """Update the batch if `condition` holds: the batch as it is after, or None (nothing changed)."""
    batch = ProductCodeBatch(keys.product_batch_pk(batch_id), keys.PRODUCT_BATCH_SK)
    try:
        batch.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return None
        raise
    return batch


def _part_open(part: int) -> Condition:
    """The batch still generating, and `part` not done."""
    done = ProductCodeBatch.parts_done
    condition: Condition = (ProductCodeBatch.status == "generating") & (done.does_not_exist() | ~done.contains(part))
    return condition


def record_part_done(batch_id: str, part: int, written: int) -> ProductCodeBatch | None:
    """Add `part` to the batch's done parts and its `written` codes to the count, once: None
    (nothing changed) when the part is done already or the batch is no longer generating (a
    revoked batch). The batch as it is after the update otherwise."""
    done = [ProductCodeBatch.parts_done.add({part}), ProductCodeBatch.written.add(written), ProductCodeBatch.parts_failed.delete({part})]
    return _update_batch(batch_id, done, _part_open(part))


def record_part_failed(batch_id: str, part: int) -> bool:
    """Note that `part`'s unit failed every delivery (SQS dead-letters it next): only while the
    batch is generating and the part is not done. False when nothing changed."""
    return _update_batch(batch_id, [ProductCodeBatch.parts_failed.add({part})], _part_open(part)) is not None


def activate_batch(batch_id: str) -> bool:
    """generating -> active, once every part is done: False if it was not generating."""
    return _update_batch(batch_id, [ProductCodeBatch.status.set("active")], ProductCodeBatch.status == "generating") is not None


def find_code(digest: str) -> ProductCode | None:
    try:
        return ProductCode.get(keys.product_code_pk(digest), keys.PRODUCT_CODE_SK, consistent_read=True)
    except ProductCode.DoesNotExist:
        return None


def code_from_raw(raw: dict[str, Any] | None) -> ProductCode | None:
    return ProductCode.from_raw_data(raw) if raw else None


def use_code(uow: UnitOfWork, code: ProductCode, member_id: str, response: dict[str, Any], write_token: str, now: datetime) -> None:
    """Mark the code used by `member_id` (part `code`), only if nobody used it: the failed part
    brings the code back as it is (who used it)."""
    uow.update(
        "code",
        code,
        [
            ProductCode.used_by.set(member_id),
            ProductCode.used_at.set(now),
            ProductCode.write_token.set(write_token),
            ProductCode.response.set(response),
        ],
        ProductCode.pk.exists() & ProductCode.used_by.does_not_exist(),
        return_old=True,
    )


def count_redemption(uow: UnitOfWork, batch_id: str) -> None:
    """One more code of `batch_id` used, on a shard picked at random (part `redeemed`)."""
    shard = random.randrange(keys.PRODUCT_CODE_SHARDS)  # noqa: S311 - spreads writes, not a secret
    counter = ProductCodeRedemptions(keys.product_redeemed_pk(batch_id, shard), keys.PRODUCT_REDEEMED_SK)
    uow.update(
        "redeemed",
        counter,
        [
            ProductCodeRedemptions.entity.set(ProductCodeRedemptions),
            ProductCodeRedemptions.batch_id.set(batch_id),
            ProductCodeRedemptions.redeemed.add(1),
        ],
    )


def code_response(code: ProductCode) -> dict[str, Any]:
    return as_dict(code.response)


def claim_attempt(member_id: str, window: str, ends: datetime, limit: int) -> bool:
    """Count one attempt in the member's window, only while under `limit`: False (nothing
    counted) when the window's attempts are used up. One conditional UpdateItem, so however many
    attempts arrive at once, at most `limit` are ever counted."""
    try:
        ProductCodeAttempts(keys.product_attempts_pk(member_id), window).update(
            actions=[
                ProductCodeAttempts.entity.set(ProductCodeAttempts),
                ProductCodeAttempts.failures.add(1),
                ProductCodeAttempts.ttl.set(ends + timedelta(hours=1)),
            ],
            condition=ProductCodeAttempts.failures.does_not_exist() | (ProductCodeAttempts.failures < limit),
        )
    except UpdateError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def give_back_attempt(uow: UnitOfWork, member_id: str, window: str) -> None:
    """A code that earned was no failure: its counted attempt comes off, in the same transaction."""
    attempts = ProductCodeAttempts(keys.product_attempts_pk(member_id), window)
    uow.update("attempt", attempts, [ProductCodeAttempts.failures.add(-1)])


def give_back_attempt_alone(member_id: str, window: str) -> None:
    """As `give_back_attempt`, on its own (a member's replay of a code they already used)."""
    ProductCodeAttempts(keys.product_attempts_pk(member_id), window).update(actions=[ProductCodeAttempts.failures.add(-1)])


def member_and_code(member_id: str, digest: str) -> tuple[Member | None, ProductCode | None]:
    """The member and the code item: one strongly consistent BatchGetItem."""
    code_key = (keys.product_code_pk(digest), keys.PRODUCT_CODE_SK)
    found = read_together([member_key(member_id), code_key])
    return item_of(Member, found.get(member_key(member_id))), item_of(ProductCode, found.get(code_key))


def request_key(idempotency_key: str) -> tuple[str, str]:
    return keys.product_request_pk(idempotency_key), keys.PRODUCT_REQUEST_SK


def find_request(idempotency_key: str) -> ProductCodeRequest | None:
    """The batch an earlier request under this Idempotency-Key made (strongly consistent)."""
    try:
        return ProductCodeRequest.get(*request_key(idempotency_key), consistent_read=True)
    except ProductCodeRequest.DoesNotExist:
        return None


def new_request(idempotency_key: str, batch_id: str, **recording: Unpack[Recording]) -> ProductCodeRequest:
    return ProductCodeRequest.new(request_key(idempotency_key), batch_id=batch_id, **recording)
