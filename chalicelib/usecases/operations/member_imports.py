"""Bulk import of members from a brand's old system (issue 16, item 3).

1. `create_import` (POST /v1/admin/imports): an import `waiting_upload`, audited, and a
   pre-signed PUT to the import bucket. With an Idempotency-Key the import's id is derived from
   the key, so a retried request finds the same import (and gets a fresh URL).
2. The operator PUTs the file (CSV with a header, or JSON lines).
3. `start_import` (POST .../start): checks the file's size (at most IMPORT_MAX_BYTES) and its
   first line (the header: known columns, phone among them) by one HEAD and one ranged GET;
   a refused file changes nothing (422 invalid_import_file, the reason in `detail`): upload a
   corrected file to the same import and start again. Else the import is `running` (audited) and
   its first part is queued on the jobs queue (`member-import` job, run id = import id).
4. `import_part` (the queue worker): one part of PART_ROWS rows, read from its byte offset by a
   ranged GET streamed line by line. Rows are validated (api/schemas/imports.py; the phone and
   the tier against the rules), duplicates within the part dropped (the first line wins), and
   the rest written in parallel, one transaction each (store/imports.py). The part's failed rows
   go to a result part file (line number and reason: nothing the operator did not upload), its
   counts are added to the import once, and the next part is queued (parts run in file order, so
   a phone's first line always wins over a later one in another part). The last part assembles
   the result file and marks the import `done`.

Exactly once under redelivery and reruns: a member's id is derived from (import, line) and its
phone guard names the import and line, so a redelivered part finds its rows made (counted as
imported again only if its counts were never recorded: `record_part` adds a part's counts once);
an import of the same file again (a new import) finds every phone taken: all skipped. Nothing is
sent to the members: imported members are `pending` until they sign up or sign in with an SMS code
(which activates them and keeps their balances; no welcome benefits: they are not new members).
"""

from __future__ import annotations

import csv
import hashlib
import json
import secrets
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from ...api.schemas.imports import ImportRequest, ImportRow, parse_row
from ...domain.clock import iso, today_in, utcnow
from ...domain.errors import IdempotencyConflict, InvalidImportFile, NotFound, ValidationFailed
from ...domain.imports import (
    DONE,
    MAX_LINE_BYTES,
    PART_ROWS,
    RUNNING,
    WAITING_UPLOAD,
    BadHeader,
    check_header,
    check_size,
    consent_source,
    lot_month_for_expiry,
)
from ...domain.messaging import recorded_consents
from ...domain.phones import InvalidPhone, normalise_phone
from ...domain.points import PointsState, earn, lot_expires_on, month_key
from ...domain.rules import ProgramRules
from ...observability import count, logger
from ...settings import get_settings
from ...store import import_files, job_queue
from ...store import imports as stored
from ...store import members as members_store
from ...store.ledger import ledger_entry, open_lot
from ...store.models_imports import MemberImport
from ...store.parameters import load_rules
from ...store.unit_of_work import Cancelled, UnitOfWork, run
from ...store.wallet import add_wallet_entry, new_wallet_entry_ids, wallet_write
from ..audit import Change, add_audit
from ..common import Answer, fingerprint

IMPORT_JOB = "member-import"
UPLOAD_URL_SECONDS = 3600
RESULT_URL_SECONDS = 3600
RESULT_COLUMNS = ("line", "reason")
# Rows of one part written at once (each its own transaction). The local stage and the tests write
# one at a time: their AWS endpoint (moto) makes each call atomic only one at a time (TOOL-NOTES.md).
WRITERS = 8


class _InOrder:
    def map(self, function: Any, items: list[Any]) -> Any:
        return map(function, items)


def _writers() -> Any:
    return _InOrder() if get_settings().is_local else ThreadPoolExecutor(max_workers=WRITERS)


# --- the operator's routes -------------------------------------------------------------------


def _new_import_id(now: datetime, idempotency_key: str | None) -> str:
    if idempotency_key is not None:
        return "imp_" + hashlib.sha256(f"import-key|{idempotency_key}".encode()).hexdigest()[:20]
    return f"imp_{now.strftime('%Y%m%d')}{secrets.token_hex(6)}"


