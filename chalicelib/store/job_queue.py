"""A unit of a job sent to the jobs queue from outside the job runner (an operator's request that
hands the rest of its work to a job: the analytics refresh). The message is a unit as the runner
sends them (jobs/runner.py `start_job`): job, as_of, dry_run, run_id and the unit's own fields;
its run's record is started first, as the runner does."""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

from ..settings import get_settings
from . import job_runs


def _sqs() -> Any:
    import boto3

    return boto3.client("sqs")


def send_unit(job: str, as_of: str, run_id: str, unit: dict[str, Any], *, delay_seconds: int, now: Any) -> None:
    job_runs.start_run(job, as_of, run_id, dry_run=False, units_planned=1, now=now)
    sqs = _sqs()
    url = sqs.get_queue_url(QueueName=get_settings().jobs_queue_name)["QueueUrl"]
    body = {**unit, "job": job, "as_of": as_of, "dry_run": False, "run_id": run_id, "delay_seconds": delay_seconds}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body), DelaySeconds=min(delay_seconds, 900))


def new_run_id(now: datetime) -> str:
    return f"{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"


def start_units(job: str, as_of: str, units: list[dict[str, Any]], *, now: datetime, run_id: str | None = None) -> str:
    """Record a run of `job` with `units` planned and queue them (each with the run's fields, ten
    a request); returns the run id. A use case's own fan-out (a segment's bulk tag change)."""
    run_id = run_id or new_run_id(now)
    job_runs.start_run(job, as_of, run_id, dry_run=False, units_planned=len(units), now=now)
    messages = [{**unit, "job": job, "as_of": as_of, "dry_run": False, "run_id": run_id} for unit in units]
    sqs = _sqs()
    url = sqs.get_queue_url(QueueName=get_settings().jobs_queue_name)["QueueUrl"]
    for start in range(0, len(messages), 10):
        entries = [{"Id": str(i), "MessageBody": json.dumps(m)} for i, m in enumerate(messages[start : start + 10])]
        result = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        if result.get("Failed"):
            raise RuntimeError(f"{len(result['Failed'])} job units could not be queued")
    return run_id
