"""One-time verification codes: generated with `secrets`, kept only as a hash.

A code is six digits, so a bare hash could be reversed by trying all 10^6
values; the digest is an HMAC keyed with the service's secret (never stored
with the code) over a per-code random salt, the phone and the code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

CODE_DIGITS = 6
# For codes people read aloud or type (referral and coupon codes): no 0/O, 1/I/L.
REFERRAL_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
COUPON_ALPHABET = REFERRAL_ALPHABET


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def new_salt() -> str:
    return secrets.token_hex(16)


def code_digest(pepper: bytes, salt: str, phone: str, code: str) -> str:
    message = f"{salt}:{phone}:{code}".encode()
    return hmac.new(pepper, message, hashlib.sha256).hexdigest()


def code_matches(pepper: bytes, salt: str, phone: str, code: str, digest: str) -> bool:
    return hmac.compare_digest(code_digest(pepper, salt, phone, code), digest)


def key_digest(api_key: str) -> str:
    """Merchant API keys are long random strings: a plain SHA-256 suffices."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def subject_digest(pepper: bytes, purpose: str, value: str) -> str:
    """A keyed, stable digest of a client address or a recipient, for keys that must not hold them."""
    return hmac.new(pepper, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()[:32]
