"""Operators' CSV exports of the members (all, or a segment's audience) or of the ledger.

`POST /v1/admin/exports` puts the export (audited, with whether it holds personal fields; with an
Idempotency-Key, its request record in the same transaction) and queues its units on the jobs
queue (`bulk-exports` job, run id = export id):

- all members, or the ledger: one `scan` unit per segment of a DynamoDB parallel Scan
  (TotalSegments = SCAN_SEGMENTS: DynamoDB splits the table, no home-made split). A unit reads
  its segment a page at a time (at most 1,000 items read a page), writes each page's rows as one
  part file `bulk/exports/<id>/part-UUUU-PPPPP.csv`, and, if it runs out of time, hands the rest
  of its segment to a follow-up unit (as the reconcile job does);
- a segment: one `audience` unit per part of the segment's latest audience (10,000 member ids),
  its members read by BatchGetItem.

A unit that finished its share adds itself to the export's done units once (a conditional
update); the one that completes the set concatenates the parts, in order, behind the header into
`bulk/exports/<id>.csv` (a multipart upload fed 8 MiB at a time: memory flat in the file's size)
and makes the export `done` with its row count. `GET /v1/admin/exports/{id}` then gives a
pre-signed download good for EXPORT_URL_SECONDS (fresh on every GET; the bucket deletes the file
after a day). Units are idempotent: a second delivery writes the same part files again.

Every cell goes through `domain.bulk.safe_cell`: a value starting with = + - @ gets a leading
apostrophe, so a spreadsheet never runs a member's name as a formula.
"""

from __future__ import annotations

import csv
import io
import secrets
import time
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from ...api.schemas.bulk import ExportRequest
from ...domain.bulk import safe_cell
from ...domain.clock import iso, today_in, utcnow
from ...domain.errors import NotFound
from ...observability import count, logger
from ...store import audiences, bulk_files, job_queue
from ...store import bulk as stored
from ...store.idempotency import existing_record, new_write_token, put_record, replay
from ...store.models import LedgerEntry, Member
from ...store.models_bulk import DataExport
from ...store.models_bulk import ExportRequest as ExportRecord
from ...store.parameters import load_rules
from ...store.unit_of_work import Cancelled, UnitOfWork, run
from ..audit import Change, add_audit
from ..common import Answer, fingerprint, replayed
from . import segments

JOB = "bulk-exports"
SCAN_SEGMENTS = 4
UNIT_SECONDS = 60
EXPORT_URL_SECONDS = 900
MEMBER_COLUMNS = ("member_id", "status", "tier", "points", "stored_value", "joined_on")
PERSONAL_COLUMNS = ("phone", "name", "email", "birthday")
LEDGER_COLUMNS = ("entry_id", "member_id", "kind", "points", "balance_after", "ref", "lot", "created_at")


def new_export_id(now: datetime) -> str:
    return f"exp_{now.strftime('%Y%m%d')}{secrets.token_hex(6)}"


def _folder(export_id: str) -> str:
    return f"bulk/exports/{export_id}"


def _file_key(export_id: str) -> str:
    return f"{_folder(export_id)}.csv"


def _part_key(export_id: str, unit: int, page: int) -> str:
    return f"{_folder(export_id)}/part-{unit:04d}-{page:05d}.csv"


def columns_of(export: DataExport) -> tuple[str, ...]:
    if export.of == "ledger":
        return LEDGER_COLUMNS
    return MEMBER_COLUMNS + (PERSONAL_COLUMNS if export.include_personal else ())


def export_view(export: DataExport) -> dict[str, Any]:
    body: dict[str, Any] = {
        "export_id": export.export_id,
        "of": export.of,
        "segment_id": export.segment_id,
        "audience_id": export.audience_id,
        "from": export.from_day,
        "to": export.to_day,
        "include_personal": bool(export.include_personal),
        "status": export.status,
        "columns": list(columns_of(export)),
        "created_at": iso(export.created_at),
        "created_by": export.created_by,
        "finished_at": iso(export.finished_at) if export.finished_at else None,
        "progress": {
            "units_done": len(export.units_done or ()),
            "units_total": int(export.units),
            "rows": int(export.rows) if export.rows is not None else None,
        },
    }
    if export.status == "done":
        now = utcnow()
        body["download"] = {
            "url": bulk_files.download_url(str(export.file_key), EXPORT_URL_SECONDS, f"{export.export_id}.csv"),
            "format": "text/csv",
            "expires_at": iso(now + timedelta(seconds=EXPORT_URL_SECONDS)),
        }
    return body


