"""Which request bodies count as JSON (the app's routes and the local server agree)."""

from __future__ import annotations


def is_json_media_type(content_type: str | None) -> bool:
    """application/json, with or without parameters (charset); what Chalice routes accept."""
    return (content_type or "").split(";", 1)[0].strip().lower() == "application/json"
