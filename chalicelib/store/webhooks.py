"""Webhook endpoints and their dead-lettered deliveries, as the table keeps them.

| pk                  | sk                | item              | access pattern                                |
|---------------------|-------------------|-------------------|-----------------------------------------------|
| WEBHOOKS            | HOOK#<webhook_id> | WebhookEndpoint   | every endpoint in one query: the event fan-out, the operators' list |
| WEBHOOK#<webhook_id>| DEAD#<event_id>   | WebhookDeadLetter | an endpoint's dead letters, for operators and replays |

Delivery status (last success, failures) is updated in place by the delivery worker, without a
version: two deliveries finishing together may each write their own time, never a balance.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.update import Action

from . import keys
from .models_webhooks import WebhookDeadLetter, WebhookEndpoint
from .paging import Page, query_page
from .unit_of_work import UnitOfWork

ENDPOINTS_PK = keys.WEBHOOKS_PK
ENDPOINT_PREFIX = keys.WEBHOOK_PREFIX
DEAD_PREFIX = keys.WEBHOOK_DEAD_PREFIX
endpoint_sk = keys.webhook_sk
dead_letters_pk = keys.webhook_dead_pk


def new_webhook_id() -> str:
    return f"wh_{secrets.token_hex(8)}"


def add_endpoint(uow: UnitOfWork, *, url: str, event_types: list[str], description: str | None, now: datetime) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        ENDPOINTS_PK,
        endpoint_sk(new_webhook_id()),
        url=url,
        event_types=event_types,
        description=description,
        enabled=True,
        secret_generation=1,
        created_at=now,
        updated_at=now,
    )
    endpoint.webhook_id = endpoint.sk.removeprefix(ENDPOINT_PREFIX)
    uow.put("webhook", endpoint, WebhookEndpoint.pk.does_not_exist())
    return endpoint


def get_endpoint(webhook_id: str) -> WebhookEndpoint | None:
    try:
        return WebhookEndpoint.get(ENDPOINTS_PK, endpoint_sk(webhook_id), consistent_read=True)
    except DoesNotExist:
        return None


def all_endpoints() -> list[WebhookEndpoint]:
    """Every endpoint (a brand has a handful): one query."""
    return list(WebhookEndpoint.query(ENDPOINTS_PK, WebhookEndpoint.sk.startswith(ENDPOINT_PREFIX)))


def endpoints_page(limit: int, cursor: str | None) -> Page[WebhookEndpoint]:
    return query_page(WebhookEndpoint, ENDPOINTS_PK, ENDPOINT_PREFIX, limit, cursor)


def change_endpoint(uow: UnitOfWork, endpoint: WebhookEndpoint, changes: dict[str, Any], now: datetime) -> None:
    """Set `changes` (attribute name -> value) on an existing endpoint."""
    actions = [
        getattr(WebhookEndpoint, name).set(value) if value is not None else getattr(WebhookEndpoint, name).remove() for name, value in changes.items()
    ]
    actions.append(WebhookEndpoint.updated_at.set(now))
    uow.update("webhook", endpoint, actions, WebhookEndpoint.pk.exists())


def delete_endpoint(uow: UnitOfWork, endpoint: WebhookEndpoint) -> None:
    uow.delete("webhook", endpoint, WebhookEndpoint.pk.exists())


def record_success(webhook_id: str, now: datetime) -> None:
    endpoint = WebhookEndpoint(ENDPOINTS_PK, endpoint_sk(webhook_id))
    try:
        endpoint.update(
            actions=[
                WebhookEndpoint.last_success_at.set(now),
                WebhookEndpoint.consecutive_failures.set(0),
                WebhookEndpoint.failing_since.remove(),
            ],
            condition=WebhookEndpoint.pk.exists(),
        )
    except UpdateError as exc:  # deleted meanwhile: nothing to record
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise


def record_failure(webhook_id: str, failure: str, now: datetime) -> WebhookEndpoint | None:
    """Count a failed attempt; the endpoint as it is now (None if it was deleted)."""
    endpoint = WebhookEndpoint(ENDPOINTS_PK, endpoint_sk(webhook_id))
    try:
        endpoint.update(
            actions=[
                WebhookEndpoint.last_failure_at.set(now),
                WebhookEndpoint.last_failure.set(failure[:200]),
                WebhookEndpoint.consecutive_failures.add(1),
                WebhookEndpoint.failing_since.set(WebhookEndpoint.failing_since | now),
            ],
            condition=WebhookEndpoint.pk.exists(),
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return endpoint


def add_dead_letter(webhook_id: str, event: dict[str, Any], attempts: int, failure: str, now: datetime, *, disable: bool) -> None:
    """Keep the delivery for a replay, count it on the endpoint, and (`disable`) switch the endpoint off."""
    letter = WebhookDeadLetter(
        dead_letters_pk(webhook_id),
        keys.webhook_dead_sk(event["id"]),
        webhook_id=webhook_id,
        event_id=event["id"],
        event_type=event["type"],
        event=event,
        attempts=attempts,
        last_failure=failure[:200],
        dead_at=now,
    )
    letter.save()
    actions: list[Action] = [WebhookEndpoint.dead_letters.add(1)]
    if disable:
        actions += [WebhookEndpoint.enabled.set(False), WebhookEndpoint.disabled_reason.set("failing")]
    try:
        WebhookEndpoint(ENDPOINTS_PK, endpoint_sk(webhook_id)).update(actions=actions, condition=WebhookEndpoint.pk.exists())
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise


def dead_letters(webhook_id: str, *, pending_only: bool = True) -> list[WebhookDeadLetter]:
    found = WebhookDeadLetter.query(dead_letters_pk(webhook_id), WebhookDeadLetter.sk.startswith(DEAD_PREFIX))
    return [d for d in found if not (pending_only and d.replayed_at is not None)]


def event_of(letter: WebhookDeadLetter) -> dict[str, Any]:
    """The event a dead letter kept, as it was to be sent."""
    event: dict[str, Any] = letter.event.as_dict()  # type: ignore[no-untyped-call]  # PynamoDB leaves it unannotated
    return event


def mark_replayed(letter: WebhookDeadLetter, now: datetime) -> None:
    letter.update(actions=[WebhookDeadLetter.replayed_at.set(now)])
