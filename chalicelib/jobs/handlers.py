"""The jobs' Lambda handlers: one Chalice scheduled function per job spec, and the
queue worker that does their units (both hand over to runner.py at once).

Run by hand from the console: invoke the job's function with
`{"as_of": "YYYY-MM-DD", "dry_run": true|false}` (add `"inline": true` to do
the work in that invocation and get the full summary back instead of
fanning out). The schedule's own EventBridge event runs it for today.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, CloudWatchEvent, EventSourceHandler, SQSEvent

from ..lazy import lazy_module
from ..observability import logger, metrics
from ..settings import get_settings
from .schedules import SCHEDULES

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

    from ..domain import clock
    from ..store import parameters
    from . import runner
else:
    # The API's functions load this module too (one app): the job machinery loads when a job runs.
    clock = lazy_module("chalicelib.domain.clock")  # zoneinfo with it
    parameters = lazy_module("chalicelib.store.parameters")
    runner = lazy_module("chalicelib.jobs.runner")

bp = Blueprint(__name__)


class JobInvocation(CloudWatchEvent):
    """A scheduled EventBridge event, or a hand-made console payload."""

    def _extract_attributes(self, event_dict: dict[str, Any]) -> None:
        self.scheduled = event_dict.get("source") == "aws.events"
        if self.scheduled:
            super()._extract_attributes(event_dict)


def run_scheduled(job: str, event: JobInvocation) -> dict[str, Any]:
    payload = {} if event.scheduled else event.to_dict()
    try:
        request = runner.parse_request(job, payload, clock.today_in(parameters.load_rules().zone, clock.utcnow()))
    except runner.BadJobRequest as exc:
        logger.warning("job request refused", extra={"job": job, "error": str(exc)})
        return {"error": str(exc)}
    try:
        result = runner.start_job(request, inline=bool(payload.get("inline", False)))
    finally:
        metrics.flush_metrics()
    logger.info("job run", extra={"summary": result})
    return result


@bp.schedule(SCHEDULES["expire-points"].cron, name="expire-points", description=SCHEDULES["expire-points"].description)
def expire_points(event: JobInvocation) -> dict[str, Any]:
    return run_scheduled("expire-points", event)


@bp.schedule(SCHEDULES["birthday-bonus"].cron, name="birthday-bonus", description=SCHEDULES["birthday-bonus"].description)
def birthday_bonus(event: JobInvocation) -> dict[str, Any]:
    return run_scheduled("birthday-bonus", event)


@bp.schedule(SCHEDULES["reengagement"].cron, name="reengagement", description=SCHEDULES["reengagement"].description)
def reengagement(event: JobInvocation) -> dict[str, Any]:
    return run_scheduled("reengagement", event)


@bp.schedule(SCHEDULES["tier-review"].cron, name="tier-review", description=SCHEDULES["tier-review"].description)
def tier_review(event: JobInvocation) -> dict[str, Any]:
    return run_scheduled("tier-review", event)


@bp.schedule(SCHEDULES["send-deferred"].cron, name="send-deferred", description=SCHEDULES["send-deferred"].description)
def send_deferred(event: JobInvocation) -> dict[str, Any]:
    return run_scheduled("send-deferred", event)


@bp.schedule(SCHEDULES["erase-closed"].cron, name="erase-closed", description=SCHEDULES["erase-closed"].description)
def erase_closed(event: JobInvocation) -> dict[str, Any]:
    return run_scheduled("erase-closed", event)


@bp.schedule(SCHEDULES["reconcile"].cron, name="reconcile", description=SCHEDULES["reconcile"].description)
def reconcile(event: JobInvocation) -> dict[str, Any]:
    return run_scheduled("reconcile", event)


# What the decorator returns: Lambda calls it with (event, context).
SCHEDULED: dict[str, EventSourceHandler] = {
    "expire-points": expire_points,
    "birthday-bonus": birthday_bonus,
    "reengagement": reengagement,
    "tier-review": tier_review,
    "send-deferred": send_deferred,
    "erase-closed": erase_closed,
    "reconcile": reconcile,
}
for _handler in SCHEDULED.values():
    _handler.event_class = JobInvocation


@bp.on_sqs_message(queue=get_settings().jobs_queue_name, batch_size=10, name="job-worker")
def job_worker(event: SQSEvent) -> PartialItemFailureResponse:
    """Do each queued unit; report the failed ones so only they come back (partial batch response)."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    def handle(record: Any) -> None:
        runner.do_unit(json.loads(record.body))

    try:
        return process_partial_response(
            event=event.to_dict(), record_handler=handle, processor=BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        )
    finally:
        metrics.flush_metrics()
