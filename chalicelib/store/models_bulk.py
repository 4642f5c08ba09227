"""PynamoDB models for bulk grants and exports (store/bulk.py; key formats in keys.py)."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, NumberSetAttribute, UnicodeAttribute, UTCDateTimeAttribute

from .models import BaseItem, Recorded


class GrantBatch(BaseItem, discriminator="GrantBatch"):
    """`GRANTBATCH#<batch_id>` / `BATCH`: an operator's bulk grant: what it gives (points, or a
    coupon of a reward), why, and how far it got. `awaiting_upload` until started; `running`
    while its parts are granted (each part adds itself to `parts_done` and its row counts once,
    by a conditional update); `done` once every part is; `failed` when its file cannot be read."""

    batch_id = UnicodeAttribute()
    kind = UnicodeAttribute()  # points | coupon
    reason = UnicodeAttribute()
    default_points = NumberAttribute(null=True)
    default_coupon = UnicodeAttribute(null=True)  # a reward id of the catalogue
    status = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()
    started_at = UTCDateTimeAttribute(null=True)
    finished_at = UTCDateTimeAttribute(null=True)
    error = UnicodeAttribute(null=True)  # why a failed batch failed (a bad header), never a row's content
    parts = NumberAttribute(null=True)
    parts_done = NumberSetAttribute(null=True)
    rows = NumberAttribute(null=True)
    granted = NumberAttribute(null=True)
    already_granted = NumberAttribute(null=True)
    failed = NumberAttribute(null=True)
    points_granted = NumberAttribute(null=True)


class GrantRowDone(BaseItem, discriminator="GrantRowDone"):
    """`GRANTROW#<batch_id>#<row key>` / `ROW`: one row of a batch granted, put only if absent in
    the transaction that grants it, so no delivery or rerun grants a row twice. A partition of
    its own per row: a batch's grants spread over the table instead of one hot key."""

    batch_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    row_number = NumberAttribute()  # the row of the file that granted it (a second row with its row_id is skipped)
    entry_id = UnicodeAttribute(null=True)  # the ledger entry of a points grant
    coupon_issued = BooleanAttribute(null=True)
    created_at = UTCDateTimeAttribute()


class GrantRequest(Recorded, discriminator="GrantRequest"):
    """`GRANTREQ#<sha256 of the Idempotency-Key>` / `REQUEST`: the request that made a batch, put
    (if absent) with it, so one key never makes two batches."""

    batch_id = UnicodeAttribute()


class DataExport(BaseItem, discriminator="DataExport"):
    """`EXPORT#<export_id>` / `EXPORT`: an operator's CSV export of members (all, or a segment's
    audience) or of the ledger, fanned out as units (Scan segments or audience parts); each unit
    adds itself to `units_done` once; the last assembles the file and makes it `done`."""

    export_id = UnicodeAttribute()
    of = UnicodeAttribute()  # members | ledger
    segment_id = UnicodeAttribute(null=True)
    audience_id = UnicodeAttribute(null=True)
    from_day = UnicodeAttribute(null=True)
    to_day = UnicodeAttribute(null=True)
    include_personal = BooleanAttribute(default=False)
    status = UnicodeAttribute()  # running | done
    units = NumberAttribute()
    units_done = NumberSetAttribute(null=True)
    rows = NumberAttribute(null=True)
    file_key = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()
    finished_at = UTCDateTimeAttribute(null=True)


class ExportRequest(Recorded, discriminator="ExportRequest"):
    """`EXPORTREQ#<sha256 of the Idempotency-Key>` / `REQUEST`: one key, one export."""

    export_id = UnicodeAttribute()
