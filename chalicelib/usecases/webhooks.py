"""Webhooks: operators register endpoints for event types (audited); the delivery worker POSTs
each event, signed, to every enabled endpoint subscribed to its type, retrying on the schedule of
domain/webhooks.py and dead-lettering what never got through (replayable).

The signing secret is never stored: it is derived from the stage's signing key, the endpoint's id
and its `secret_generation` (domain/webhooks.derive_secret), so the table holds nothing that signs;
it is shown once, when the endpoint is created and when it is rotated.

A delivery: `webhook-id` is the event id (receivers deduplicate on it), `webhook-timestamp` the
attempt's Unix time, `webhook-signature` the HMAC. A 2xx answer within 10 s is a success; any
other answer (a redirect included: redirects are not followed), a timeout or a refused connection
is a failure, retried after the next delay of the schedule; after the last one the delivery is
dead-lettered. An endpoint failing, without a single success, for `DISABLE_AFTER_FAILING_FOR`
is disabled when its next delivery is dead-lettered; a disabled endpoint receives nothing.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from ..api.schemas.webhooks import WebhookCreateRequest, WebhookUpdateRequest, webhook_view
from ..domain import webhooks as rules_of
from ..domain.clock import utcnow
from ..domain.errors import InvalidState, NotFound, ValidationFailed
from ..domain.events import matches
from ..observability import count, logger
from ..settings import get_settings
from ..store import events as event_store
from ..store import webhooks as stored
from ..store.parameters import load_rules, signing_key
from ..store.unit_of_work import UnitOfWork, run
from .audit import Change, add_audit

USER_AGENT = "Huiyuan-Webhooks/1"
MAX_DEAD_LETTERS_SHOWN = 20


def _secret(webhook_id: str, generation: int) -> str:
    return rules_of.derive_secret(signing_key(), webhook_id, generation)


def _checked_url(url: str) -> str:
    try:
        rules_of.check_url(url, local=get_settings().is_local)
    except rules_of.TargetRefused as exc:
        raise ValidationFailed.single("url", str(exc)) from None
    return url


def _endpoint(webhook_id: str) -> Any:
    endpoint = stored.get_endpoint(webhook_id)
    if endpoint is None:
        raise NotFound(f"No webhook {webhook_id}")
    return endpoint


def _audited(uow: UnitOfWork, actor: str, action: str, webhook_id: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    add_audit(uow, Change(actor, action, "webhook", webhook_id, before, after), load_rules(), utcnow())


def create_webhook(request: WebhookCreateRequest, actor: str) -> dict[str, Any]:
    """A new endpoint, enabled; the answer carries its signing secret, shown this once."""
    url = _checked_url(request.url)

    def attempt(uow: UnitOfWork) -> Any:
        now = utcnow()
        endpoint = stored.add_endpoint(uow, url=url, event_types=list(request.event_types), description=request.description, now=now)
        _audited(uow, actor, "webhook.create", endpoint.webhook_id, None, {"url": url, "event_types": list(request.event_types)})
        uow.commit()
        return endpoint

    endpoint = run(attempt)
    count("OperatorActions")
    logger.info("webhook created", extra={"webhook_id": endpoint.webhook_id})
    return {**webhook_view(endpoint), "secret": _secret(endpoint.webhook_id, 1)}


def list_webhooks(limit: int, cursor: str | None) -> dict[str, Any]:
    return stored.endpoints_page(limit, cursor).view(webhook_view)


def get_webhook(webhook_id: str) -> dict[str, Any]:
    endpoint = _endpoint(webhook_id)
    return webhook_view(endpoint, stored.dead_letters(webhook_id)[:MAX_DEAD_LETTERS_SHOWN])


def update_webhook(webhook_id: str, request: WebhookUpdateRequest, actor: str) -> dict[str, Any]:
    """Enable or disable, change the event types or the description. Enabling starts afresh: the
    failure count is cleared (the endpoint is believed fixed)."""

    def attempt(uow: UnitOfWork) -> Any:
        now = utcnow()
        endpoint = _endpoint(webhook_id)
        changes: dict[str, Any] = {}
        if request.event_types is not None:
            changes["event_types"] = list(request.event_types)
        if request.description is not None:
            changes["description"] = request.description
        if request.enabled is not None and request.enabled != endpoint.enabled:
            changes["enabled"] = request.enabled
            changes["disabled_reason"] = None if request.enabled else "operator"
            if request.enabled:
                changes.update(consecutive_failures=0, failing_since=None)
        if not changes:
            return endpoint
        before = {k: (list(getattr(endpoint, k)) if k == "event_types" else getattr(endpoint, k)) for k in changes if k in ("enabled", "event_types")}
        after = {k: v for k, v in changes.items() if k in ("enabled", "event_types")}
        stored.change_endpoint(uow, endpoint, changes, now)
        _audited(uow, actor, "webhook.update", webhook_id, before or None, after or None)
        uow.commit()
        for name, value in changes.items():
            setattr(endpoint, name, value)
        return endpoint

    endpoint = run(attempt)
    count("OperatorActions")
    return webhook_view(endpoint)


def rotate_secret(webhook_id: str, actor: str) -> dict[str, Any]:
    """A new secret at once (the old one stops signing): shown this once."""

    def attempt(uow: UnitOfWork) -> Any:
        now = utcnow()
        endpoint = _endpoint(webhook_id)
        generation = int(endpoint.secret_generation) + 1
        stored.change_endpoint(uow, endpoint, {"secret_generation": generation}, now)
        _audited(uow, actor, "webhook.rotate_secret", webhook_id, {"secret_generation": generation - 1}, {"secret_generation": generation})
        uow.commit()
        endpoint.secret_generation = generation
        return endpoint

    endpoint = run(attempt)
    count("OperatorActions")
    return {**webhook_view(endpoint), "secret": _secret(webhook_id, int(endpoint.secret_generation))}


def delete_webhook(webhook_id: str, actor: str) -> None:
    def attempt(uow: UnitOfWork) -> None:
        endpoint = _endpoint(webhook_id)
        stored.delete_endpoint(uow, endpoint)
        _audited(uow, actor, "webhook.delete", webhook_id, {"url": endpoint.url}, None)
        uow.commit()

    run(attempt)
    count("OperatorActions")


def replay_dead_letters(webhook_id: str, actor: str) -> dict[str, Any]:
    """Queue every dead-lettered delivery of the endpoint again (a fresh schedule of attempts);
    409 while the endpoint is disabled (the deliveries would only be held again)."""
    endpoint = _endpoint(webhook_id)
    if not endpoint.enabled:
        raise InvalidState("The endpoint is disabled: enable it first (PATCH enabled: true), then replay")
    letters = stored.dead_letters(webhook_id)
    now = utcnow()
    event_store.enqueue_deliveries([delivery_message(webhook_id, stored.event_of(letter), 1, now) for letter in letters])
    for letter in letters:
        stored.mark_replayed(letter, now)

    def attempt(uow: UnitOfWork) -> None:
        _audited(uow, actor, "webhook.replay", webhook_id, None, {"deliveries": len(letters)})
        uow.commit()

    run(attempt)
    logger.info("webhook dead letters replayed", extra={"webhook_id": webhook_id, "deliveries": len(letters)})
    return {"webhook_id": webhook_id, "replayed": len(letters), "enabled": bool(endpoint.enabled)}


# --- fan-out and delivery -------------------------------------------------------------------------


def delivery_message(webhook_id: str, event: dict[str, Any], attempt: int, not_before: datetime) -> dict[str, Any]:
    return {"webhook_id": webhook_id, "event": event, "attempt": attempt, "not_before": not_before.isoformat()}


def deliveries_for(events: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """One delivery per (event, enabled endpoint subscribed to its type): one query of the endpoints."""
    if not events:
        return []
    endpoints = [e for e in stored.all_endpoints() if e.enabled]
    return [delivery_message(e.webhook_id, event, 1, now) for event in events for e in endpoints if matches(list(e.event_types), event["type"])]


# Why a delivery was dead-lettered without an attempt: its endpoint was disabled meanwhile.
DISABLED = "endpoint disabled"


@dataclass(frozen=True)
class Delivery:
    outcome: str  # delivered | retry | dead_lettered | skipped | waiting
    failure: str | None = None
    next_message: dict[str, Any] | None = None


# What an answer's body is read of: enough to take the connection's answer, not the receiver's essay.
ANSWER_READ_BYTES = 64 * 1024


def _post(url: str, body: bytes, headers: dict[str, str], *, local: bool) -> int:
    """POST once, to an address that may be called (checked after resolving: no private,
    link-local or, in the cloud, loopback targets), never following a redirect, within
    DELIVERY_TIMEOUT_SECONDS in all: connecting, the TLS handshake, the answer and reading its
    body share one deadline (each socket step is given what is left of it), so a receiver that
    connects slowly and answers slowly, or drips its body, cannot hold the worker past its own
    timeout. The name's resolution is left to the resolver's timeout (AWS's answers in ms)."""
    deadline = time.monotonic() + rules_of.DELIVERY_TIMEOUT_SECONDS

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the delivery took longer than its timeout")
        return remaining

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = [str(info[4][0]) for info in infos]
    if not addresses or not all(rules_of.address_allowed(a, local=local) for a in addresses):
        raise rules_of.TargetRefused("resolves to an address that may not be called")
    sock = socket.create_connection((addresses[0], port), timeout=left())
    try:
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(host, port)
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)  # the handshake: within left()
        else:
            connection = http.client.HTTPConnection(host, port)
        connection.sock = sock
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        sock.settimeout(left())
        connection.request("POST", path, body=body, headers=headers)
        sock.settimeout(left())
        response = connection.getresponse()
        read = 0
        while read < ANSWER_READ_BYTES:
            sock.settimeout(left())
            chunk = response.read1(ANSWER_READ_BYTES - read)
            if not chunk:
                break
            read += len(chunk)
        return response.status
    finally:
        sock.close()


