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

`MAX_BATCH` (100,000) codes a request: about 4,000 BatchWriteItem calls, 8 at a time. DynamoDB
answers one in ~10-20 ms, so ~5-10 s, inside API Gateway's 29 s; bigger runs are several
batches. (The local stage's moto writes ~350 items/s: 100,000 take minutes there.)
"""

from __future__ import annotations

import csv
import io
import secrets
from datetime import date, datetime, timedelta
from typing import Any

from ...api.schemas.product_codes import ProductCodeBatchRequest
from ...domain.clock import iso, today_in, utcnow
from ...domain.errors import NotFound, ValidationFailed
from ...domain.product_codes import code_digest, is_expired, new_product_code, normalise_code, redemption_rate
from ...domain.rules import ProgramRules
from ...observability import count, logger
from ...store import exports
from ...store import product_codes as stored
from ...store.idempotency import Replay, existing_record, new_write_token, put_record, replay
from ...store.models_product_codes import ProductCodeBatch, ProductCodeRequest
from ...store.parameters import load_rules
from ...store.unit_of_work import Cancelled, UnitOfWork, run
from ..audit import Change, add_audit
from ..common import Answer, created, fingerprint, replayed

EXPORT_URL_SECONDS = 3600
CSV_COLUMNS = ("code", "sku", "name", "points", "expires_on", "batch_id")


def new_batch_id(now: datetime) -> str:
    return f"pcb_{now.strftime('%Y%m%d')}{secrets.token_hex(6)}"


def _printer_file(batch_id: str, request: ProductCodeBatchRequest, printed: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    expires_on = request.expires_on.isoformat() if request.expires_on else ""
    for code in printed:
        writer.writerow((code, request.sku, request.name, request.points, expires_on, batch_id))
    # With a BOM, so that a spreadsheet opens a Chinese product name as UTF-8.
    return ("\ufeff" + out.getvalue()).encode()


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
    }


def _export(batch: ProductCodeBatch, now: datetime) -> dict[str, Any]:
    url = exports.download_url(str(batch.export_key), EXPORT_URL_SECONDS)
    return {"url": url, "format": "text/csv", "expires_at": iso(now + timedelta(seconds=EXPORT_URL_SECONDS)), "columns": list(CSV_COLUMNS)}


def _replay_batch(record: ProductCodeRequest, digest: str, write_token: str) -> Answer:
    """The batch an earlier request under the same key made, as it is now, with a fresh URL to
    the same printer's file (the URL is never stored: it is good for an hour)."""
    replay(record, digest, "This Idempotency-Key already made a batch with a different product, points, count or expiry", write_token)
    batch = stored.get_batch(record.batch_id)
    if batch is None:  # the record and the batch are put together: never apart
        raise NotFound(f"No batch {record.batch_id}")
    now = utcnow()
    body = batch_status(record.batch_id)
    body["export"] = _export(batch, now)
    own = bool(write_token) and record.write_token == write_token
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

    batch = stored.new_batch(
        batch_id,
        sku=request.sku,
        name=request.name,
        points=request.points,
        generated=request.count,
        expires_on=request.expires_on.isoformat() if request.expires_on else None,
        status="active",
        created_at=now,
        created_by=actor,
        export_key=export_key,
    )
    body = batch_view(batch, 0, rules, now)

    def lost_to_twin(cancelled: Cancelled) -> Answer | None:
        # A twin request under the same key put its batch first: this one's codes have no batch
        # (so they earn nothing) and its file goes; the twin's batch is the answer.
        if idempotency_key is None:
            return None
        record = existing_record(cancelled, "request", ProductCodeRequest, stored.request_key(idempotency_key))
        if record is None:
            return None
        if record.batch_id != batch_id:  # not this request's own commit whose answer was lost
            exports.delete_file(export_key)
        return _replay_batch(record, digest, write_token)

    def attempt(uow: UnitOfWork) -> Answer | None:
        stored.add_batch(uow, batch)
        if idempotency_key is not None:
            record = stored.new_request(idempotency_key, batch_id, fingerprint=digest, write_token=write_token, response=body, now=now)
            put_record(uow, "request", record)
        after = {"sku": request.sku, "points": request.points, "count": request.count, "expires_on": batch.expires_on}
        add_audit(uow, Change(actor, "product_codes.generate", "product_codes", batch_id, None, after), rules, now)
        return uow.commit(explain=lost_to_twin)

    earlier_answer = run(attempt)
    if earlier_answer is not None:
        return earlier_answer
    count("ProductCodesGenerated", request.count)
    logger.info("product codes generated", extra={"batch_id": batch_id, "count": request.count, "points": request.points})
    return created({**body, "export": _export(batch, now)})


def batch_status(batch_id: str) -> dict[str, Any]:
    """The batch and how many of its codes were used (the sum of the count's shards)."""
    state = stored.batch_state(batch_id)
    if state.batch is None:
        raise NotFound(f"No batch {batch_id}")
    return batch_view(state.batch, state.redeemed, load_rules(), utcnow())


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
        change = Change(actor, "product_codes.revoke", "product_codes", batch_id, {"status": "active"}, {"status": "revoked"}, reason=reason)
        add_audit(uow, change, rules, now)
        uow.commit()  # a batch revoked meanwhile fails its part: read again, and find it revoked
        batch.status = "revoked"
        batch.revoked_at = now
        batch.revoked_by = actor
        logger.info("product codes revoked", extra={"batch_id": batch_id})
        return batch

    batch = run(attempt)
    return batch_status(batch.batch_id)
