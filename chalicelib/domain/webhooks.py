"""Webhooks: signing a delivery, the retry schedule, which targets may be called.

Signatures follow the Standard Webhooks / Svix headers: `webhook-id` (the event id, for
deduplication), `webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 of
HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>`, the secret being the bytes after `whsec_`
base64-decoded. docs/integrations.md shows the receiver's side.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
from datetime import timedelta
from urllib.parse import urlsplit

SECRET_PREFIX = "whsec_"  # noqa: S105  # a prefix, not a secret
SIGNATURE_VERSION = "v1"
DELIVERY_TIMEOUT_SECONDS = 10
# After the first attempt fails, the next ones wait this long (then the delivery is dead-lettered):
# 1 min, 5 min, 30 min, 1 h, 2 h, 4 h, 8 h, 10 h: nine attempts over 25 h 36 min.
RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
    timedelta(hours=8),
    timedelta(hours=10),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# An endpoint that has failed without a single success for this long is disabled when its next
# delivery is dead-lettered (it then receives nothing until an operator enables it again).
DISABLE_AFTER_FAILING_FOR = timedelta(days=3)


def derive_secret(master_key: bytes, webhook_id: str, generation: int) -> str:
    """The endpoint's signing secret, derived from the stage's key: nothing secret is stored in the
    table, and rotating (a new generation) makes a new secret."""
    raw = hmac.new(master_key, f"huiyuan-webhook|{webhook_id}|{generation}".encode(), hashlib.sha256).digest()
    return SECRET_PREFIX + base64.b64encode(raw).decode()


def _secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header's value for one delivery."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_bytes(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def verify(secret: str, message_id: str, timestamp: int, body: bytes, header: str, *, now: int, tolerance_seconds: int = 300) -> bool:
    """What a receiver checks: one of the header's space-separated signatures matches, and the
    timestamp is recent (replays of an old delivery are refused)."""
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = signature(secret, message_id, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in header.split())


def retry_delay(attempt: int) -> timedelta | None:
    """How long to wait after attempt number `attempt` (1-based) failed; None: dead-letter it."""
    return RETRY_DELAYS[attempt - 1] if 1 <= attempt <= len(RETRY_DELAYS) else None


class TargetRefused(ValueError):
    """A webhook URL that may not be called."""


def check_url(url: str, *, local: bool) -> str:
    """An endpoint URL: https in the cloud; on the local stage also http to loopback. Returns the host."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise TargetRefused("must be an absolute https URL")
    if parts.username or parts.password:
        raise TargetRefused("must not carry credentials")
    if parts.scheme == "http" and not (local and is_loopback_name(parts.hostname)):
        raise TargetRefused("must use https (http is allowed only to loopback on the local stage)")
    if not local and is_loopback_name(parts.hostname):
        raise TargetRefused("must not point at loopback")
    return parts.hostname


def is_loopback_name(host: str) -> bool:
    if host.lower() in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def address_allowed(address: str, *, local: bool) -> bool:
    """Whether a resolved address may be called: never private, link-local (the instance metadata
    service), multicast, reserved or unspecified; loopback only on the local stage."""
    ip = ipaddress.ip_address(address)
    if ip.is_loopback:
        return local
    return not (ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified)