def deliver(message: dict[str, Any], now: datetime | None = None) -> Delivery:
    """One attempt of one delivery (the worker's unit). A failure queues the next attempt (its
    message is also returned) or dead-letters the delivery after the last."""
    now = now or utcnow()
    endpoint = stored.get_endpoint(str(message["webhook_id"]))
    if endpoint is None:  # deleted: nothing left to deliver to, or to replay to
        count("WebhookDeliveriesSkipped")
        return Delivery("skipped")
    if not endpoint.enabled:
        # Disabled while this delivery was on its way (by an operator, or for failing): it is
        # not sent, and not lost either: dead-lettered at once, for a replay once enabled again.
        stored.add_dead_letter(endpoint.webhook_id, message["event"], int(message.get("attempt", 1)) - 1, DISABLED, now, disable=False)
        count("WebhookDeadLetters")
        return Delivery("dead_lettered", DISABLED)
    not_before = datetime.fromisoformat(message["not_before"])
    if not_before > now:  # SQS delays at most 15 minutes: wait again
        event_store.enqueue_deliveries([message], delay_seconds=int((not_before - now).total_seconds()) + 1)
        return Delivery("waiting", next_message=message)
    event = message["event"]
    attempt = int(message.get("attempt", 1))
    body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = int(now.timestamp())
    secret = _secret(endpoint.webhook_id, int(endpoint.secret_generation))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": str(event["id"]),
        "webhook-timestamp": str(timestamp),
        "webhook-signature": rules_of.signature(secret, str(event["id"]), timestamp, body),
    }
    failure: str | None
    started = time.monotonic()
    try:
        status = _post(endpoint.url, body, headers, local=get_settings().is_local)
        failure = None if 200 <= status < 300 else (f"redirect {status} (not followed)" if 300 <= status < 400 else f"status {status}")
    except TimeoutError:
        failure = "timeout"
    except rules_of.TargetRefused as exc:
        failure = f"refused: {exc}"
    except (OSError, http.client.HTTPException) as exc:
        failure = f"connection failed: {type(exc).__name__}"
    logger.info(
        "webhook delivery",
        extra={
            "webhook_id": endpoint.webhook_id,
            "event_id": event["id"],
            "attempt": attempt,
            "failure": failure,
            "ms": round((time.monotonic() - started) * 1000),
        },
    )
    if failure is None:
        stored.record_success(endpoint.webhook_id, now)
        count("WebhookDeliveries")
        return Delivery("delivered")
    count("WebhookDeliveryFailures")
    after = stored.record_failure(endpoint.webhook_id, failure, now)
    delay = rules_of.retry_delay(attempt)
    if delay is None:
        failing_since = after.failing_since if after is not None and after.failing_since else now
        disable = now - failing_since >= rules_of.DISABLE_AFTER_FAILING_FOR
        stored.add_dead_letter(endpoint.webhook_id, event, attempt, failure, now, disable=disable)
        count("WebhookDeadLetters")
        return Delivery("dead_lettered", failure)
    retry = delivery_message(endpoint.webhook_id, event, attempt + 1, now + delay)
    event_store.enqueue_deliveries([retry], delay_seconds=int(delay.total_seconds()))
    return Delivery("retry", failure, retry)
