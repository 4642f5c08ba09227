"""Operators' batches of scan-to-earn product codes (一物一码): generate, look at, revoke.

Generating a batch, in one request:
1. draws `count` codes from `secrets` (domain/product_codes.py: 80 bits each);
2. writes one item per code, by the SHA-256 of the code only (BatchWriteItem, 25 a request,
   several in parallel: store/product_codes.write_codes);
3. writes the printer's CSV file (the codes in clear, the one place they ever are) to the
   exports bucket and answers a pre-signed URL to it, good for `EXPORT_URL_SECONDS`: the file is
   handed out in this answer only (the status route never gives it; the bucket deletes it
   after a day);
4. puts the batch item with its audit entry (and, with an Idempotency-Key, the request's
   record), in one transaction. Until then its codes earn nothing (a code's batch must exist),
   so a request that fails half-way leaves no usable codes, and the operator simply generates
   again.

With an `Idempotency-Key` header a retried POST never makes a second batch: a request finds the
record of an earlier one first and answers its batch (with a fresh URL to the same file); two
twins racing both write codes, but only one record (and so one batch) commits, and the loser's
codes stay without a batch (they earn nothing) and its file is deleted.

Up to `SYNC_MAX` (10,000: the PRODUCT_CODES_SYNC_MAX setting) codes the request does all of the above (~400 BatchWriteItem calls,
8 at a time, well under a second). A bigger batch (up to `MAX_BATCH`) fans out through the jobs
queue instead (`product-codes` job, one `part` unit per `PART_SIZE` codes, 5,000: the PRODUCT_CODES_PART_SIZE setting):
1. the request puts the batch `generating` with its parts to do (same transaction, audit and
   Idempotency-Key record as above), queues the units, and answers 202 with the batch and its
   `progress`;
2. a unit derives its part's codes from the batch's secret seed (domain `derived_code`: HMAC of
   the seed, the part and the index; the seed is drawn here and travels only in the units'
   messages, never in the table), writes them (BatchWriteItem) and its part of the printer's file
   (`product-codes/<batch>/part-NNNNN.csv`), then adds the part to the batch's done parts by a
   conditional update (once);
3. the unit that finds every part done concatenates the parts into `product-codes/<batch>.csv`
   and makes the batch `active`; GET then hands out a fresh pre-signed URL to it.

Why the file lists exactly the codes stored, each once, however SQS delivers: a part's codes are
a function of (seed, part, index), so a second or concurrent delivery derives, writes and files
the very same codes (a put of an identical item, an identical object), never new ones; the part is
counted done once (the conditional update), so `written` is exact. A delivery that finds its part
done writes nothing. Assembling is idempotent too (the same parts give the same file). Codes earn
nothing until the batch is active, so no member can use a code a late twin delivery rewrites
while it is generating. Revoking a generating batch is allowed: its units stop (they find it
revoked, and a part can no longer be recorded done), and it never becomes active.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from ...api.schemas.product_codes import ProductCodeBatchRequest
from ...domain.clock import iso, today_in, utcnow
from ...domain.errors import NotFound, ValidationFailed
from ...domain.product_codes import (
    GENERATING,
    code_digest,
    derived_code,
    is_expired,
    new_product_code,
    normalise_code,
    part_size,
    parts_of,
    redemption_rate,
)
from ...domain.rules import ProgramRules
from ...observability import count, logger
from ...settings import get_settings
from ...store import exports, job_queue
from ...store import product_codes as stored
from ...store.idempotency import Replay, existing_record, new_write_token, put_record, replay
from ...store.models_product_codes import ProductCodeBatch, ProductCodeRequest
from ...store.parameters import load_rules
from ...store.unit_of_work import Cancelled, UnitOfWork, run
from ..audit import Change, add_audit
from ..common import Answer, created, fingerprint, replayed

EXPORT_URL_SECONDS = 3600
CSV_COLUMNS = ("code", "sku", "name", "points", "expires_on", "batch_id")
PARTS_JOB = "product-codes"


def new_batch_id(now: datetime) -> str:
    return f"pcb_{now.strftime('%Y%m%d')}{secrets.token_hex(6)}"


def _printer_rows(batch_id: str, sku: str, name: str, points: int, expires_on: str | None, printed: list[str], *, header: bool) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    for code in printed:
        writer.writerow((code, sku, name, points, expires_on or "", batch_id))
    # The file starts with a BOM, so that a spreadsheet opens a Chinese product name as UTF-8.
    return (("\ufeff" if header else "") + out.getvalue()).encode()


def _printer_file(batch_id: str, request: ProductCodeBatchRequest, printed: list[str]) -> bytes:
    expires_on = request.expires_on.isoformat() if request.expires_on else None
    return _printer_rows(batch_id, request.sku, request.name, request.points, expires_on, printed, header=True)


def _status(batch: ProductCodeBatch, today: date) -> str:
    if batch.status != "active":
        return str(batch.status)
    return "expired" if is_expired(_expires_on(batch), today) else "active"


def _expires_on(batch: ProductCodeBatch) -> date | None:
    return date.fromisoformat(batch.expires_on) if batch.expires_on else None


def batch_view(batch: ProductCodeBatch, redeemed: int, rules: ProgramRules, now: datetime) -> dict[str, Any]:
    generated = int(batch.generated)
    return {
        "batch_id": batch.batch_id,
        "sku": batch.sku,
        "name": batch.name,
        "points": int(batch.points),
        "expires_on": batch.expires_on,
        "status": _status(batch, today_in(rules.zone, now)),
        "generated": generated,
        "redeemed": redeemed,
        "redemption_rate": redemption_rate(redeemed, generated),
        "created_at": iso(batch.created_at),
        "created_by": batch.created_by,
        "revoked_at": iso(batch.revoked_at) if batch.revoked_at else None,
        **({"progress": _progress(batch)} if batch.parts is not None else {}),
    }


def _progress(batch: ProductCodeBatch) -> dict[str, Any]:
    return {
        "parts_done": len(batch.parts_done or ()),
        "parts_total": int(batch.parts or 0),
        "codes_written": int(batch.written or 0),
        "parts_failed": sorted(int(part) for part in batch.parts_failed or ()),
    }


def _export(batch: ProductCodeBatch, now: datetime) -> dict[str, Any]:
    url = exports.download_url(str(batch.export_key), EXPORT_URL_SECONDS)
    return {"url": url, "format": "text/csv", "expires_at": iso(now + timedelta(seconds=EXPORT_URL_SECONDS)), "columns": list(CSV_COLUMNS)}


def _replay_batch(record: ProductCodeRequest, digest: str, write_token: str) -> Answer:
    """The batch an earlier request under the same key made, as it is now, with a fresh URL to
    the same printer's file (the URL is never stored: it is good for an hour)."""
    replay(record, digest, "This Idempotency-Key already made a batch with a different product, points, count or expiry", write_token)
    batch, body = _batch_and_status(record.batch_id)  # the record and the batch are put together: never apart
    own = bool(write_token) and record.write_token == write_token
    if batch.status == GENERATING:  # a queued batch's file comes once it is active
        return Answer(202, body) if own else Answer(200, body, replayed=True)
    if batch.parts is None:  # written in its request: the file is the answer's, whatever the batch's state
        body["export"] = _export(batch, utcnow())
    return replayed(Replay(body, own_write=own))


