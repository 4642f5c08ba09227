"""Which request bodies count as JSON (the app's routes and the local server agree)."""

from __future__ import annotations


def is_json_media_type(content_type: str | None) -> bool:
    """application/json or a +json type, with or without parameters (charset)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))
