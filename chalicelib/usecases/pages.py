"""List cursors: opaque to clients, a sort key inside.

A cursor carries only a sort key; the partition always comes from the
caller's token (or the operator route), so no cursor reaches someone else's
items. `decode_cursor` refuses anything that does not carry the expected prefix.
"""

from __future__ import annotations

import base64
import binascii

from ..domain.errors import ValidationFailed


def encode_cursor(sk: str) -> str:
    return base64.urlsafe_b64encode(sk.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, prefix: str) -> str:
    try:
        sk = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValidationFailed.single("cursor", "not a cursor this API gave out") from None
    if not sk.startswith(prefix) or len(sk) > 200:
        raise ValidationFailed.single("cursor", "not a cursor this API gave out")
    return sk
