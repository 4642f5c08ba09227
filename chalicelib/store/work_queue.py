"""The jobs' SQS queue, for use cases that fan work out themselves (a campaign's launch): the
same queue and message shape the job runner uses (jobs/runner.py), so its worker does the units.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from ..settings import get_settings


@cache
def _sqs() -> Any:
    import boto3

    return boto3.client("sqs")


@cache
def _queue_url() -> str:
    return str(_sqs().get_queue_url(QueueName=get_settings().jobs_queue_name)["QueueUrl"])


def send_units(units: list[dict[str, Any]]) -> None:
    """Queue the units, ten a request; raises if any could not be queued."""
    for start in range(0, len(units), 10):
        batch = units[start : start + 10]
        entries = [{"Id": str(i), "MessageBody": json.dumps(u)} for i, u in enumerate(batch)]
        result = _sqs().send_message_batch(QueueUrl=_queue_url(), Entries=entries)
        if result.get("Failed"):
            raise RuntimeError(f"{len(result['Failed'])} campaign units could not be queued")