def create_export(request: ExportRequest, actor: str, idempotency_key: str | None = None) -> Answer:
    """202: the export, running, its units queued. With an Idempotency-Key the same request again
    answers the same export (200, replayed); another under the key is 409 idempotency_conflict.
    404 for no such segment."""
    rules = load_rules()
    now = utcnow()
    digest = fingerprint(request.model_dump(mode="json"))
    write_token = new_write_token()
    conflict = "This Idempotency-Key already made an export of something else"
    if idempotency_key is not None:
        earlier = stored.find_export_request(idempotency_key)
        if earlier is not None:
            return _replay_export(earlier, digest, conflict, write_token)
    export_id = new_export_id(now)
    manifest = segments.current_audience(request.segment_id) if request.segment_id is not None else None
    units: list[dict[str, Any]]
    if manifest is not None:
        units = [{"kind": "audience", "export_id": export_id, "unit": i, "key": key} for i, key in enumerate(manifest.parts)]
    else:
        units = [{"kind": "scan", "export_id": export_id, "unit": s, "segments": SCAN_SEGMENTS, "page": 0} for s in range(SCAN_SEGMENTS)]
    export = stored.new_export(
        export_id,
        of=request.of,
        segment_id=request.segment_id,
        audience_id=manifest.audience_id if manifest is not None else None,
        from_day=request.from_.isoformat() if request.from_ else None,
        to_day=request.to.isoformat() if request.to else None,
        include_personal=request.include_personal,
        status="running",
        units=len(units),
        file_key=_file_key(export_id),
        created_at=now,
        created_by=actor,
    )
    body = export_view(export)

    def lost_to_twin(cancelled: Cancelled) -> Answer | None:
        if idempotency_key is None:
            return None
        record = existing_record(cancelled, "request", ExportRecord, stored.export_request_key(idempotency_key))
        return _replay_export(record, digest, conflict, write_token) if record is not None else None

    def attempt(uow: UnitOfWork) -> Answer | None:
        stored.add_export(uow, export)
        if idempotency_key is not None:
            put_record(
                uow,
                "request",
                stored.new_export_request(idempotency_key, export_id, fingerprint=digest, write_token=write_token, response=body, now=now),
            )
        after = {
            "of": request.of,
            "segment_id": request.segment_id,
            "include_personal": request.include_personal,
            "from": export.from_day,
            "to": export.to_day,
        }
        add_audit(uow, Change(actor, "exports.create", "export", export_id, None, after), rules, now)
        return uow.commit(explain=lost_to_twin)

    earlier_answer = run(attempt)
    if earlier_answer is not None:
        return earlier_answer
    job_queue.start_units(JOB, today_in(rules.zone, now).isoformat(), units, now=now, run_id=export_id)
    if not units:  # an empty audience: nothing to wait for
        _complete(export_id)
    logger.info("export started", extra={"export_id": export_id, "of": request.of, "include_personal": request.include_personal, "units": len(units)})
    return Answer(202, export_view(_existing(export_id)))


def _replay_export(record: ExportRecord, digest: str, conflict: str, write_token: str) -> Answer:
    earlier = replay(record, digest, conflict, write_token)
    body = export_view(_existing(str(record.export_id)))
    return replayed(type(earlier)(body, own_write=earlier.own_write))


def _existing(export_id: str) -> DataExport:
    export = stored.get_export(export_id)
    if export is None:
        raise NotFound("No such export")
    return export


def export_status(export_id: str) -> dict[str, Any]:
    return export_view(_existing(export_id))


# --- the units -----------------------------------------------------------------------


