"""Bulk grants and exports as the table keeps them (keys.py: GRANTBATCH#, GRANTROW#, GRANTREQ#,
EXPORT#, EXPORTREQ#).

- A batch's or an export's progress is kept on its one item: each unit adds itself to the item's
  done set and its counts by one conditional update (its part not yet among the done), so a unit
  SQS delivers twice counts once.
- A granted row is a `GrantRowDone` item put only if absent in the row's own transaction: a
  replayed row fails that part and grants nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Unpack

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from ..settings import get_settings
from . import keys
from .models import LedgerEntry, Member, Recording
from .models_bulk import DataExport, ExportRequest, GrantBatch, GrantRequest, GrantRowDone
from .models_wallet import Wallet
from .reads import item_of, member_key, read_together
from .unit_of_work import UnitOfWork, connection, error_code

# --- grant batches -------------------------------------------------------------------


def new_grant_batch(batch_id: str, **fields: Any) -> GrantBatch:
    return GrantBatch(keys.grant_batch_pk(batch_id), keys.GRANT_BATCH_SK, batch_id=batch_id, **fields)


def add_grant_batch(uow: UnitOfWork, batch: GrantBatch) -> None:
    uow.put("batch", batch, GrantBatch.pk.does_not_exist())


def get_grant_batch(batch_id: str) -> GrantBatch | None:
    try:
        return GrantBatch.get(keys.grant_batch_pk(batch_id), keys.GRANT_BATCH_SK, consistent_read=True)
    except GrantBatch.DoesNotExist:
        return None


def _conditional(item: Any, actions: Sequence[Action], condition: Any) -> bool:
    try:
        item.update(actions=list(actions), condition=condition)
    except UpdateError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def start_grant_batch(uow: UnitOfWork, batch: GrantBatch, now: datetime) -> None:
    """awaiting_upload -> running (part `batch` fails if it was started meanwhile)."""
    uow.update(
        "batch",
        batch,
        [GrantBatch.status.set("running"), GrantBatch.started_at.set(now)],
        GrantBatch.status == "awaiting_upload",
    )


def set_grant_parts(batch_id: str, parts: int, rows: int) -> bool:
    """The batch's file was split into `parts` of `rows` in all: once (False if already set)."""
    batch = GrantBatch(keys.grant_batch_pk(batch_id), keys.GRANT_BATCH_SK)
    actions = [
        GrantBatch.parts.set(parts),
        GrantBatch.rows.set(rows),
        GrantBatch.granted.set(0),
        GrantBatch.already_granted.set(0),
        GrantBatch.failed.set(0),
        GrantBatch.points_granted.set(0),
    ]
    return _conditional(batch, actions, (GrantBatch.status == "running") & GrantBatch.parts.does_not_exist())


def fail_grant_batch(batch_id: str, error: str, now: datetime) -> bool:
    batch = GrantBatch(keys.grant_batch_pk(batch_id), keys.GRANT_BATCH_SK)
    actions = [GrantBatch.status.set("failed"), GrantBatch.error.set(error), GrantBatch.finished_at.set(now)]
    return _conditional(batch, actions, GrantBatch.status == "running")


def record_grant_part(batch_id: str, part: int, counts: dict[str, int]) -> GrantBatch | None:
    """Add `part` to the done parts and its row counts to the batch's, once: None if the part
    was recorded already (or the batch is not running). The batch after the update otherwise."""
    batch = GrantBatch(keys.grant_batch_pk(batch_id), keys.GRANT_BATCH_SK)
    actions: list[Action] = [GrantBatch.parts_done.add({part})]
    actions += [getattr(GrantBatch, name).add(value) for name, value in counts.items()]
    condition = (GrantBatch.status == "running") & (GrantBatch.parts_done.does_not_exist() | ~GrantBatch.parts_done.contains(part))
    return batch if _conditional(batch, actions, condition) else None


def finish_grant_batch(batch_id: str, now: datetime) -> bool:
    """running -> done, once."""
    batch = GrantBatch(keys.grant_batch_pk(batch_id), keys.GRANT_BATCH_SK)
    return _conditional(batch, [GrantBatch.status.set("done"), GrantBatch.finished_at.set(now)], GrantBatch.status == "running")


def grant_row_key(batch_id: str, row_key: str) -> tuple[str, str]:
    return keys.grant_row_pk(batch_id, row_key), keys.GRANT_ROW_SK


def member_and_row(member_id: str, batch_id: str, row_key: str) -> tuple[Member | None, GrantRowDone | None]:
    """The member and the row's marker, if the row was granted: one strongly consistent BatchGetItem."""
    row = grant_row_key(batch_id, row_key)
    found = read_together([member_key(member_id), row])
    return item_of(Member, found.get(member_key(member_id))), item_of(GrantRowDone, found.get(row))


def granted_row(batch_id: str, row_key: str) -> GrantRowDone | None:
    try:
        return GrantRowDone.get(*grant_row_key(batch_id, row_key), consistent_read=True)
    except GrantRowDone.DoesNotExist:
        return None


