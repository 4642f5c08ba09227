"""`make job JOB=<name> AS_OF=<YYYY-MM-DD> [DRY_RUN=1] [CATCH_UP=0]`: run one job
against the running local stack, as the schedule would on that date.

The local stage has no schedule, so the days between today and AS_OF were
never run. First, the job runs for each of those days on which the daily
schedule would have found something to do (points due, a reminder, a
birthday, an anniversary, an idle member, an erasure): so points earned today
are gone when it runs for a date past their expiry, and the reminders before
it are in the outbox (what quiet hours held back on such a day is sent, as
the hourly send-deferred would have). Then it runs for AS_OF itself.
`CATCH_UP=0` runs AS_OF alone, as the console would; so does a job that is
not kept by day (`send-deferred`, `reconcile`).

Each run invokes the job's scheduled function with the console payload, then
plays the part of Lambda's SQS event source: receives the queued units from
the embedded endpoint, hands them to the worker in batches with SQS's count of
each one's deliveries, deletes what the worker did and redelivers what it
reported failed, up to the redrive policy's receives. It prints the summary of
the AS_OF run, with one line for each day caught up.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def drain_queue(worker: Any, queue_url: str, sqs: Any) -> dict[str, int]:
    """Feed queued units to the worker until the queue is empty (local SQS event source)."""
    from chalicelib.store.job_queue import MAX_RECEIVES

    dead = 0
    while True:
        receive = {"MaxNumberOfMessages": 10, "WaitTimeSeconds": 0, "VisibilityTimeout": 30}
        got = sqs.receive_message(QueueUrl=queue_url, MessageSystemAttributeNames=["ApproximateReceiveCount"], **receive)
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
                    "attributes": {"ApproximateReceiveCount": m.get("Attributes", {}).get("ApproximateReceiveCount", "1")},
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
            if int(m.get("Attributes", {}).get("ApproximateReceiveCount", "1")) >= MAX_RECEIVES:  # as the redrive policy would
                dead += 1
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
            else:
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)


def run(job: str, as_of: str | None, dry_run: bool) -> dict[str, Any]:
    """Invoke the scheduled function as the console would, then drain its queue."""
    import boto3

    from chalicelib.jobs.handlers import SCHEDULED, job_worker
    from chalicelib.jobs.runner import queue_url, summary

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


def days_to_catch_up(job: str, today: date, as_of: date) -> list[date]:
    """The days from `today` up to (not including) `as_of` on which the job's daily run
    would have found an index entry to act on; none for a job not kept by day."""
    from chalicelib.jobs.specs import JOBS
    from chalicelib.settings import get_settings
    from chalicelib.store.job_index import buckets_in
    from chalicelib.store.parameters import load_rules

    spec = JOBS.get(job)
    if spec is None or as_of <= today:
        return []
    rules, shards = load_rules(), get_settings().index_shards
    if not all("index" in unit and "bucket" in unit for unit in spec.plan(as_of, rules, shards)):
        return []
    present: dict[str, set[str]] = {}
    days = []
    for day in _days(today, as_of):
        for unit in spec.plan(day, rules, shards):
            if unit["index"] not in present:
                present[unit["index"]] = buckets_in(unit["index"])
            if unit["bucket"] in present[unit["index"]]:
                days.append(day)
                break
    return days


def _days(first: date, end: date) -> Iterator[date]:
    day = first
    while day < end:
        yield day
        day += timedelta(days=1)


def run_through(job: str, as_of: date | None, dry_run: bool, catch_up: bool = True) -> dict[str, Any]:
    """The days to catch up, then AS_OF (default: today), each run as the schedule would."""
    from chalicelib.domain.clock import today_in
    from chalicelib.store.parameters import load_rules

    today = today_in(load_rules().zone)
    as_of = as_of or today
    days = days_to_catch_up(job, today, as_of) if catch_up else []
    caught_up = []
    for day in days:
        result = run(job, day.isoformat(), dry_run)
        if "error" in result:
            return result
        brief = {key: result[key] for key in ("as_of", "members_affected", "points_moved", "messages_sent", "messages_deferred")}
        if result["messages_deferred"] and not dry_run:
            # That day is over: the hourly send-deferred sent what quiet hours held back (at 09:05).
            brief["deferred_then_sent"] = run("send-deferred", day.isoformat(), dry_run)["messages_sent"]
        caught_up.append(brief)
        print(f"caught up {job} {day}: " + ", ".join(f"{k} {v}" for k, v in brief.items() if k != "as_of"), file=sys.stderr, flush=True)
    result = run(job, as_of.isoformat(), dry_run)
    if days:
        result["caught_up"] = caught_up
    return result


def _use_local_stack(state_dir: Path) -> None:
    from localstage.stack import LOCAL_CREDENTIALS, process_alive

    stack_file = state_dir / "stack.json"
    if not stack_file.exists():
        sys.exit("The local stack is not running: start it with `make run` first.")
    stack = json.loads(stack_file.read_text())
    if not process_alive(int(stack.get("pid", 0))):  # killed, so it never removed the file; its data is kept all the same
        sys.exit("The local stack is not running (it was stopped without cleaning up): start it with `make run` first.")
    os.environ.update(LOCAL_CREDENTIALS)
    os.environ["AWS_ENDPOINT_URL"] = stack["aws_endpoint"]
    os.environ["OUTBOX_PATH"] = str(state_dir / "outbox.jsonl")
    if "wechat_pay" in stack:  # the wechat-pay-sweep job asks the stack's fake WeChat Pay
        os.environ["WECHAT_PAY_BASE_URL"] = stack["wechat_pay"]
    from localstage.server import load_local_config

    load_local_config(str(ROOT))


def as_of_date(text: str) -> date:
    """AS_OF as `make job` takes it: a calendar date written YYYY-MM-DD."""
    reason = "not written YYYY-MM-DD"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return date.fromisoformat(text)
        except ValueError as exc:
            reason = str(exc)
    raise argparse.ArgumentTypeError(f"AS_OF={text!r} is not a date ({reason}); write it YYYY-MM-DD, e.g. AS_OF=2027-12-01") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make job",
        usage="make job JOB=<name> [AS_OF=YYYY-MM-DD] [DRY_RUN=1] [CATCH_UP=0]\n"
        "   or: python -m localstage.job <job> [as_of] [--dry-run] [--no-catch-up]",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("job")
    parser.add_argument("as_of", nargs="?", type=as_of_date, help="YYYY-MM-DD (default: today in the program time zone)")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--no-catch-up", action="store_true", help="run AS_OF alone, not the days before it")
    parser.add_argument("--state-dir", default=str(ROOT / ".local"))
    args = parser.parse_args(argv)
    _use_local_stack(Path(args.state_dir))
    result = run_through(args.job, args.as_of, args.dry_run, catch_up=not args.no_catch_up)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
