"""PynamoDB models for scan-to-earn product codes (imported by models.py so their discriminators
are registered). Key formats are in `keys.py`; what they keep and why in store/product_codes.py."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import MapAttribute, NumberAttribute, NumberSetAttribute, UnicodeAttribute, UTCDateTimeAttribute

from .models import BaseItem, Recorded


class ProductCodeBatch(BaseItem, discriminator="ProductCodeBatch"):
    """`PCBATCH#<batch_id>` / `BATCH`: the product a batch of codes is printed for, its points,
    how many codes it holds and whether they still earn (`active` | `revoked`). A small batch is
    put once its codes are written and exported, so it shows complete; a big one is put
    `generating` with `parts` to do, and each queued part adds itself to `parts_done` (once: a
    conditional update) and its codes to `written`; the last makes it `active`."""

    batch_id = UnicodeAttribute()
    sku = UnicodeAttribute()
    name = UnicodeAttribute()
    points = NumberAttribute()
    generated = NumberAttribute()
    expires_on = UnicodeAttribute(null=True)  # YYYY-MM-DD, program time zone, inclusive
    status = UnicodeAttribute(default="active")
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()
    revoked_at = UTCDateTimeAttribute(null=True)
    revoked_by = UnicodeAttribute(null=True)
    export_key = UnicodeAttribute()  # the S3 object the printer's file was written to
    parts = NumberAttribute(null=True)  # a queued batch's parts (None: written in the request)
    parts_done = NumberSetAttribute(null=True)
    written = NumberAttribute(null=True)  # codes the parts done wrote
    # Parts whose unit failed every delivery (dead-lettered, for a redrive): a part done leaves it.
    parts_failed = NumberSetAttribute(null=True)


class ProductCode(BaseItem, discriminator="ProductCode"):
    """`PCODE#<sha256 of the code>` / `PCODE`: one code, never in clear. `used_by` is set once,
    by a conditional update in the transaction that credits the member; `response` is the answer
    that member got (a replay by the same member gets it again)."""

    batch_id = UnicodeAttribute()
    used_by = UnicodeAttribute(null=True)
    used_at = UTCDateTimeAttribute(null=True)
    write_token = UnicodeAttribute(null=True)
    response = MapAttribute[str, Any](null=True)


class ProductCodeRedemptions(BaseItem, discriminator="ProductCodeRedemptions"):
    """`PCBATCH#<batch_id>#<shard>` / `REDEEMED`: one shard of a batch's redemption count, added
    to in the transaction that uses a code (a shard picked at random: no hot item)."""

    batch_id = UnicodeAttribute()
    redeemed = NumberAttribute(default=0)


class ProductCodeAttempts(BaseItem, discriminator="ProductCodeAttempts"):
    """`PCTRY#<member_id>` / `<yyyy-mm-ddThh>`: a member's failed code attempts in one hour (TTL).
    Counted up *before* the code is judged, conditionally (below the limit), so parallel guesses
    can never exceed it; a code that earns gives its attempt back in its own transaction."""

    failures = NumberAttribute(default=0)


class ProductCodeRequest(Recorded, discriminator="ProductCodeRequest"):
    """`PCREQ#<sha256 of the Idempotency-Key>` / `REQUEST`: an operator's request for a batch, put
    (if absent) in the transaction that puts the batch, so one key never makes two batches."""

    batch_id = UnicodeAttribute()