def mark_row_granted(uow: UnitOfWork, batch_id: str, row_key: str, number: int, member_id: str, now: datetime, *, entry_id: str | None) -> None:
    """Put the row's marker, only if absent (part `row` fails when the row was granted)."""
    marker = GrantRowDone(
        *grant_row_key(batch_id, row_key),
        batch_id=batch_id,
        member_id=member_id,
        row_number=number,
        entry_id=entry_id,
        coupon_issued=entry_id is None,
        created_at=now,
    )
    uow.put("row", marker, GrantRowDone.pk.does_not_exist())


def grant_request_key(idempotency_key: str) -> tuple[str, str]:
    return keys.grant_request_pk(idempotency_key), keys.BULK_REQUEST_SK


def find_grant_request(idempotency_key: str) -> GrantRequest | None:
    try:
        return GrantRequest.get(*grant_request_key(idempotency_key), consistent_read=True)
    except GrantRequest.DoesNotExist:
        return None


def new_grant_request(idempotency_key: str, batch_id: str, **recording: Unpack[Recording]) -> GrantRequest:
    return GrantRequest.new(grant_request_key(idempotency_key), batch_id=batch_id, **recording)


# --- exports -------------------------------------------------------------------------


def new_export(export_id: str, **fields: Any) -> DataExport:
    return DataExport(keys.export_pk(export_id), keys.EXPORT_SK, export_id=export_id, **fields)


def add_export(uow: UnitOfWork, export: DataExport) -> None:
    uow.put("export", export, DataExport.pk.does_not_exist())


def get_export(export_id: str) -> DataExport | None:
    try:
        return DataExport.get(keys.export_pk(export_id), keys.EXPORT_SK, consistent_read=True)
    except DataExport.DoesNotExist:
        return None


def record_export_unit(export_id: str, unit: int) -> DataExport | None:
    """Add `unit` to the export's done units, once: None if it was there already."""
    export = DataExport(keys.export_pk(export_id), keys.EXPORT_SK)
    condition = (DataExport.status == "running") & (DataExport.units_done.does_not_exist() | ~DataExport.units_done.contains(unit))
    return export if _conditional(export, [DataExport.units_done.add({unit})], condition) else None


def finish_export(export_id: str, rows: int, now: datetime) -> bool:
    export = DataExport(keys.export_pk(export_id), keys.EXPORT_SK)
    actions = [DataExport.status.set("done"), DataExport.rows.set(rows), DataExport.finished_at.set(now)]
    return _conditional(export, actions, DataExport.status == "running")


def export_request_key(idempotency_key: str) -> tuple[str, str]:
    return keys.export_request_pk(idempotency_key), keys.BULK_REQUEST_SK


def find_export_request(idempotency_key: str) -> ExportRequest | None:
    try:
        return ExportRequest.get(*export_request_key(idempotency_key), consistent_read=True)
    except ExportRequest.DoesNotExist:
        return None


def new_export_request(idempotency_key: str, export_id: str, **recording: Unpack[Recording]) -> ExportRequest:
    return ExportRequest.new(export_request_key(idempotency_key), export_id=export_id, **recording)


# --- reading the table for an export -------------------------------------------------

SCAN_PAGE_ITEMS = 1000


def scan_page(entity: str, segment: int, segments: int, start_key: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One page of one parallel-Scan segment (DynamoDB's TotalSegments split), the items of type
    `entity` only, as raw DynamoDB items; and where the next page starts (None: the segment is done)."""
    from . import table

    request: dict[str, Any] = {
        "TableName": get_settings().table_name,
        "Segment": segment,
        "TotalSegments": segments,
        "Limit": SCAN_PAGE_ITEMS,
        "FilterExpression": "#t = :t",
        "ExpressionAttributeNames": {"#t": table.ENTITY_ATTRIBUTE},
        "ExpressionAttributeValues": {":t": {"S": entity}},
    }
    if start_key:
        request["ExclusiveStartKey"] = start_key
    page = connection().client.scan(**request)
    return page.get("Items", []), page.get("LastEvaluatedKey")


def members_from_raw(items: list[dict[str, Any]]) -> list[Member]:
    return [Member.from_raw_data(item) for item in items]


def ledger_from_raw(items: list[dict[str, Any]]) -> Iterator[LedgerEntry]:
    for item in items:
        yield LedgerEntry.from_raw_data(item)


def wallets_of(member_ids: list[str]) -> dict[str, int]:
    """Stored-value balances (minor units) of the members that have a wallet: BatchGetItem, 100 a request."""
    balances: dict[str, int] = {}
    for start in range(0, len(member_ids), 100):
        wanted = [(keys.member_pk(m), keys.WALLET_SK) for m in member_ids[start : start + 100]]
        for wallet in Wallet.batch_get(wanted):
            balances[str(wallet.member_id)] = int(wallet.balance)
    return balances


def members_by_id(member_ids: list[str]) -> list[Member]:
    found: list[Member] = []
    for start in range(0, len(member_ids), 100):
        found += list(Member.batch_get([(keys.member_pk(m), keys.PROFILE) for m in member_ids[start : start + 100]]))
    return found