def generate_batch(request: ProductCodeBatchRequest, actor: str, idempotency_key: str | None = None) -> Answer:
    """201: the batch, and a download of its printer's file. With an Idempotency-Key, the same
    request again answers the same batch (200, replayed, with a fresh URL to the same file);
    another request under the key is 409 idempotency_conflict; never a second batch."""
    rules = load_rules()
    now = utcnow()
    digest = fingerprint(request.model_dump(mode="json"))
    write_token = new_write_token()
    if idempotency_key is not None:
        # Before judging the request again: a retry the day after an expiry still finds its batch.
        earlier = stored.find_request(idempotency_key)
        if earlier is not None:
            return _replay_batch(earlier, digest, write_token)
    if request.expires_on is not None and request.expires_on < today_in(rules.zone, now):
        raise ValidationFailed.single("expires_on", "must be today or later (program time zone)")
    batch_id = new_batch_id(now)
    if request.count > get_settings().product_codes_sync_max:
        return _queue_batch(request, actor, idempotency_key, batch_id, digest, write_token, rules, now)
    printed: list[str] = []
    seen: set[str] = set()
    while len(printed) < request.count:
        code = new_product_code()
        if code not in seen:  # at 80 bits never, but a batch's codes are unique by construction
            seen.add(code)
            printed.append(code)
    digests = [code_digest(normalise_code(code) or "") for code in printed]
    stored.write_codes(batch_id, digests)
    export_key = f"product-codes/{batch_id}.csv"
    exports.put_file(export_key, _printer_file(batch_id, request, printed), "text/csv; charset=utf-8", f"{batch_id}.csv")
    del printed, seen

    batch = _new_batch(request, batch_id, actor, now, status="active", export_key=export_key)
    body = batch_view(batch, 0, rules, now)
    earlier_answer = _commit_batch(batch, body, request, actor, idempotency_key, digest, write_token, rules, now, file=export_key)
    if earlier_answer is not None:
        return earlier_answer
    count("ProductCodesGenerated", request.count)
    logger.info("product codes generated", extra={"batch_id": batch_id, "count": request.count, "points": request.points})
    return created({**body, "export": _export(batch, now)})


