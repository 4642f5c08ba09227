"""The local stage's part of Lambda's event sources for business events: poll the table's change
stream and hand its records to the deployed handler (`event_publisher`), and feed the webhook
delivery queue to its worker (`webhook_worker`), as the stream and SQS mappings do in the cloud.

`make run` runs `EventPump` in a thread (every half second); the tests call `pump()` to move
everything that is ready through, synchronously.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from chalicelib.settings import get_settings

POLL_SECONDS = 0.5


def _streams_client(session: Any) -> Any:
    import os

    region = os.environ.get("AWS_REGION", "us-east-1")
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    # Under in-process moto, describe_stream answers 404 unless the client names the streams endpoint
    # (shared/TOOL-NOTES.md); the local stack's embedded endpoint serves it like any service.
    return session.client("dynamodbstreams", endpoint_url=endpoint or f"https://streams.dynamodb.{region}.amazonaws.com")


class EventPump:
    """Reads the stream from where it left off (from the end of the stream when created, as a new
    mapping with LATEST would) and drains the delivery queue.

    Each round asks for a fresh iterator after the last sequence number read, rather than
    following `NextShardIterator`: moto rolls a cancelled transaction back by swapping in a copy
    of the table, stream included, and an iterator it handed out before would go on reading the
    discarded copy (the cancelled transaction's records)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.dynamodb = session.client("dynamodb")
        self.streams = _streams_client(session)
        self.sqs = session.client("sqs")
        self.stop = threading.Event()
        self.stream_arn = self.dynamodb.describe_table(TableName=get_settings().table_name)["Table"]["LatestStreamArn"]
        self.last: dict[str, str | None] = {}
        for shard_id in self._shard_ids():
            self.last[shard_id] = None
            self._read(shard_id)  # to the end: what was written before the stack started is not news

    def _shard_ids(self) -> list[str]:
        described = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        return [shard["ShardId"] for shard in described.get("Shards", [])]

    def _read(self, shard_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            last = self.last.get(shard_id)
            position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": last} if last else {"ShardIteratorType": "TRIM_HORIZON"}
            iterator = self.streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard_id, **position)["ShardIterator"]
            records = self.streams.get_records(ShardIterator=iterator, Limit=1000).get("Records", [])
            if not records:
                return found
            found += records
            self.last[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]

    def stream_records(self) -> list[dict[str, Any]]:
        """The records written since the last call (a shard opened since: from its start)."""
        return [record for shard_id in self._shard_ids() for record in self._read(shard_id)]

    def pump(self) -> dict[str, int]:
        """One round: the stream's new records to the publisher, then the due deliveries to the
        worker. A record the publisher reports failed is handed over again next round."""
        from chalicelib.jobs.event_handlers import event_publisher, webhook_worker

        records = self.stream_records()
        published = 0
        while records:
            answer = event_publisher({"Records": records}, None) or {}
            failed = [f["itemIdentifier"] for f in answer.get("batchItemFailures", [])]
            published += len(records)
            if not failed:
                break
            records = [r for r in records if r["dynamodb"]["SequenceNumber"] in set(failed)]
            self.stop.wait(POLL_SECONDS)
        delivered = 0
        queue_url = self.sqs.get_queue_url(QueueName=get_settings().webhooks_queue_name)["QueueUrl"]
        while True:
            got = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=30)
            messages = got.get("Messages", [])
            if not messages:
                break
            for m in messages:  # one delivery per invocation, as the cloud's batch size of 1
                record = {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"], "eventSource": "aws:sqs"}
                answer = webhook_worker({"Records": [record]}, None) or {}
                if not answer.get("batchItemFailures"):
                    self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
            delivered += len(messages)
        return {"records": published, "deliveries": delivered}

    def run_forever(self) -> None:
        while not self.stop.is_set():
            try:
                self.pump()
            except Exception as exc:  # keep the stack up; the next round tries again
                print(f"events: {type(exc).__name__}: {str(exc)[:200]}", flush=True)
            self.stop.wait(POLL_SECONDS)

    def start(self) -> EventPump:
        threading.Thread(target=self.run_forever, name="event-pump", daemon=True).start()
        return self

    def close(self) -> None:
        self.stop.set()
        with contextlib.suppress(Exception):
            self.streams.close()
