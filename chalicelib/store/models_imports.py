"""PynamoDB model of a bulk import of members (imported by models.py so its discriminator is
registered). Key formats are in `keys.py`; what an import keeps and why in store/imports.py."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute

from .models import BaseItem


class MemberImport(BaseItem, discriminator="MemberImport"):
    """`IMPORT#<import_id>` / `IMPORT`: an operator's import of members from a file.

    `waiting_upload` until started (a start that refuses the file changes nothing), then `running`
    while its parts (PART_ROWS rows each, one after the other) import, `done` once the last part
    found the end of the file. Each part adds its counts once: the update that
    adds them is conditioned on `parts_done` being the part's own number, and moves it on."""

    import_id = UnicodeAttribute()
    format = UnicodeAttribute()
    tag = UnicodeAttribute(null=True)  # the operator tag every imported member gets
    status = UnicodeAttribute()
    upload_key = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()
    idempotency_digest = UnicodeAttribute(null=True)
    size = NumberAttribute(null=True)
    columns = UnicodeAttribute(null=True)  # a CSV header's columns, comma-separated, as checked at start
    started_at = UTCDateTimeAttribute(null=True)
    finished_at = UTCDateTimeAttribute(null=True)
    parts_done = NumberAttribute(default=0)
    rows_read = NumberAttribute(default=0)
    imported = NumberAttribute(default=0)
    skipped = NumberAttribute(default=0)
    failed = NumberAttribute(default=0)
    result_key = UnicodeAttribute(null=True)  # the failed rows' file, once done (when any failed)
