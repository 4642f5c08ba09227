"""Wire formats the HTTP layer checks before any model is built: which bodies are JSON, and what
an id in a path or body looks like. Light on purpose (no pydantic): the local server and every
route import it."""

from __future__ import annotations

import re
from urllib.parse import unquote

# Merchant and member ids (order, refund, payment, top-up, reward, key, member, store): ASCII.
IDENTIFIER_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")


def is_json_media_type(content_type: str | None) -> bool:
    """application/json, with or without parameters (charset); what Chalice routes accept."""
    return (content_type or "").split(";", 1)[0].strip().lower() == "application/json"


def path_identifier(raw: str) -> str | None:
    """A path parameter as the id it names (percent-decoded), or None if it cannot be one."""
    value = unquote(raw)
    return value if IDENTIFIER_PATTERN.fullmatch(value) else None
