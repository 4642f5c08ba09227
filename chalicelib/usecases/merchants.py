"""Merchant (store) authentication by API key.

Keys are stored as SHA-256 digests only. A verified key is cached in the
container for `CACHE_SECONDS`, so a revoked key stops working within that
time (documented for operators) and a purchase costs no extra read.
"""

from __future__ import annotations

import threading
import time

from pynamodb.exceptions import DoesNotExist

from ..codes import key_digest
from ..errors import Unauthorized
from ..store import keys
from ..store.models import ApiKey
from .purchases import Merchant

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
    try:
        item = ApiKey.get(keys.apikey_pk(digest), keys.APIKEY_SK)
    except DoesNotExist:
        raise Unauthorized("A valid x-api-key header is required") from None
    if item.status != "active":
        raise Unauthorized("A valid x-api-key header is required")
    merchant = Merchant(key_id=item.key_id, store_id=item.store_id)
    with _lock:
        _cache[digest] = (now + CACHE_SECONDS, merchant)
    return merchant


def forget_cached_keys() -> None:
    with _lock:
        _cache.clear()