def create_import(request: ImportRequest, actor: str, idempotency_key: str | None = None) -> Answer:
    """201: the import, waiting for its file, and where to PUT it. The same Idempotency-Key
    again: the same import (200, replayed, a fresh URL); with another format or tag: 409."""
    rules = load_rules()
    if request.tag is not None and request.tag not in {t.id for t in rules.member_tags}:
        raise ValidationFailed.single("tag", "not a declared tag (declare tags in the rules' member_tags)")
    now = utcnow()
    import_id = _new_import_id(now, idempotency_key)
    digest = fingerprint(request.model_dump(mode="json")) if idempotency_key is not None else None
    file_format = request.format
    item = stored.new_import(
        import_id,
        format=file_format,
        tag=request.tag,
        upload_key=import_files.upload_key(import_id, file_format),
        created_at=now,
        created_by=actor,
        idempotency_digest=digest,
    )

    def earlier(cancelled: Cancelled) -> MemberImport | None:
        if "import" not in cancelled.failed:
            return None
        return stored.get_import(import_id)

    def attempt(uow: UnitOfWork) -> MemberImport | None:
        stored.add_import(uow, item)
        add_audit(uow, Change(actor, "members.import.create", "import", import_id, None, {"format": file_format, "tag": request.tag}), rules, now)
        return uow.commit(explain=earlier)

    found = run(attempt)
    if found is not None:
        if found.idempotency_digest != digest:
            raise IdempotencyConflict("This Idempotency-Key already made an import with another format or tag")
        return Answer(200, import_view(found, now), replayed=True)
    logger.info("member import created", extra={"import_id": import_id, "format": file_format})
    return Answer(201, import_view(item, now))


def import_status(import_id: str) -> dict[str, Any]:
    return import_view(_get(import_id), utcnow())


def _get(import_id: str) -> MemberImport:
    item = stored.get_import(import_id)
    if item is None:
        raise NotFound(f"No import {import_id}")
    return item


def import_view(item: MemberImport, now: datetime) -> dict[str, Any]:
    body: dict[str, Any] = {
        "import_id": item.import_id,
        "format": item.format,
        "tag": item.tag,
        "status": item.status,
        "created_at": iso(item.created_at),
        "created_by": item.created_by,
        "started_at": iso(item.started_at) if item.started_at else None,
        "finished_at": iso(item.finished_at) if item.finished_at else None,
        "size_bytes": int(item.size) if item.size is not None else None,
        "max_bytes": get_settings().import_max_bytes,
        "progress": {
            "rows_read": int(item.rows_read or 0),
            "imported": int(item.imported or 0),
            "skipped_existing": int(item.skipped or 0),
            "failed": int(item.failed or 0),
            "parts_done": int(item.parts_done or 0),
        },
    }
    if item.status == WAITING_UPLOAD:
        body["upload"] = {
            "url": import_files.upload_url(str(item.upload_key), UPLOAD_URL_SECONDS),
            "method": "PUT",
            "expires_at": iso(now + timedelta(seconds=UPLOAD_URL_SECONDS)),
            "max_bytes": get_settings().import_max_bytes,
        }
    if item.status == DONE and item.result_key:
        body["result"] = {
            "url": import_files.download_url(str(item.result_key), RESULT_URL_SECONDS),
            "format": "text/csv",
            "expires_at": iso(now + timedelta(seconds=RESULT_URL_SECONDS)),
            "columns": list(RESULT_COLUMNS),
        }
    return body