def _csv(rows: Iterable[Iterable[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()


def _member_rows(members: list[Member], personal: bool, zone: Any) -> list[list[object]]:
    wallets = stored.wallets_of([str(m.member_id) for m in members])
    rows: list[list[object]] = []
    for member in sorted(members, key=lambda m: str(m.member_id)):
        row: list[object] = [
            member.member_id,
            member.status,
            member.tier,
            int(member.balance or 0),
            wallets.get(str(member.member_id), 0),
            member.created_at.astimezone(zone).date().isoformat(),
        ]
        if personal:
            row += [member.phone, member.name, member.email, member.birthday]
        rows.append(row)
    return rows


def _ledger_rows(entries: Iterable[LedgerEntry], first: date, last: date, zone: Any) -> list[list[object]]:
    rows: list[list[object]] = []
    for entry in entries:
        day = entry.created_at.astimezone(zone).date()
        if first <= day <= last:
            member_id = str(entry.pk).removeprefix("MEMBER#")
            rows.append(
                [entry.entry_id, member_id, entry.kind, int(entry.points), int(entry.balance_after), entry.ref, entry.lot, iso(entry.created_at)]
            )
    return rows


def scan_unit(unit: dict[str, Any], *, deadline: float | None) -> tuple[Counter[str], list[dict[str, Any]]]:
    """One parallel-Scan segment (from where the unit before stopped): a part file per page."""
    tally: Counter[str] = Counter()
    export = _existing(str(unit["export_id"]))
    number = int(unit["unit"])
    if export.status != "running" or number in (export.units_done or set()):
        tally["skipped.already_done"] += 1
        return tally, []
    zone = load_rules().zone
    start_key, page = unit.get("start_key"), int(unit.get("page", 0))
    entity = "LedgerEntry" if export.of == "ledger" else "Member"
    while True:
        items, start_key = stored.scan_page(entity, number, int(unit["segments"]), start_key)
        tally["scan_round_trips"] += 1
        if export.of == "ledger":
            rows = _ledger_rows(stored.ledger_from_raw(items), date.fromisoformat(str(export.from_day)), date.fromisoformat(str(export.to_day)), zone)
        else:
            rows = _member_rows(stored.members_from_raw(items), bool(export.include_personal), zone)
        if rows:
            bulk_files.put_text(_part_key(str(export.export_id), number, page), _csv(rows))
            page += 1
        tally["examined"] += len(rows)
        if start_key is None:
            break
        if deadline is not None and time.monotonic() > deadline:
            tally["units_added"] += 1
            return tally, [{**unit, "start_key": start_key, "page": page}]
    _unit_done(export, number, tally)
    return tally, []


def audience_unit(unit: dict[str, Any]) -> Counter[str]:
    """One part of a segment's audience: its members (BatchGetItem), one part file."""
    tally: Counter[str] = Counter()
    export = _existing(str(unit["export_id"]))
    number = int(unit["unit"])
    if export.status != "running" or number in (export.units_done or set()):
        tally["skipped.already_done"] += 1
        return tally
    member_ids = audiences.part(str(unit["key"]))
    members = stored.members_by_id(member_ids)
    rows = _member_rows(members, bool(export.include_personal), load_rules().zone)
    bulk_files.put_text(_part_key(str(export.export_id), number, 0), _csv(rows))
    tally["examined"] += len(rows)
    tally["skipped.member_gone"] += len(member_ids) - len(members)
    _unit_done(export, number, tally)
    return tally


def _unit_done(export: DataExport, number: int, tally: Counter[str]) -> None:
    updated = stored.record_export_unit(str(export.export_id), number)
    complete = updated is not None and len(updated.units_done or ()) == int(updated.units)
    if complete and _complete(str(export.export_id)):
        tally["completed"] += 1


def _complete(export_id: str) -> bool:
    export = _existing(export_id)
    parts = [k for k in bulk_files.keys_under(f"{_folder(export_id)}/") if k.endswith(".csv")]
    head = ("\ufeff" + _csv([columns_of(export)])).encode()
    rows = bulk_files.concatenate(str(export.file_key), parts, head=head)
    if not stored.finish_export(export_id, rows, utcnow()):
        return False
    count("ExportRows", rows)
    logger.info("export done", extra={"export_id": export_id, "rows": rows})
    return True
