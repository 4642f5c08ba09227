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


def _scheduled_function(job: str) -> EventSourceHandler:
    """The job's scheduled function, registered on `bp` under the job's name.

    Lambda finds a function by its handler string, `chalicelib.jobs.handlers.<function name>`
    (Chalice builds it from the function's `__name__`), so the function is named after the job
    and set as an attribute of this module, as a decorated `def` would be.
    """

    def handler(event: JobInvocation) -> dict[str, Any]:
        return run_scheduled(job, event)

    handler.__name__ = handler.__qualname__ = job.replace("-", "_")
    schedule = SCHEDULES[job]
    scheduled: EventSourceHandler = bp.schedule(schedule.cron, name=job, description=schedule.description)(handler)
    scheduled.event_class = JobInvocation
    globals()[handler.__name__] = scheduled
    return scheduled


# What the decorator returns, by job: Lambda calls it with (event, context).
SCHEDULED: dict[str, EventSourceHandler] = {job: _scheduled_function(job) for job in SCHEDULES}


@bp.on_sqs_message(queue=get_settings().jobs_queue_name, batch_size=10, name="job-worker")
def job_worker(event: SQSEvent) -> PartialItemFailureResponse:
    """Do each queued unit; report the failed ones so only they come back (partial batch response).
    SQS counts a unit's deliveries (`ApproximateReceiveCount`): the runner knows its last one."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    def handle(record: Any) -> None:
        runner.do_unit(json.loads(record.body), delivery=int(record.attributes.get("ApproximateReceiveCount") or 1))

    try:
        return process_partial_response(
            event=event.to_dict(), record_handler=handle, processor=BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        )
    finally:
        metrics.flush_metrics()
