"""The jobs queue (SQS), for whoever fans units of work out: the job runner (jobs/runner.py) and
the use cases that start a run of their own (a survey's invitations at publication, a campaign's
launch, the check of an operator's analytics refresh).

A message is one unit: `{"job", "kind", "as_of", "run_id", "dry_run", ...}`; the queue worker
(jobs/handlers.py) does it with `runner.do_unit`, which adds its counters to the run's record
(store/job_runs.py) once however often SQS delivers it.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from functools import cache
from typing import Any

from ..settings import get_settings
from . import job_runs

# Deliveries of a unit before SQS moves it to the dead-letter queue (the queue's redrive policy:
# infra/stack.py, localstage/bootstrap.py): the worker knows a unit's last try by it.
MAX_RECEIVES = 5


@cache
def _sqs() -> Any:
    import boto3

    return boto3.client("sqs")


@cache
def queue_url() -> str:
    return str(_sqs().get_queue_url(QueueName=get_settings().jobs_queue_name)["QueueUrl"])


def enqueue(messages: list[dict[str, Any]]) -> None:
    """Send the units, ten a request; raises if any could not be queued."""
    for start in range(0, len(messages), 10):
        batch = messages[start : start + 10]
        # A unit may ask to be delivered later (`delay_seconds`, at most SQS's 900): a check that waits.
        entries = [{"Id": str(i), "MessageBody": json.dumps(m), **_delay(m)} for i, m in enumerate(batch)]
        result = _sqs().send_message_batch(QueueUrl=queue_url(), Entries=entries)
        if result.get("Failed"):
            raise RuntimeError(f"{len(result['Failed'])} job units could not be queued")


def _delay(message: dict[str, Any]) -> dict[str, int]:
    delay = int(message.get("delay_seconds", 0))
    return {"DelaySeconds": min(delay, 900)} if delay > 0 else {}


def new_run_id(now: datetime) -> str:
    return f"{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"


def start_units(job: str, as_of: str, units: list[dict[str, Any]], *, now: datetime, run_id: str | None = None) -> str:
    """Record a run of `job` (under `run_id`, or a new one) with `units` planned and queue them
    (each with the run's fields); returns the run id. A use case's own fan-out (a segment
    survey's invitations, a segment's bulk tag change, an operator's analytics refresh checked
    later: a unit may carry `delay_seconds`)."""
    run_id = run_id or new_run_id(now)
    job_runs.start_run(job, as_of, run_id, dry_run=False, units_planned=len(units), now=now)
    enqueue([{**unit, "job": job, "as_of": as_of, "dry_run": False, "run_id": run_id} for unit in units])
    return run_id
