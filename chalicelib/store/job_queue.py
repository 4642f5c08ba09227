"""A unit of a job sent to the jobs queue from outside the job runner (an operator's request that
hands the rest of its work to a job: the analytics refresh). The message is a unit as the runner
sends them (jobs/runner.py `start_job`): job, as_of, dry_run, run_id and the unit's own fields;
its run's record is started first, as the runner does."""

from __future__ import annotations

import json
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
