"""Merchant (store) authentication by API key, and what a key may act on.

Keys are stored as SHA-256 digests only. A verified key is cached in the
container for `CACHE_SECONDS`, so a revoked key stops working within that
time (documented for operators) and a purchase costs no extra read.

A key is issued for one store (`scope: store`): it reports purchases, top-ups,
payments and coupon uses for that store only, and refunds only what that
store recorded. A key issued with `scope: brand` (a head-office backend) acts
for every store. Another store's order, payment or top-up id is never
answered from its record: a replay of it is an `idempotency_conflict` that
says nothing about it, a refund of it is `403 forbidden`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from ..domain.codes import key_digest
from ..domain.errors import Forbidden, Unauthorized
from ..store.merchant_keys import key_by_digest

STORE_SCOPE, BRAND_SCOPE = "store", "brand"


@dataclass(frozen=True)
class Merchant:
    key_id: str
    store_id: str
    scope: str = STORE_SCOPE

    def store_for(self, named: str | None) -> str:
        """The store a write belongs to: the one the request names, which a store's key may only
        name as its own (403 otherwise); its own store when it names none."""
        if named is None or named == self.store_id:
            return self.store_id
        if self.scope == BRAND_SCOPE:
            return named
        raise Forbidden(f"This key acts for store {self.store_id} only")

    def acts_for(self, store_id: str | None) -> bool:
        """The key may act on a record of `store_id` (refund it, see its stored answer)."""
        return self.scope == BRAND_SCOPE or store_id == self.store_id


CACHE_SECONDS = 60
_cache: dict[str, tuple[float, Merchant]] = {}
_lock = threading.Lock()


def authenticate_merchant(api_key: str | None) -> Merchant:
    if not api_key or len(api_key) > 256:
        raise Unauthorized("A valid x-api-key header is required")
    digest = key_digest(api_key)
    now = time.monotonic()
    with _lock:
        hit = _cache.get(digest)
    if hit and hit[0] > now:
        return hit[1]
    item = key_by_digest(digest)
    if item is None or item.status != "active":
        raise Unauthorized("A valid x-api-key header is required")
    merchant = Merchant(key_id=item.key_id, store_id=item.store_id, scope=item.scope or STORE_SCOPE)
    with _lock:
        _cache[digest] = (now + CACHE_SECONDS, merchant)
    return merchant


def forget_cached_keys() -> None:
    with _lock:
        _cache.clear()