def _header_of(item: MemberImport, size: int) -> tuple[str | None, int]:
    """The CSV header's columns (comma-separated) and where the first row starts; JSON lines: no
    header, the first line must be a JSON object. Raises BadHeader."""
    first = import_files.head_bytes(str(item.upload_key), min(size, MAX_LINE_BYTES + 2))
    newline = first.find(b"\n")
    line = first if newline < 0 and size <= len(first) else first[:newline] if newline >= 0 else None
    if line is None:
        raise BadHeader(f"the first line is longer than {MAX_LINE_BYTES} bytes")
    try:
        text = line.rstrip(b"\r").decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadHeader("the file is not UTF-8 text") from None
    end = len(line) + 1 if newline >= 0 else len(line)
    if item.format == "jsonl":
        try:
            first_row = json.loads(text)
        except ValueError:
            raise BadHeader("the first line is not a JSON object: the format is JSON lines, one object a line") from None
        if not isinstance(first_row, dict):
            raise BadHeader("the first line is not a JSON object: the format is JSON lines, one object a line")
        return None, 0
    columns = check_header(next(csv.reader([text]), []))
    return ",".join(columns), end


def start_import(import_id: str, actor: str) -> Answer:
    """202: the import runs (its first part queued). Started before: 200 and the import as it is.
    A file too big, or without a readable header: 422 invalid_import_file, nothing changed."""
    rules = load_rules()
    now = utcnow()
    item = _get(import_id)
    if item.status != WAITING_UPLOAD:
        return Answer(200, import_view(item, now))
    size = import_files.size_of(str(item.upload_key))
    if size is None:
        raise InvalidImportFile("Nothing was uploaded for this import yet: PUT the file to its upload URL, then start it")
    try:
        check_size(size, get_settings().import_max_bytes)
        columns, first_row = _header_of(item, size)
    except BadHeader as refused:
        logger.info("member import refused", extra={"import_id": import_id, "reason": str(refused)})
        raise InvalidImportFile(f"The file cannot be imported: {refused}") from None

    def attempt(uow: UnitOfWork) -> bool:
        stored.add_start(uow, item, size=size, columns=columns, now=now)
        add_audit(
            uow, Change(actor, "members.import.start", "import", import_id, {"status": WAITING_UPLOAD}, {"status": RUNNING, "size": size}), rules, now
        )
        return uow.commit(explain=lambda cancelled: False) is None

    if not run(attempt):  # another start got there first
        return Answer(200, import_view(_get(import_id), now))
    unit = {"kind": "rows", "import_id": import_id, "part": 0, "offset": first_row, "line": 2 if columns is not None else 1}
    job_queue.start_units(IMPORT_JOB, today_in(rules.zone, now).isoformat(), [unit], now=now, run_id=import_id)
    logger.info("member import started", extra={"import_id": import_id, "size": size})
    return Answer(202, import_view(_get(import_id), now))


# --- one part, on the jobs queue -------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    line: int
    values: dict[str, Any] | None  # None: the line could not be read as a row (reason)
    reason: str | None = None


def _rows_of(item: MemberImport, offset: int, first_line: int) -> tuple[list[_Row], int, int, bool]:
    """Up to PART_ROWS rows from `offset` (blank lines are skipped, but counted as lines), where
    the next part starts, the last line read, and whether the file ended."""
    columns = str(item.columns).split(",") if item.columns else None
    rows: list[_Row] = []
    line_number = first_line - 1
    end = offset
    ended = True
    for line in import_files.lines_from(str(item.upload_key), offset, MAX_LINE_BYTES):
        line_number += 1
        end = line.end
        if line.data is None:
            rows.append(_Row(line_number, None, f"the line is longer than {MAX_LINE_BYTES} bytes"))
        elif line.data.strip():
            rows.append(_read_line(line.data, line_number, columns))
        if len(rows) >= PART_ROWS:
            ended = end >= int(item.size or 0)
            break
    return rows, end, line_number, ended


def _read_line(data: bytes, line: int, columns: list[str] | None) -> _Row:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _Row(line, None, "not UTF-8 text")
    if columns is None:
        try:
            values = json.loads(text)
        except ValueError:
            return _Row(line, None, "not a JSON object")
        return _Row(line, values) if isinstance(values, dict) else _Row(line, None, "not a JSON object")
    try:
        fields = next(csv.reader([text], strict=True), [])
    except csv.Error:
        return _Row(line, None, "not a CSV row (a quote is not closed)")
    if len(fields) != len(columns):
        return _Row(line, None, f"{len(fields)} fields where the header has {len(columns)}")
    return _Row(line, dict(zip(columns, fields, strict=True)))


