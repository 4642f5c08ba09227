"""Operators' bulk grants: points, or a coupon, to every member a CSV file names.

1. `POST /v1/admin/grants` puts the batch (`awaiting_upload`: what it gives and why, audited; with
   an Idempotency-Key, its request record, in the same transaction) and answers a pre-signed PUT
   URL for the file (`bulk/grants/<batch>/upload.csv` in the exports bucket, good for an hour).
2. `POST /v1/admin/grants/{id}/start` checks the file is there (and not over 50 MB), makes the
   batch `running` (audited) and queues one `split` unit of the `bulk-grants` job.
3. `split` streams the file (never whole in memory), judges its header (a bad one fails the batch,
   with the reason), cuts its rows into parts of GRANT_PART_ROWS (`rows-NNNNN.jsonl`), records the
   number of parts and rows once, and adds one `rows` unit per part to the run.
4. A `rows` unit grants its part's rows, each in one transaction: the member's balance, an
   `adjust` ledger entry (ref `grant:<batch>:<row key>`) and its lot, or the coupon and its code
   guard; and the row's marker `GRANTROW#<batch>#<row key>` put only if absent. A row whose marker
   exists grants nothing: a second delivery of the unit, a rerun, or a second row with the same
   `row_id`. Rows that cannot be granted (bad cells, an unknown, frozen or closed member, a reward
   no longer in the catalogue) go to the part's failed-rows file with the reason (never the row's
   content: the operator has the file). The part then adds itself and its counts to the batch once
   (a conditional update); the part that completes the batch writes `failed.csv` and makes it `done`.

Why `adjust`: a bulk grant is an operator's credit, like a single adjustment (a new lot that
expires like earned points, not counting toward tiers), and brands' systems already hear it as
`points.adjusted`; the ref tells which batch and row.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from ...api.schemas.bulk import GrantBatchRequest
from ...domain.bulk import (
    GRANT_PART_ROWS,
    MAX_GRANT_FILE_BYTES,
    MAX_GRANT_ROWS,
    BadHeader,
    GrantRow,
    RowProblem,
    grant_header,
    judge_grant_row,
    safe_cell,
)
from ...domain.clock import iso, today_in, utcnow
from ...domain.coupons import gift_expires_at
from ...domain.errors import InvalidState, NotFound, PayloadTooLarge, ValidationFailed
from ...domain.membership import Status
from ...domain.points import earn, lot_expires_on, month_key
from ...domain.rules import ProgramRules
from ...observability import count, logger
from ...store import bulk as stored
from ...store import bulk_files, job_queue
from ...store.coupons import add_coupon, new_coupon
from ...store.idempotency import existing_record, new_write_token, put_record, replay
from ...store.ledger import ledger_entry, open_lot
from ...store.members import member_id_for_phone, points_state, points_update
from ...store.models_bulk import GrantBatch, GrantRequest
from ...store.parameters import load_rules
from ...store.rewards import get_reward
from ...store.unit_of_work import Cancelled, UnitOfWork, run
from ..audit import Change, add_audit
from ..common import Answer, created, fingerprint, replayed

JOB = "bulk-grants"
UPLOAD_URL_SECONDS = 3600
RESULT_URL_SECONDS = 900
FAILED_COLUMNS = ("row", "row_id", "reason")


def new_batch_id(now: datetime) -> str:
    return f"grt_{now.strftime('%Y%m%d')}{secrets.token_hex(6)}"


def _folder(batch_id: str) -> str:
    return f"bulk/grants/{batch_id}"


def upload_key(batch_id: str) -> str:
    return f"{_folder(batch_id)}/upload.csv"


def _rows_key(batch_id: str, part: int) -> str:
    return f"{_folder(batch_id)}/rows-{part:05d}.jsonl"


def _failed_part_key(batch_id: str, part: int) -> str:
    return f"{_folder(batch_id)}/failed-{part:05d}.csv"


def _failed_key(batch_id: str) -> str:
    return f"{_folder(batch_id)}/failed.csv"


# --- the views -----------------------------------------------------------------------


def batch_view(batch: GrantBatch) -> dict[str, Any]:
    parts = batch.parts
    body: dict[str, Any] = {
        "batch_id": batch.batch_id,
        "kind": batch.kind,
        "reason": batch.reason,
        "default_points": int(batch.default_points) if batch.default_points is not None else None,
        "default_coupon": batch.default_coupon,
        "status": batch.status,
        "created_at": iso(batch.created_at),
        "created_by": batch.created_by,
        "started_at": iso(batch.started_at) if batch.started_at else None,
        "finished_at": iso(batch.finished_at) if batch.finished_at else None,
        "progress": {
            "parts_done": len(batch.parts_done or ()),
            "parts_total": int(parts) if parts is not None else None,
            "rows": int(batch.rows) if batch.rows is not None else None,
            "granted": int(batch.granted or 0),
            "already_granted": int(batch.already_granted or 0),
            "failed": int(batch.failed or 0),
            "points_granted": int(batch.points_granted or 0),
        },
    }
    if batch.error:
        body["error"] = batch.error
    if batch.status == "done":
        now = utcnow()
        body["failed_rows"] = {
            "url": bulk_files.download_url(_failed_key(str(batch.batch_id)), RESULT_URL_SECONDS, f"{batch.batch_id}-failed.csv"),
            "format": "text/csv",
            "columns": list(FAILED_COLUMNS),
            "expires_at": iso(now + timedelta(seconds=RESULT_URL_SECONDS)),
        }
    return body


def _upload(batch_id: str, now: datetime) -> dict[str, Any]:
    return {
        "url": bulk_files.upload_url(upload_key(batch_id), UPLOAD_URL_SECONDS),
        "method": "PUT",
        "expires_at": iso(now + timedelta(seconds=UPLOAD_URL_SECONDS)),
        "max_bytes": MAX_GRANT_FILE_BYTES,
    }


# --- create and start ----------------------------------------------------------------


def create_batch(request: GrantBatchRequest, actor: str, idempotency_key: str | None = None) -> Answer:
    """201: the batch, awaiting its file, and where to PUT it. With an Idempotency-Key the same
    request again answers the same batch (200, replayed, a fresh upload URL while it awaits its
    file); another request under the key is 409 idempotency_conflict."""
    rules = load_rules()
    now = utcnow()
    digest = fingerprint(request.model_dump(mode="json"))
    write_token = new_write_token()
    conflict = "This Idempotency-Key already made a grant batch with a different kind, amount, coupon or reason"
    if idempotency_key is not None:
        earlier = stored.find_grant_request(idempotency_key)
        if earlier is not None:
            return _replay_batch(earlier, digest, conflict, write_token)
    if request.kind == "coupon" and request.default_coupon is not None:
        reward = get_reward(request.default_coupon)
        if reward is None or not reward.active:
            raise ValidationFailed.single("default_coupon", "no active reward with that id in the catalogue")
    batch_id = new_batch_id(now)
    batch = stored.new_grant_batch(
        batch_id,
        kind=request.kind,
        reason=request.reason,
        default_points=request.default_points,
        default_coupon=request.default_coupon,
        status="awaiting_upload",
        created_at=now,
        created_by=actor,
    )
    body = batch_view(batch)

    def lost_to_twin(cancelled: Cancelled) -> Answer | None:
        if idempotency_key is None:
            return None
        record = existing_record(cancelled, "request", GrantRequest, stored.grant_request_key(idempotency_key))
        return _replay_batch(record, digest, conflict, write_token) if record is not None else None

    def attempt(uow: UnitOfWork) -> Answer | None:
        stored.add_grant_batch(uow, batch)
        if idempotency_key is not None:
            put_record(
                uow,
                "request",
                stored.new_grant_request(idempotency_key, batch_id, fingerprint=digest, write_token=write_token, response=body, now=now),
            )
        after = {"kind": request.kind, "default_points": request.default_points, "default_coupon": request.default_coupon}
        add_audit(uow, Change(actor, "grants.create", "grant_batch", batch_id, None, after, reason=request.reason), rules, now)
        return uow.commit(explain=lost_to_twin)

    earlier_answer = run(attempt)
    if earlier_answer is not None:
        return earlier_answer
    logger.info("grant batch created", extra={"batch_id": batch_id, "kind": request.kind})
    return created({**body, "upload": _upload(batch_id, now)})


def _replay_batch(record: GrantRequest, digest: str, conflict: str, write_token: str) -> Answer:
    earlier = replay(record, digest, conflict, write_token)
    batch = stored.get_grant_batch(str(record.batch_id))
    if batch is None:  # put with its record: never apart
        raise NotFound("No such grant batch")
    body = batch_view(batch)
    if batch.status == "awaiting_upload":
        body["upload"] = _upload(str(batch.batch_id), utcnow())
    return replayed(type(earlier)(body, own_write=earlier.own_write))


def start_batch(batch_id: str, actor: str) -> Answer:
    """202: the batch, running, its file queued to be split. A batch started already answers as it
    is (200): starting twice queues nothing twice. 409 invalid_state before its file is uploaded;
    413 for a file over 50 MB."""
    rules = load_rules()
    batch = _existing(batch_id)
    if batch.status != "awaiting_upload":
        if batch.status == "running" and batch.parts is None and batch.started_at is not None:
            # Its split may never have been queued (a crash after the commit): splitting is idempotent.
            as_of = today_in(rules.zone, batch.started_at).isoformat()
            job_queue.enqueue([{"kind": "split", "batch_id": batch_id, "job": JOB, "as_of": as_of, "dry_run": False, "run_id": batch_id}])
        return Answer(200, batch_view(batch))
    size = bulk_files.size_of(upload_key(batch_id))
    if size is None:
        raise InvalidState(
            "No file is uploaded for this batch: upload it to the batch's upload URL (GET the batch for a fresh one), then start it."
            " A file uploaded more than a day ago is deleted by the bucket's lifecycle rule: upload it again."
        )
    if size > MAX_GRANT_FILE_BYTES:
        raise PayloadTooLarge(f"The file is {size} bytes; at most {MAX_GRANT_FILE_BYTES} bytes")

    def attempt(uow: UnitOfWork) -> GrantBatch | None:
        now = utcnow()
        current = _existing(batch_id)
        if current.status != "awaiting_upload":
            return None
        stored.start_grant_batch(uow, current, now)
        add_audit(
            uow,
            Change(actor, "grants.start", "grant_batch", batch_id, {"status": "awaiting_upload"}, {"status": "running", "bytes": size}),
            rules,
            now,
        )
        uow.commit()
        current.status, current.started_at = "running", now
        return current

    started = run(attempt)
    if started is None:  # a twin start won: it queued the split
        return Answer(200, batch_view(_existing(batch_id)))
    _queue_split(batch_id, rules, utcnow())
    logger.info("grant batch started", extra={"batch_id": batch_id, "bytes": size})
    return Answer(202, batch_view(started))


def _queue_split(batch_id: str, rules: ProgramRules, now: datetime) -> None:
    job_queue.start_units(JOB, today_in(rules.zone, now).isoformat(), [{"kind": "split", "batch_id": batch_id}], now=now, run_id=batch_id)


def _existing(batch_id: str) -> GrantBatch:
    batch = stored.get_grant_batch(batch_id)
    if batch is None:
        raise NotFound("No such grant batch")
    return batch


def batch_status(batch_id: str) -> dict[str, Any]:
    batch = _existing(batch_id)
    body = batch_view(batch)
    if batch.status == "awaiting_upload":
        body["upload"] = _upload(batch_id, utcnow())
    return body


# --- the units -----------------------------------------------------------------------


def split_file(unit: dict[str, Any]) -> tuple[Counter[str], list[dict[str, Any]]]:
    """The `split` unit: the file's rows into parts; the `rows` units to add (the same however often
    it runs: the parts are a function of the file)."""
    tally: Counter[str] = Counter()
    batch_id = str(unit["batch_id"])
    batch = _existing(batch_id)
    if batch.status != "running":
        tally["skipped.not_running"] += 1
        return tally, []
    reader = csv.reader(bulk_files.lines(upload_key(batch_id)))
    try:
        columns = grant_header(next(reader, []), str(batch.kind))
    except bulk_files.FileGone:
        # Deleted by the bucket's lifecycle rule before the split ran (a split queued again long
        # after its start): nothing was granted; a new batch with the file grants it.
        stored.fail_grant_batch(batch_id, "the uploaded file is gone (the bucket keeps files a day): create a new batch", utcnow())
        tally["failed"] += 1
        return tally, []
    except BadHeader as exc:
        stored.fail_grant_batch(batch_id, f"bad header: {exc}", utcnow())
        tally["failed"] += 1
        return tally, []
    except (csv.Error, UnicodeDecodeError):
        stored.fail_grant_batch(batch_id, "not a CSV file in UTF-8", utcnow())
        tally["failed"] += 1
        return tally, []
    parts = rows = 0
    chunk: list[str] = []
    try:
        for number, cells in enumerate(reader, start=1):
            if not any(c.strip() for c in cells):
                continue  # a blank line: nothing to grant (its number is kept, as a spreadsheet shows it)
            rows += 1
            if rows > MAX_GRANT_ROWS:
                stored.fail_grant_batch(batch_id, f"more than {MAX_GRANT_ROWS} rows", utcnow())
                tally["failed"] += 1
                return tally, []
            named = dict(zip(columns, cells, strict=False)) | {c: "" for c in columns[len(cells) :]}
            chunk.append(json.dumps({"n": number, "cells": named, "width": len(cells)}, ensure_ascii=False))
            if len(chunk) == GRANT_PART_ROWS:
                bulk_files.put_text(_rows_key(batch_id, parts), "\n".join(chunk) + "\n", "application/x-ndjson")
                parts += 1
                chunk = []
    except (csv.Error, UnicodeDecodeError):
        stored.fail_grant_batch(batch_id, "not a CSV file in UTF-8", utcnow())
        tally["failed"] += 1
        return tally, []
    if chunk:
        bulk_files.put_text(_rows_key(batch_id, parts), "\n".join(chunk) + "\n", "application/x-ndjson")
        parts += 1
    stored.set_grant_parts(batch_id, parts, rows)
    batch = _existing(batch_id)
    if batch.parts is not None and int(batch.parts) != parts:  # the file changed between two deliveries: the first one stands
        parts = int(batch.parts)
    tally["rows"] += rows
    if parts == 0 and batch.status == "running":
        _complete(batch)
    return tally, [{"kind": "rows", "batch_id": batch_id, "part": part} for part in range(parts)]


def grant_part(unit: dict[str, Any]) -> Counter[str]:
    """The `rows` unit: one part's rows granted, each at most once (module docstring)."""
    tally: Counter[str] = Counter()
    batch_id, part = str(unit["batch_id"]), int(unit["part"])
    batch = _existing(batch_id)
    if batch.status != "running" or part in (batch.parts_done or set()):
        tally["skipped.already_done"] += 1
        return tally
    rules = load_rules()
    width = len(columns_of(batch))
    failures = io.StringIO()
    writer = csv.writer(failures, lineterminator="\r\n")
    counts: Counter[str] = Counter()
    for line in bulk_files.lines(_rows_key(batch_id, part)):
        if not line.strip():
            continue
        row = json.loads(line)
        number, cells = int(row["n"]), dict(row["cells"])
        if int(row["width"]) > width:
            outcome, reason, points = "failed", f"the row has {row['width']} cells; the header has {width}", 0
        else:
            outcome, reason, points = _grant_one(batch, number, cells, rules)
        counts[outcome] += 1
        counts["points_granted"] += points
        if outcome == "failed":
            writer.writerow((number, safe_cell(str(cells.get("row_id", "")).strip()[:64]), reason))
    bulk_files.put_text(_failed_part_key(batch_id, part), failures.getvalue())
    updated = stored.record_grant_part(batch_id, part, {k: v for k, v in counts.items() if v})
    if updated is None:
        tally["skipped.already_done"] += 1
        return tally
    tally["affected"] += counts["granted"]
    tally["points_moved"] += counts["points_granted"]
    tally["failed_rows"] += counts["failed"]
    batch = _existing(batch_id)
    if batch.status == "running" and len(batch.parts_done or ()) == int(batch.parts or 0):
        _complete(batch)
        tally["completed"] += 1
    return tally