def _queue_batch(
    request: ProductCodeBatchRequest,
    actor: str,
    idempotency_key: str | None,
    batch_id: str,
    digest: str,
    write_token: str,
    rules: ProgramRules,
    now: datetime,
) -> Answer:
    """202: the batch, `generating`, with its parts queued (module docstring)."""
    parts = parts_of(request.count, get_settings().product_codes_part_size)
    batch = _new_batch(request, batch_id, actor, now, status=GENERATING, export_key=f"product-codes/{batch_id}.csv", parts=parts, written=0)
    body = batch_view(batch, 0, rules, now)
    earlier_answer = _commit_batch(batch, body, request, actor, idempotency_key, digest, write_token, rules, now, file=None, parts=parts)
    if earlier_answer is not None:
        return earlier_answer
    # The seed exists only in these messages (SQS, encrypted with the stage key): the table and
    # the logs never see it, so the codes are in clear only in the printer's file.
    seed = secrets.token_hex(32)
    units = [{"kind": "part", "batch_id": batch_id, "part": part, "seed": seed} for part in range(parts)]
    job_queue.start_units(PARTS_JOB, today_in(rules.zone, now).isoformat(), units, now=now)
    logger.info("product codes queued", extra={"batch_id": batch_id, "count": request.count, "parts": parts})
    return Answer(202, body)


def _new_batch(request: ProductCodeBatchRequest, batch_id: str, actor: str, now: datetime, **fields: Any) -> ProductCodeBatch:
    expires_on = request.expires_on.isoformat() if request.expires_on else None
    return stored.new_batch(
        batch_id,
        sku=request.sku,
        name=request.name,
        points=request.points,
        generated=request.count,
        expires_on=expires_on,
        created_at=now,
        created_by=actor,
        **fields,
    )


def _commit_batch(
    batch: ProductCodeBatch,
    body: dict[str, Any],
    request: ProductCodeBatchRequest,
    actor: str,
    idempotency_key: str | None,
    digest: str,
    write_token: str,
    rules: ProgramRules,
    now: datetime,
    *,
    file: str | None,
    parts: int | None = None,
) -> Answer | None:
    """Put the batch, its Idempotency-Key record and its audit entry together; None once committed,
    else the answer of a twin request under the same key that put its batch first (this one's
    codes then have no batch, so they earn nothing, and its printer's `file` goes)."""
    batch_id = str(batch.batch_id)

    def lost_to_twin(cancelled: Cancelled) -> Answer | None:
        if idempotency_key is None:
            return None
        record = existing_record(cancelled, "request", ProductCodeRequest, stored.request_key(idempotency_key))
        if record is None:
            return None
        if file is not None and record.batch_id != batch_id:  # not this request's own commit whose answer was lost
            exports.delete_file(file)
        return _replay_batch(record, digest, write_token)

    def attempt(uow: UnitOfWork) -> Answer | None:
        stored.add_batch(uow, batch)
        if idempotency_key is not None:
            record = stored.new_request(idempotency_key, batch_id, fingerprint=digest, write_token=write_token, response=body, now=now)
            put_record(uow, "request", record)
        after = {"sku": request.sku, "points": request.points, "count": request.count, "expires_on": batch.expires_on}
        if parts is not None:
            after["parts"] = parts
        add_audit(uow, Change(actor, "product_codes.generate", "product_codes", batch_id, None, after), rules, now)
        return uow.commit(explain=lost_to_twin)

    return run(attempt)


def part_key(batch_id: str, part: int) -> str:
    return f"product-codes/{batch_id}/part-{part:05d}.csv"