@dataclass(frozen=True)
class _Member:
    """A row that passed validation, ready to write."""

    line: int
    phone: str
    row: ImportRow
    tier: str
    consented_at: datetime | None = None  # when the old system recorded the row's consents


def _consent_time(row: ImportRow, rules: ProgramRules, now: datetime) -> datetime | str | None:
    """When the row's consents were given (a date: the start of that day in the program's zone);
    a time after now is refused."""
    given = row.consented_at
    if given is None:
        return None
    at = given if isinstance(given, datetime) else datetime.combine(given, time(0), rules.zone)
    if at > now:
        return "consented_at: must not be in the future"
    return at


def _validated(row: _Row, rules: ProgramRules, today: date, now: datetime) -> _Member | str:
    if row.values is None:
        return row.reason or "unreadable"
    parsed = parse_row(row.values)
    if isinstance(parsed, str):
        return parsed
    try:
        phone = normalise_phone(parsed.phone, rules.default_region)
    except InvalidPhone as exc:
        return f"phone: {exc}"
    tier = parsed.tier or rules.base_tier.id
    if tier not in {t.id for t in rules.tiers}:
        return f"tier: not one of the program's tiers ({', '.join(t.id for t in rules.tiers)})"
    if parsed.points_expire_on is not None:
        if not parsed.points:
            return "points_expire_on: given without points"
        if parsed.points_expire_on <= today:
            return "points_expire_on: must be after today"
    consented_at = _consent_time(parsed, rules, now)
    if isinstance(consented_at, str):
        return consented_at
    return _Member(row.line, phone, parsed, tier, consented_at)


def _write_member(candidate: _Member, import_id: str, rules: ProgramRules, tag: str | None) -> stored.PhoneHeld | None:
    """One row, one transaction: None once made, else why the phone was held."""
    row = candidate.row
    member_id = stored.imported_member_id(import_id, candidate.line)

    def attempt(uow: UnitOfWork) -> stored.PhoneHeld | None:
        now = utcnow()
        today = today_in(rules.zone, now)
        today_month = month_key(today)
        member = members_store.new_member(candidate.phone, tier=candidate.tier, joined=today, now=now, member_id=member_id)
        birthday = row.birthday.isoformat() if row.birthday else None
        extra: dict[str, Any] = {"imported_by": import_id, "name": row.name, "external_id": row.external_id}
        if tag is not None:
            extra["operator_tags"] = {tag}
        if birthday:
            extra |= {"birthday": birthday, "birthday_bucket": members_store.birthday_bucket_for(member_id, birthday)}
        consents = row.consents()
        if consents:
            extra["consents"] = consents
            at = iso(candidate.consented_at or now)
            extra["consent_records"] = recorded_consents({}, {}, consents, at, consent_source(import_id))
        for name, value in extra.items():
            setattr(member, name, value)
        if row.points:
            month = lot_month_for_expiry(row.points_expire_on, rules.points_validity_months) if row.points_expire_on else today_month
            state = earn(PointsState(), row.points, month, qualifying=False)
            members_store.apply_points(member, state)
            uow.put("ledger", ledger_entry(member_id, "imported", row.points, state.balance, import_id, now, lot=month))
            open_lot(uow, member_id, month, lot_expires_on(month, rules.points_validity_months), held={})
        if row.stored_value:
            currency = rules.currencies[0]
            wallet_write(uow, member_id, None, row.stored_value, currency, now)
            (entry_id,) = new_wallet_entry_ids(None, 1)
            add_wallet_entry(uow, "wallet_entry", member_id, entry_id, "imported", row.stored_value, row.stored_value, import_id, now)
        stored.add_imported_member(uow, member, import_id, candidate.line)
        return uow.commit(explain=lambda cancelled: stored.why_not_imported(cancelled, candidate.phone, import_id, candidate.line))

    return run(attempt)


@dataclass(frozen=True)
class PartDone:
    """What a part did (the job's tally) and the part to queue next (None: none to queue)."""

    tally: Counter[str]
    next_unit: dict[str, Any] | None = None


