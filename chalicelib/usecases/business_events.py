"""The table's change stream -> business events on the stage's bus, and webhook deliveries.

Called with a batch of DynamoDB stream records (the deployed stream's Lambda, or the local
stage's poller). Each committed item change maps to zero or more events (domain/events.py); they
are put on EventBridge, and one delivery per subscribed, enabled webhook endpoint is queued.
A record whose events EventBridge refused is reported failed (ReportBatchItemFailures): the
stream retries from it, and its events keep their ids, so receivers deduplicate a repeat.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..domain.clock import utcnow
from ..domain.events import events_of_change
from ..observability import count, logger
from ..store import events as event_store
from .webhooks import deliveries_for


def _committed_at(record: Mapping[str, Any]) -> datetime:
    seconds = (record.get("dynamodb") or {}).get("ApproximateCreationDateTime")
    if isinstance(seconds, datetime):
        return seconds.astimezone(UTC)
    return datetime.fromtimestamp(float(seconds), UTC) if seconds else utcnow()


def events_of_records(records: list[Mapping[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Each record's sequence number and the events it means, in stream order."""
    found = []
    for record in records:
        old, new = event_store.images_of(record)
        sequence = str((record.get("dynamodb") or {}).get("SequenceNumber") or record.get("eventID"))
        events = events_of_change(old, new, record_id=str(record.get("eventID")), committed_at=_committed_at(record))
        found.append((sequence, [e.as_dict() for e in events]))
    return found


def handle_stream_batch(records: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Publish a batch's events and queue their webhook deliveries; the partial batch response
    (`batchItemFailures`: the first record that must be retried, and every one after it)."""
    per_record = events_of_records(records)
    events = [e for _, found in per_record for e in found]
    refused = event_store.publish(events)
    failed_from = next((n for n, (_, found) in enumerate(per_record) if any(e["id"] in refused for e in found)), None)
    published = [e for n, (_, found) in enumerate(per_record) if failed_from is None or n < failed_from for e in found]
    event_store.enqueue_deliveries(deliveries_for(published, utcnow()))
    count("BusinessEventsPublished", len(published))
    if failed_from is None:
        return {"batchItemFailures": []}
    logger.warning("events refused by the bus: the stream retries", extra={"refused": len(refused), "records": len(per_record) - failed_from})
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence, _ in per_record[failed_from:]]}
