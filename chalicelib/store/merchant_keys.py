"""Merchant API keys (the `x-api-key` of tills and shop backends) as the table keeps them.

Not to be confused with `keys.py`, which builds the table's own keys. Two items per issued key:

| pk             | sk           | item         | access pattern                                      |
|----------------|--------------|--------------|-----------------------------------------------------|
| APIKEY#<sha256>| APIKEY       | ApiKey       | authenticating a request by the key's digest        |
| APIKEYS        | KEY#<key_id> | ApiKeyRecord | operators list and revoke keys by id (no secret)    |

The key itself is never stored: only its SHA-256. Both items are written together (issued) and
revoked together, so a listed key's status is the status authentication sees.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from pynamodb.exceptions import DoesNotExist

from . import keys
from .models import ApiKey
from .models_admin import ApiKeyRecord
from .paging import Page, query_page
from .unit_of_work import UnitOfWork

RECORD_PREFIX = keys.apikey_record_sk("")


def new_key_id() -> str:
    return f"key_{secrets.token_hex(8)}"


def key_by_digest(digest: str) -> ApiKey | None:
    """The key item a request's key digest names. Eventually consistent, at half the cost: a
    container caches a verified key for longer than a revocation takes to be read anyway."""
    try:
        return ApiKey.get(keys.apikey_pk(digest), keys.APIKEY_SK)
    except DoesNotExist:
        return None


def key_record(key_id: str) -> ApiKeyRecord | None:
    try:
        return ApiKeyRecord.get(keys.APIKEYS_PK, keys.apikey_record_sk(key_id), consistent_read=True)
    except DoesNotExist:
        return None


def key_records_page(limit: int, cursor: str | None) -> Page[ApiKeyRecord]:
    return query_page(ApiKeyRecord, keys.APIKEYS_PK, RECORD_PREFIX, limit, cursor)


def add_merchant_key(uow: UnitOfWork, *, key_id: str, digest: str, store_id: str, scope: str, issued_by: str, now: datetime) -> ApiKeyRecord:
    """Put an active key (parts `key` and `record`, each only if absent: a failure is an id or
    digest collision, to retry with new ones). Returns the record."""
    record = ApiKeyRecord(
        keys.APIKEYS_PK,
        keys.apikey_record_sk(key_id),
        key_id=key_id,
        store_id=store_id,
        scope=scope,
        digest=digest,
        status="active",
        created_at=now,
        issued_by=issued_by,
    )
    key = ApiKey(keys.apikey_pk(digest), keys.APIKEY_SK, key_id=key_id, store_id=store_id, scope=scope, status="active", created_at=now)
    uow.put("key", key, ApiKey.pk.does_not_exist())
    uow.put("record", record, ApiKeyRecord.pk.does_not_exist())
    return record


def revoke_merchant_key(uow: UnitOfWork, record: ApiKeyRecord, now: datetime, *, key_item: bool = True) -> None:
    """Mark the record revoked (part `record`, only while active) and, with `key_item`, the key
    item authentication reads (part `key`, only if it exists)."""
    if key_item:
        uow.update("key", ApiKey(keys.apikey_pk(record.digest), keys.APIKEY_SK), [ApiKey.status.set("revoked")], ApiKey.pk.exists())
    uow.update("record", record, [ApiKeyRecord.status.set("revoked"), ApiKeyRecord.revoked_at.set(now)], ApiKeyRecord.status == "active")