def import_part(unit: dict[str, Any]) -> PartDone:
    """The work of one `member-import` unit: one part, done once however often (or however
    concurrently) SQS delivers it (module docstring)."""
    tally: Counter[str] = Counter()
    import_id, part = str(unit["import_id"]), int(unit["part"])
    item = stored.get_import(import_id)
    if item is None or item.status != RUNNING:
        tally["skipped.not_running"] += 1
        return PartDone(tally)
    rules = load_rules()
    rows, end, last_line, ended = _rows_of(item, int(unit["offset"]), int(unit["line"]))
    done_before = int(item.parts_done or 0)
    follow = False
    if done_before <= part:
        outcomes = _import_rows(rows, import_id, rules, str(item.tag) if item.tag else None)
        if outcomes.failures:
            import_files.put_result_part(import_files.result_part_key(import_id, part), _failures_csv(outcomes.failures))
        counts = stored.PartCounts(read=len(rows), imported=outcomes.imported, skipped=outcomes.skipped, failed=len(outcomes.failures))
        if stored.record_part(import_id, part, counts):
            follow = True
            tally["examined"] += counts.read
            tally["affected"] += counts.imported
            tally["skipped.already_a_member"] += counts.skipped
            tally["failed"] += counts.failed
            count("MembersImported", counts.imported)
        else:
            tally["skipped.part_already_done"] += 1  # a twin delivery recorded it (and queues the next)
    else:
        # Recorded by an earlier delivery that may have stopped before queueing the next part:
        # queue it, unless the import is already further on.
        tally["skipped.part_already_done"] += 1
        follow = done_before == part + 1
    if ended:
        if _finish(import_id):
            tally["completed"] += 1
        return PartDone(tally)
    if not follow:
        return PartDone(tally)
    tally["units_added"] += 1
    return PartDone(tally, {**unit, "part": part + 1, "offset": end, "line": last_line + 1})


@dataclass(frozen=True)
class _Outcomes:
    imported: int
    skipped: int
    failures: list[tuple[int, str]]


def _import_rows(rows: list[_Row], import_id: str, rules: ProgramRules, tag: str | None) -> _Outcomes:
    now = utcnow()
    today = today_in(rules.zone, now)
    failures: list[tuple[int, str]] = []
    first_line: dict[str, int] = {}
    to_write: list[_Member] = []
    for row in rows:
        checked = _validated(row, rules, today, now)
        if isinstance(checked, str):
            failures.append((row.line, checked))
        elif checked.phone in first_line:
            failures.append((row.line, f"duplicate phone: line {first_line[checked.phone]} has it"))
        else:
            first_line[checked.phone] = row.line
            to_write.append(checked)
    imported = skipped = 0
    held = list(_writers().map(lambda candidate: _write_member(candidate, import_id, rules, tag), to_write))
    for candidate, why in zip(to_write, held, strict=True):
        if why is None or why.why == "mine":
            imported += 1
        elif why.why == "duplicate":
            failures.append((candidate.line, f"duplicate phone: line {why.row} has it"))
        else:
            skipped += 1
    failures.sort()
    return _Outcomes(imported, skipped, failures)


def _failures_csv(failures: list[tuple[int, str]]) -> bytes:
    out: list[str] = []
    for line, reason in failures:
        quoted = '"' + reason.replace('"', '""') + '"'
        out.append(f"{line},{quoted}\r\n")
    return "".join(out).encode()


def _finish(import_id: str) -> bool:
    """The last part found the end of the file: the failed rows' file, then `done` (once)."""
    parts = import_files.list_result_parts(import_id)
    result = None
    if parts:
        result = import_files.result_key(import_id)
        import_files.assemble_result(parts, result, ("\ufeff" + ",".join(RESULT_COLUMNS) + "\r\n").encode(), f"{import_id}-failed-rows.csv")
    finished = stored.mark_done(import_id, result, utcnow())
    if finished:
        import_files.delete_files(parts)
        logger.info("member import done", extra={"import_id": import_id})
    return finished
