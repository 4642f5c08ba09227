"""Where business events come from and go: the table's change stream, the stage's EventBridge
bus, and the webhook delivery queue.

- `images_of`: a DynamoDB stream record's old and new images as plain dicts (numbers as int).
- `publish`: PutEvents in batches of at most 10 entries and 256 KB; answers the ids EventBridge
  did not take (a partial failure), so the caller fails those stream records and the stream
  retries them (with the same event ids).
- `enqueue_deliveries`: one SQS message per (event, endpoint), delayed as the retry schedule asks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from functools import cache
from typing import Any

from ..settings import get_settings

SOURCE = "huiyuan"
MAX_ENTRIES = 10
MAX_BATCH_BYTES = 256 * 1024
MAX_DELAY_SECONDS = 900  # SQS's longest message delay


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set | frozenset | tuple):
        items = [_plain(v) for v in value]
        return sorted(items) if isinstance(value, set | frozenset) else items
    if isinstance(value, bytes | bytearray):
        return None  # binary attributes are never part of an event
    return value


def image(raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A stream image (DynamoDB JSON) as a plain dict."""
    if not raw:
        return None
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {name: _plain(deserializer.deserialize(value)) for name, value in raw.items()}


def images_of(record: Mapping[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    change = record.get("dynamodb") or {}
    return image(change.get("OldImage")), image(change.get("NewImage"))


@cache  # one client a service per process, as store/job_queue.py keeps its own
def _client(service: str) -> Any:
    import boto3

    return boto3.client(service)


def _entry(event: Mapping[str, Any], bus: str) -> dict[str, Any]:
    return {"Source": SOURCE, "DetailType": event["type"], "Detail": json.dumps(event, separators=(",", ":")), "EventBusName": bus}


def _batches(entries: list[tuple[str, dict[str, Any]]]) -> Iterable[list[tuple[str, dict[str, Any]]]]:
    batch: list[tuple[str, dict[str, Any]]] = []
    size = 0
    for event_id, entry in entries:
        # EventBridge's size of an entry: its Source, DetailType and Detail (and a bit for the time).
        entry_size = len(entry["Source"]) + len(entry["DetailType"].encode()) + len(entry["Detail"].encode()) + 14
        if batch and (len(batch) == MAX_ENTRIES or size + entry_size > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append((event_id, entry))
        size += entry_size
    if batch:
        yield batch


def publish(events: Sequence[Mapping[str, Any]]) -> set[str]:
    """Put the events on the stage's bus; the ids of those EventBridge refused (retry them)."""
    if not events:
        return set()
    client = _client("events")
    bus = get_settings().event_bus_name
    refused: set[str] = set()
    for batch in _batches([(str(e["id"]), _entry(e, bus)) for e in events]):
        answer = client.put_events(Entries=[entry for _, entry in batch])
        if answer.get("FailedEntryCount"):
            for (event_id, _), result in zip(batch, answer.get("Entries", []), strict=False):
                if result.get("ErrorCode"):
                    refused.add(event_id)
    return refused


@cache
def _queue_url() -> str:
    return str(_client("sqs").get_queue_url(QueueName=get_settings().webhooks_queue_name)["QueueUrl"])


def enqueue_deliveries(deliveries: list[dict[str, Any]], *, delay_seconds: int = 0) -> None:
    """Queue webhook deliveries (each `{webhook_id, event, attempt, not_before}`), ten a call."""
    if not deliveries:
        return
    sqs = _client("sqs")
    url = _queue_url()
    delay = max(0, min(MAX_DELAY_SECONDS, delay_seconds))
    for start in range(0, len(deliveries), 10):
        chunk = deliveries[start : start + 10]
        answer = sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(n), "MessageBody": json.dumps(d, separators=(",", ":")), "DelaySeconds": delay} for n, d in enumerate(chunk)],
        )
        if answer.get("Failed"):
            raise RuntimeError(f"{len(answer['Failed'])} webhook deliveries not queued")