def columns_of(batch: GrantBatch) -> list[str]:
    """The file's header (its first line: one small read)."""
    first = next(csv.reader(bulk_files.lines(upload_key(str(batch.batch_id)))), [])
    return grant_header(first, str(batch.kind))


def _complete(batch: GrantBatch) -> None:
    batch_id = str(batch.batch_id)
    head = ("\ufeff" + ",".join(FAILED_COLUMNS) + "\r\n").encode()
    bulk_files.concatenate(_failed_key(batch_id), [_failed_part_key(batch_id, p) for p in range(int(batch.parts or 0))], head=head)
    if stored.finish_grant_batch(batch_id, utcnow()):
        done = _existing(batch_id)
        count("GrantRowsGranted", int(done.granted or 0))
        logger.info(
            "grant batch done",
            extra={"batch_id": batch_id, "granted": int(done.granted or 0), "failed": int(done.failed or 0), "rows": int(done.rows or 0)},
        )


def _grant_one(batch: GrantBatch, number: int, cells: dict[str, str], rules: ProgramRules) -> tuple[str, str, int]:
    """(outcome, reason, points) of one row: granted | already_granted | failed."""
    judged = judge_grant_row(
        number,
        cells,
        kind=str(batch.kind),
        default_points=int(batch.default_points) if batch.default_points is not None else None,
        default_coupon=batch.default_coupon,
        region=rules.default_region,
    )
    if isinstance(judged, RowProblem):
        return "failed", judged.reason, 0
    member_id = judged.member_id or member_id_for_phone(str(judged.phone))
    if member_id is None:
        return "failed", "no member with that phone", 0
    return _grant_row(batch, judged, member_id, rules)


