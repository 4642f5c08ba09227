"""The keys tills and shop backends authenticate with (`x-api-key`): issue one for a store (or
the whole brand), list them, revoke one. Audited. Authentication itself is usecases/merchants.py."""

from __future__ import annotations

import secrets
from typing import Any

from ...api.schemas.operator_views import merchant_key_view
from ...api.schemas.operators import MerchantKeyRequest
from ...domain.clock import utcnow
from ...domain.codes import key_digest
from ...domain.errors import NotFound
from ...observability import count, logger
from ...store import merchant_keys as stored_keys
from ...store.parameters import load_rules
from ...store.unit_of_work import Cancelled, UnitOfWork, run
from ..audit import Change, add_audit
from ..merchants import forget_cached_keys


def issue_merchant_key(request: MerchantKeyRequest, actor: str) -> dict[str, Any]:
    """A new key for a store (or, `scope: brand`, for every store): returned once, stored only as its SHA-256."""
    rules = load_rules()

    def attempt(uow: UnitOfWork) -> dict[str, Any]:
        now = utcnow()
        api_key = secrets.token_urlsafe(32)
        record = stored_keys.add_merchant_key(
            uow,
            key_id=stored_keys.new_key_id(),
            digest=key_digest(api_key),
            store_id=request.store_id,
            scope=request.scope,
            issued_by=actor,
            now=now,
        )
        after = {"store_id": request.store_id, "scope": request.scope, "status": "active"}
        add_audit(uow, Change(actor, "merchant_key.issue", "merchant_key", record.key_id, None, after, reason=request.reason), rules, now)
        uow.commit()  # a collision of ids: again, with new ones
        return {**merchant_key_view(record), "api_key": api_key}

    issued = run(attempt)
    count("OperatorActions")
    logger.info("merchant key issued", extra={"key_id": issued["key_id"], "store_id": request.store_id, "scope": request.scope})
    return issued


def list_merchant_keys(limit: int, cursor: str | None) -> dict[str, Any]:
    return stored_keys.key_records_page(limit, cursor).view(merchant_key_view)


class _KeyItemGone:
    """The key item was gone while its record was active: nothing can authenticate with the key."""


def revoke_merchant_key(key_id: str, actor: str, reason: str | None) -> dict[str, Any]:
    """Revoke at once in this container; other warm containers may accept the key for up to
    `merchants.CACHE_SECONDS` more. Revoking a revoked key changes nothing (200)."""
    rules = load_rules()

    def key_item_gone(cancelled: Cancelled) -> _KeyItemGone | None:
        return _KeyItemGone() if "key" in cancelled.failed and "record" not in cancelled.failed else None

    def attempt(uow: UnitOfWork, *, key_item: bool) -> dict[str, Any] | _KeyItemGone:
        now = utcnow()
        record = stored_keys.key_record(key_id)
        if record is None:
            raise NotFound(f"No merchant key {key_id}")
        if record.status == "revoked":
            return merchant_key_view(record)
        stored_keys.revoke_merchant_key(uow, record, now, key_item=key_item)
        before, after = {"status": "active"}, {"status": "revoked"}
        add_audit(uow, Change(actor, "merchant_key.revoke", "merchant_key", key_id, before, after, reason=reason), rules, now)
        gone = uow.commit(explain=key_item_gone)
        if gone is not None:
            return gone
        record.status, record.revoked_at = "revoked", now
        logger.info("merchant key revoked", extra={"key_id": key_id, "store_id": record.store_id})
        count("OperatorActions")
        return merchant_key_view(record)

    view = run(lambda uow: attempt(uow, key_item=True))
    if isinstance(view, _KeyItemGone):  # revoke the record alone
        view = run(lambda uow: attempt(uow, key_item=False))
    assert not isinstance(view, _KeyItemGone)
    forget_cached_keys()  # this container stops accepting it now
    return view
