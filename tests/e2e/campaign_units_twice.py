"""`python -m tests.e2e.campaign_units_twice <state_dir>`: take every unit queued on the running
local stack's jobs queue and have two workers do each one at the same moment (as SQS may deliver
a message twice, to two Lambda containers at once). Prints what each delivery counted, as JSON."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any


def main(state_dir: str) -> int:
    from localstage.job import _use_local_stack

    _use_local_stack(Path(state_dir))
    import boto3

    from chalicelib.jobs.runner import do_unit, queue_url

    sqs, units = boto3.client("sqs"), []
    while got := sqs.receive_message(QueueUrl=queue_url(), MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
        for message in got:
            units.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url(), ReceiptHandle=message["ReceiptHandle"])
    tallies: list[dict[str, Any]] = []
    for unit in units:
        start = threading.Barrier(2)

        def deliver(unit: dict[str, Any] = unit, start: threading.Barrier = start) -> None:
            start.wait()
            tallies.append(dict(do_unit(unit)))

        workers = [threading.Thread(target=deliver) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    print(json.dumps({"units": len(units), "tallies": tallies}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
