"""Webhook endpoint request bodies (/v1/admin/webhooks) and the endpoint's view."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, StrictBool, StringConstraints, field_validator

from ...domain.events import EVENT_TYPES
from .fields import Body, DocumentedName, _clean_name

Description = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_clean_name), DocumentedName]
Url = Annotated[str, StringConstraints(min_length=8, max_length=2000, pattern=r"^[hH][tT][tT][pP][sS]?://[^\s]+$")]
_FAMILIES = {t.split(".")[0] for t in EVENT_TYPES}


def _event_types(values: list[str]) -> list[str]:
    for value in values:
        if value == "*" or value in EVENT_TYPES or (value.endswith(".*") and value[:-2] in _FAMILIES):
            continue
        raise ValueError(f"unknown event type {value[:60]!r} (see docs/integrations.md: the event catalogue)")
    return sorted(set(values))


EventTypes = Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=64)]], Field(min_length=1, max_length=64)]


class WebhookCreateRequest(Body):
    url: Url
    event_types: EventTypes
    description: Description | None = None

    @field_validator("event_types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        return _event_types(value)


class WebhookUpdateRequest(Body):
    enabled: StrictBool | None = None
    event_types: EventTypes | None = None
    description: Description | None = None

    @field_validator("event_types")
    @classmethod
    def _known_types(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _event_types(value)


def _when(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def webhook_view(endpoint: Any, dead_letters: list[Any] | None = None) -> dict[str, Any]:
    """An endpoint as operators see it: never its secret (shown once, on creation and rotation)."""
    view: dict[str, Any] = {
        "webhook_id": endpoint.webhook_id,
        "url": endpoint.url,
        "event_types": list(endpoint.event_types),
        "description": endpoint.description,
        "enabled": bool(endpoint.enabled),
        "disabled_reason": None if endpoint.enabled else (endpoint.disabled_reason or "operator"),
        "created_at": _when(endpoint.created_at),
        "status": {
            "last_success_at": _when(endpoint.last_success_at),
            "last_failure_at": _when(endpoint.last_failure_at),
            "last_failure": endpoint.last_failure,
            "consecutive_failures": int(endpoint.consecutive_failures or 0),
            "failing_since": _when(endpoint.failing_since),
            "dead_letters": int(endpoint.dead_letters or 0),
        },
    }
    if dead_letters is not None:
        view["dead_letters"] = [
            {
                "event_id": d.event_id,
                "event_type": d.event_type,
                "attempts": int(d.attempts),
                "last_failure": d.last_failure,
                "dead_at": _when(d.dead_at),
            }
            for d in dead_letters
        ]
    return view
