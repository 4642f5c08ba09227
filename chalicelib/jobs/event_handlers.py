"""The Lambda handlers of business events: the table's stream -> events (and webhook
deliveries), and the webhook delivery worker (both hand over to their use case at once)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, DynamoDBEvent, SQSEvent

from ..lazy import lazy_module
from ..observability import metrics
from ..settings import get_settings

if TYPE_CHECKING:
    from ..usecases import business_events, webhooks
else:
    business_events = lazy_module("chalicelib.usecases.business_events")
    webhooks = lazy_module("chalicelib.usecases.webhooks")

bp = Blueprint(__name__)

# Chalice needs a stream ARN to declare the event source; the stack replaces it with its table's
# stream (infra/stack.py), which exists only once the table is deployed.
STREAM_PLACEHOLDER = "arn:aws:dynamodb:us-east-1:000000000000:table/huiyuan/stream/replaced-by-the-stack"


@bp.on_dynamodb_record(stream_arn=STREAM_PLACEHOLDER, batch_size=100, starting_position="TRIM_HORIZON", name="event-publisher")
def event_publisher(event: DynamoDBEvent) -> dict[str, Any]:
    """Publish the batch's events; the partial batch response names the records to retry."""
    try:
        return business_events.handle_stream_batch(list(event.to_dict().get("Records", [])))
    finally:
        metrics.flush_metrics()


@bp.on_sqs_message(queue=get_settings().webhooks_queue_name, batch_size=1, name="webhook-worker")
def webhook_worker(event: SQSEvent) -> dict[str, Any]:
    """One attempt per queued delivery; a failed attempt is queued again by the use case (with its
    delay), so only an unexpected error comes back to SQS (and, after 5 receives, its DLQ).

    One delivery per invocation in the cloud (batch size 1): a POST may take its whole 10 s, and
    the function's 15 s timeout must hold it; a batch of slow endpoints would time out the whole
    batch, its finished deliveries redelivered and their retries queued again."""
    failures = []
    try:
        for record in event.to_dict().get("Records", []):
            try:
                webhooks.deliver(json.loads(record["body"]))
            except Exception:
                from ..observability import logger

                logger.exception("webhook delivery failed unexpectedly", extra={"message_id": record.get("messageId")})
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}
    finally:
        metrics.flush_metrics()
