"""`make job JOB=<name> AS_OF=<YYYY-MM-DD> [DRY_RUN=1]`: run one job once against
the running local stack, as the schedule would on that date.

It invokes the job's scheduled function with the console payload, then plays
the part of Lambda's SQS event source: receives the queued units from the
embedded endpoint, hands them to the worker in batches, deletes what the
worker did and redelivers what it reported failed. It prints the run summary.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MAX_RECEIVES = 5


def drain_queue(worker: Any, queue_url: str, sqs: Any) -> dict[str, int]:
    """Feed queued units to the worker until the queue is empty (local SQS event source)."""
    receives: dict[str, int] = {}
    dead = 0
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=30)
        messages = got.get("Messages", [])
        if not messages:
            return {"dead_lettered": dead}
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "eventSource": "aws:sqs",
                    "attributes": {},
                }
                for m in messages
            ]
        }
        response = worker(event, None) or {}
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        for m in messages:
            if m["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
                continue
            receives[m["MessageId"]] = receives.get(m["MessageId"], 0) + 1
            if receives[m["MessageId"]] >= MAX_RECEIVES:  # as the redrive policy would
                dead += 1
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
            else:
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)


def run(job: str, as_of: str | None, dry_run: bool) -> dict[str, Any]:
    """Invoke the scheduled function as the console would, then drain its queue."""
    import boto3

    from .runner import queue_url, summary
    from .schedules import SCHEDULED, job_worker

    handler = SCHEDULED.get(job)
    if handler is None:
        return {"error": f"unknown job {job!r}; jobs: {', '.join(SCHEDULED)}"}
    payload: dict[str, Any] = {"dry_run": dry_run}
    if as_of:
        payload["as_of"] = as_of
    started: dict[str, Any] = handler(payload, None)  # what run_scheduled returned
    if "units_enqueued" not in started:
        return started  # an error, or a dry run (done inline)
    drained = drain_queue(job_worker, queue_url(), boto3.client("sqs"))
    return {**summary(started["job"], started["as_of"], started["run_id"]), **drained}


def _use_local_stack(state_dir: Path) -> None:
    stack_file = state_dir / "stack.json"
    if not stack_file.exists():
        sys.exit("The local stack is not running: start it with `make run` first.")
    stack = json.loads(stack_file.read_text())
    from ..local.stack import LOCAL_CREDENTIALS

    os.environ.update(LOCAL_CREDENTIALS)
    os.environ["AWS_ENDPOINT_URL"] = stack["aws_endpoint"]
    os.environ["OUTBOX_PATH"] = str(state_dir / "outbox.jsonl")
    from ..local.server import load_local_config

    load_local_config(str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("job")
    parser.add_argument("as_of", nargs="?", help="YYYY-MM-DD (default: today in the program time zone)")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--state-dir", default=str(ROOT / ".local"))
    args = parser.parse_args(argv)
    _use_local_stack(Path(args.state_dir))
    result = run(args.job, args.as_of, args.dry_run)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
