"""Scan-to-earn product codes (一物一码): one code printed on one product, worth the batch's points once.

A code is 16 symbols of Crockford's base32 (`0-9`, `A-Z` without I, L, O, U): 80 bits from
`secrets`, printed as four groups of four (`7KQ2-M9XD-4TPR-HB3C`). Typed, case does not matter,
spaces and dashes are ignored, and the letters people confuse with digits are read as those
digits (O -> 0, I and L -> 1), as Crockford's decoding says.

Kept as a plain SHA-256 of the normalised code, not a keyed hash: a verification code needs a
key because its 10^6 values can all be hashed in a moment; 2^80 values cannot (at 10^12 hashes a
second, about 38,000 years for the whole space), so a leaked table gives nobody a code. It also
means the printed codes outlive any key rotation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, date, datetime, timedelta

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32
CODE_LENGTH = 16  # x 5 bits = 80 bits of entropy
GROUP = 4
ENTROPY_BITS = CODE_LENGTH * 5
# The longest text we try to read as a code (a code with a space or a dash between every symbol).
MAX_TYPED = 2 * CODE_LENGTH + 8
_READ_AS = {"O": "0", "I": "1", "L": "1"}
_IGNORED = frozenset(" -\t")

# A member may get a code wrong this many times an hour; then every attempt is 429 until the
# hour ends, a right code included (a guesser's 10 tries an hour against 2^80 codes find nothing).
MAX_FAILED_ATTEMPTS = 10
ATTEMPT_WINDOW_SECONDS = 3600
# Operators' batches: at most this many codes each. Up to SYNC_MAX they are written in the
# request; a bigger batch is `generating` until the jobs queue has written its parts of PART_SIZE
# codes each (usecases/operations/product_codes.py, docs/scan-codes.md). SYNC_MAX and PART_SIZE are
# the defaults of the deployment settings PRODUCT_CODES_SYNC_MAX and PRODUCT_CODES_PART_SIZE.
MAX_BATCH = 100_000
SYNC_MAX = 10_000
PART_SIZE = 5_000

GENERATING = "generating"
ACTIVE = "active"
REVOKED = "revoked"


def new_product_code() -> str:
    """A fresh code, grouped for print: `XXXX-XXXX-XXXX-XXXX`."""
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return format_code(symbols)


def derived_code(seed: str, part: int, index: int) -> str:
    """Code `index` of part `part` of a batch generated from the secret `seed` (hex, 256 bits,
    drawn from `secrets` and kept only in the part's queue message): the first 80 bits of
    HMAC-SHA256(seed, "part:index"), so every delivery of a part derives the very same codes, and
    nobody without the seed can tell one code from the next."""
    mac = hmac.new(bytes.fromhex(seed), f"{part}:{index}".encode(), hashlib.sha256).digest()
    value = int.from_bytes(mac[:10], "big")
    symbols = "".join(ALPHABET[(value >> (5 * (CODE_LENGTH - 1 - i))) & 31] for i in range(CODE_LENGTH))
    return format_code(symbols)


def parts_of(count: int, size: int = PART_SIZE) -> int:
    """How many parts of `size` codes a queued batch of `count` codes is cut into."""
    return -(-count // size)


def part_size(count: int, part: int, size: int = PART_SIZE) -> int:
    """How many codes part `part` (0-based) of a batch of `count` codes cut into parts of `size` holds."""
    return min(size, count - part * size)


def format_code(symbols: str) -> str:
    return "-".join(symbols[i : i + GROUP] for i in range(0, len(symbols), GROUP))


def normalise_code(typed: str) -> str | None:
    """The code's 16 symbols as typed or scanned (any case, spaces and dashes anywhere, O for 0,
    I or L for 1); None when the text cannot be a code at all."""
    if not isinstance(typed, str) or len(typed) > MAX_TYPED:
        return None
    symbols = []
    for char in typed.upper():
        if char in _IGNORED:
            continue
        char = _READ_AS.get(char, char)
        if char not in ALPHABET:
            return None
        symbols.append(char)
    return "".join(symbols) if len(symbols) == CODE_LENGTH else None


def code_digest(normalised: str) -> str:
    """What the table keeps of a code (and finds it by): SHA-256 of its 16 symbols."""
    return hashlib.sha256(f"huiyuan:product-code:{normalised}".encode()).hexdigest()


def is_expired(expires_on: date | None, today: date) -> bool:
    """A batch's codes can be used up to and including `expires_on` (program time zone)."""
    return expires_on is not None and today > expires_on


def may_earn(status: str, expires_on: date | None, today: date) -> bool:
    """A code of a batch in this state earns its points: the batch is active and not expired."""
    return status == ACTIVE and not is_expired(expires_on, today)


def redemption_rate(redeemed: int, generated: int) -> float:
    """The share of a batch's codes used so far, 0..1 rounded to 4 places (0 for an empty batch)."""
    return round(redeemed / generated, 4) if generated else 0.0


def attempt_window(now: datetime) -> tuple[str, datetime]:
    """The fixed window a member's failed attempts are counted in (the hour of `now`, UTC): its
    key and its end."""
    start = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return start.strftime("%Y-%m-%dT%H"), start + timedelta(seconds=ATTEMPT_WINDOW_SECONDS)