def generate_part(unit: dict[str, Any]) -> Counter[str]:
    """The work of one `product-codes` unit: one part of a queued batch, done once however often
    (or however concurrently) SQS delivers it (module docstring)."""
    tally: Counter[str] = Counter()
    batch_id, part = str(unit["batch_id"]), int(unit["part"])
    batch = stored.get_batch(batch_id)
    if batch is None:  # the units are queued after the batch commits: never
        raise NotFound(f"No batch {batch_id}")
    if batch.status == "revoked":
        tally["skipped.revoked"] += 1
        return tally
    if batch.status == GENERATING and part not in (batch.parts_done or set()):
        size = part_size(int(batch.generated), part, get_settings().product_codes_part_size)
        printed = [derived_code(str(unit["seed"]), part, index) for index in range(size)]
        stored.write_codes(batch_id, [code_digest(normalise_code(code) or "") for code in printed])
        rows = _printer_rows(batch_id, batch.sku, batch.name, int(batch.points), batch.expires_on, printed, header=part == 0)
        exports.put_file(part_key(batch_id, part), rows, "text/csv; charset=utf-8", f"{batch_id}-{part:05d}.csv")
        del printed
        updated = stored.record_part_done(batch_id, part, size)
        if updated is None:
            tally["skipped.already_done"] += 1
        else:
            tally["affected"] += size
            batch = updated
    else:
        tally["skipped.already_done"] += 1
    if batch.status == GENERATING and len(batch.parts_done or ()) == int(batch.parts or 0):
        _assemble(batch)
        if stored.activate_batch(batch_id):
            tally["completed"] += 1
            count("ProductCodesGenerated", int(batch.generated))
            logger.info("product codes generated", extra={"batch_id": batch_id, "count": int(batch.generated), "points": int(batch.points)})
    return tally


def part_gave_up(unit: dict[str, Any], error: BaseException) -> None:
    """The part's unit failed its last delivery (SQS dead-letters it next): the batch shows the part
    in `progress.parts_failed` while it waits for a redrive of the dead-letter queue (which does
    the part once, as any delivery), instead of looking merely slow. Never the seed in a log."""
    batch_id, part = str(unit["batch_id"]), int(unit["part"])
    if stored.record_part_failed(batch_id, part):
        logger.error("product code part failed every delivery", extra={"batch_id": batch_id, "part": part, "error": type(error).__name__})


def _assemble(batch: ProductCodeBatch) -> None:
    """The printer's file: the parts, concatenated in order. (S3's UploadPartCopy would copy them
    without reading, but every part but the last must be 5 MiB or more, and a part of
    PART_SIZE codes is ~400 KB; a batch of MAX_BATCH codes is ~8 MB, read and written once.)"""
    batch_id = str(batch.batch_id)
    body = b"".join(exports.get_file(part_key(batch_id, part)) for part in range(int(batch.parts or 0)))
    exports.put_file(str(batch.export_key), body, "text/csv; charset=utf-8", f"{batch_id}.csv")


def batch_status(batch_id: str) -> dict[str, Any]:
    """The batch and how many of its codes were used (the sum of the count's shards); a queued
    batch's progress, and once it is active a fresh URL to its printer's file."""
    return _batch_and_status(batch_id)[1]


def _batch_and_status(batch_id: str) -> tuple[ProductCodeBatch, dict[str, Any]]:
    """The batch and its status view (batch_status): one BatchGetItem."""
    state = stored.batch_state(batch_id)
    if state.batch is None:
        raise NotFound(f"No batch {batch_id}")
    now = utcnow()
    body = batch_view(state.batch, state.redeemed, load_rules(), now)
    if state.batch.parts is not None and body["status"] in ("active", "expired"):
        body["export"] = _export(state.batch, now)
    return state.batch, body


def revoke_batch(batch_id: str, actor: str, reason: str | None) -> dict[str, Any]:
    """From now on no code of the batch earns (codes already used keep their points). Revoking a
    revoked batch changes nothing and answers the same."""
    rules = load_rules()

    def attempt(uow: UnitOfWork) -> ProductCodeBatch:
        now = utcnow()
        batch = stored.get_batch(batch_id)
        if batch is None:
            raise NotFound(f"No batch {batch_id}")
        if batch.status == "revoked":
            return batch
        stored.revoke_batch(uow, batch, actor, now)
        before = {"status": str(batch.status)}
        change = Change(actor, "product_codes.revoke", "product_codes", batch_id, before, {"status": "revoked"}, reason=reason)
        add_audit(uow, change, rules, now)
        uow.commit()  # a batch revoked meanwhile fails its part: read again, and find it revoked
        batch.status = "revoked"
        batch.revoked_at = now
        batch.revoked_by = actor
        logger.info("product codes revoked", extra={"batch_id": batch_id})
        return batch

    batch = run(attempt)
    return batch_status(batch.batch_id)