def _grant_row(batch: GrantBatch, row: GrantRow, member_id: str, rules: ProgramRules) -> tuple[str, str, int]:
    batch_id = str(batch.batch_id)
    expires_at = None
    if row.coupon is not None:
        reward = get_reward(row.coupon)
        now_local = utcnow().astimezone(rules.zone)
        in_catalogue = reward is not None and bool(reward.active)
        expires_at = gift_expires_at(now_local, rules, in_catalogue=in_catalogue, reward_valid_days=reward.coupon_valid_days if reward else None)
        if expires_at is None:
            return "failed", "coupon: no active reward with that id in the catalogue", 0

    def found_done(row_number: int) -> tuple[str, str, int]:
        """The row's marker exists: this very row, granted by an earlier delivery of its unit (a
        part is counted once, by the delivery that records it: so it counts the row granted), or
        another row of the file with the same row_id (skipped)."""
        if row_number == row.number:
            return "granted", "", int(row.points or 0)
        return "already_granted", "", 0

    def explain(cancelled: Cancelled) -> tuple[str, str, int] | None:
        if "row" not in cancelled.failed:
            return None
        marker = stored.granted_row(batch_id, row.key)
        return found_done(int(marker.row_number)) if marker is not None else None

    def attempt(uow: UnitOfWork) -> tuple[str, str, int]:
        now = utcnow()
        member, marker = stored.member_and_row(member_id, batch_id, row.key)
        if marker is not None:
            return found_done(int(marker.row_number))
        if member is None:
            return "failed", "no such member", 0
        if member.status in (Status.FROZEN, Status.CLOSED):
            return "failed", f"the membership is {member.status}", 0
        entry_id = None
        if row.points is not None:
            state = points_state(member)
            month = month_key(today_in(rules.zone, now))
            new_state = earn(state, row.points, month, qualifying=False)
            entry = ledger_entry(member_id, "adjust", row.points, new_state.balance, f"grant:{batch_id}:{row.key}", now, lot=month)
            entry_id = str(entry.entry_id)
            uow.update("member", member, points_update(new_state))
            uow.put("ledger", entry)
            open_lot(uow, member_id, month, lot_expires_on(month, rules.points_validity_months), held=member.lots)
        else:
            assert expires_at is not None and row.coupon is not None
            add_coupon(uow, new_coupon(member_id, "grant", row.coupon, expires_at, now))
        stored.mark_row_granted(uow, batch_id, row.key, row.number, member_id, now, entry_id=entry_id)
        answer = uow.commit(explain=explain)
        return answer if answer is not None else ("granted", "", int(row.points or 0))

    return run(attempt, one_at_a_time=member_id)
