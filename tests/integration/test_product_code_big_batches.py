"""Big batches of product codes (over SYNC_MAX) through the jobs queue: 202 and `generating`, one
unit per part, each part written once however often SQS delivers it, then one printer's file.

The threshold and the part size are deployment settings (10,000 and 5,000 by default, as
tests/unit/test_product_codes.py checks against the docs); here they are 200 and 100, so the very
same queued path runs with 201 codes instead of 10,001 (~4 minutes less on a busy machine)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest

from chalicelib.domain.product_codes import code_digest
from chalicelib.settings import get_settings
from tests.integration.conftest import bearer

BATCHES = "/v1/admin/product-codes"
SYNC_MAX = 200
PART_SIZE = 100
BIG = SYNC_MAX + 1  # three parts: PART_SIZE, PART_SIZE, 1
BODY = {"sku": "SKU-WATER-1L", "name": "矿泉水 1L", "points": 5, "count": BIG}


@pytest.fixture(autouse=True)
def small_parts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PRODUCT_CODES_SYNC_MAX", str(SYNC_MAX))
    monkeypatch.setenv("PRODUCT_CODES_PART_SIZE", str(PART_SIZE))
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def deliver(times: int) -> None:
    """Drain the jobs queue, every message handed to the worker `times` times (SQS delivers at least once)."""
    from chalicelib.jobs.handlers import job_worker
    from chalicelib.jobs.runner import queue_url
    from localstage.job import drain_queue

    def worker(event: dict[str, Any], context: Any) -> Any:
        answer = None
        for _ in range(times):
            answer = job_worker(event, context)
        return answer

    drain_queue(worker, queue_url(), boto3.client("sqs"))


def one_part_only() -> None:
    """Hand exactly one queued unit to the worker (and leave the others queued)."""
    from chalicelib.jobs.handlers import job_worker
    from chalicelib.jobs.runner import queue_url

    sqs = boto3.client("sqs")
    got = sqs.receive_message(QueueUrl=queue_url(), MaxNumberOfMessages=1, WaitTimeSeconds=0, VisibilityTimeout=1)
    message = got["Messages"][0]
    record = {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"]}
    event = {"Records": [{**record, "eventSource": "aws:sqs", "attributes": {}}]}
    job_worker(event, None)
    sqs.delete_message(QueueUrl=queue_url(), ReceiptHandle=message["ReceiptHandle"])


def stored_digests(aws: Any) -> list[str]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": get_settings().table_name,
        "FilterExpression": "#t = :t",
        "ExpressionAttributeNames": {"#t": "type"},
        "ExpressionAttributeValues": {":t": {"S": "ProductCode"}},
    }
    while True:
        page = aws.client("dynamodb").scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return [i["pk"]["S"].removeprefix("PCODE#") for i in items]
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def printed(aws: Any, status: dict[str, Any]) -> list[dict[str, str]]:
    url = urlparse(status["export"]["url"])
    key = f"product-codes/{status['batch_id']}.csv"
    assert "X-Amz-Signature" in url.query and key in url.path
    body = aws.client("s3").get_object(Bucket=get_settings().exports_bucket, Key=key)["Body"].read().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


def test_given_a_batch_over_the_threshold_then_202_generating_and_once_every_part_ran_twice_the_file_lists_the_stored_codes(api, aws, members):
    reply = api.post(BATCHES, BODY, headers={"Idempotency-Key": "big-run-1"})
    assert reply.status == 202, reply.text
    batch = reply.json()
    assert batch["status"] == "generating" and batch["generated"] == BIG and "export" not in batch
    assert batch["progress"] == {"parts_done": 0, "parts_total": 3, "codes_written": 0, "parts_failed": []}
    assert stored_digests(aws) == []  # the request wrote no code

    # A retry under the same key answers the same batch, still generating, and queues nothing new.
    again = api.post(BATCHES, BODY, headers={"Idempotency-Key": "big-run-1"})
    assert again.status == 200 and again.json()["batch_id"] == batch["batch_id"] and again.json()["status"] == "generating"
    # Codes of a generating batch earn nothing, and its status has no file yet.
    one_part_only()
    midway = api.get(f"{BATCHES}/{batch['batch_id']}").json()
    assert midway["status"] == "generating" and "export" not in midway
    assert midway["progress"]["parts_done"] == 1 and midway["progress"]["codes_written"] in (PART_SIZE, 1)

    deliver(times=2)  # every remaining unit delivered twice

    status = api.get(f"{BATCHES}/{batch['batch_id']}").json()
    assert status["status"] == "active", status
    assert status["progress"] == {"parts_done": 3, "parts_total": 3, "codes_written": BIG, "parts_failed": []}
    rows = printed(aws, status)
    codes = [r["code"] for r in rows]
    assert len(codes) == BIG and len(set(codes)) == BIG
    assert {(r["sku"], r["points"], r["batch_id"]) for r in rows} == {("SKU-WATER-1L", "5", batch["batch_id"])}
    digests = stored_digests(aws)
    assert len(digests) == BIG
    assert {code_digest(c.replace("-", "")) for c in codes} == set(digests)
    # A fresh URL each GET; and a code from each end of the file earns, once.
    assert api.get(f"{BATCHES}/{batch['batch_id']}").json()["export"]["url"] != ""
    token, _ = members.verified()
    for code in (codes[0], codes[-1]):
        assert api.post("/v1/me/product-codes", {"code": code}, headers=bearer(token)).status == 201
    assert api.get(f"{BATCHES}/{batch['batch_id']}").json()["redeemed"] == 2

    # Delivered again after all that (SQS may): nothing changes, the used codes stay used.
    from chalicelib.usecases.operations.product_codes import generate_part

    late = generate_part({"kind": "part", "batch_id": batch["batch_id"], "part": 0, "seed": "00" * 32})
    assert late == {"skipped.already_done": 1}
    assert len(stored_digests(aws)) == BIG
    again_scan = api.post("/v1/me/product-codes", {"code": codes[0]}, headers=bearer(token))
    assert again_scan.status == 200 and again_scan.headers.get("Idempotent-Replayed") == "true"


def test_given_a_generating_batch_revoked_then_its_parts_stop_and_it_never_becomes_active(api, aws):
    batch = api.post(BATCHES, BODY).json()
    one_part_only()
    revoked = api.post(f"{BATCHES}/{batch['batch_id']}/revoke", {"reason": "wrong label"})
    assert revoked.status == 200 and revoked.json()["status"] == "revoked", revoked.text
    written = len(stored_digests(aws))
    deliver(times=1)
    status = api.get(f"{BATCHES}/{batch['batch_id']}").json()
    assert status["status"] == "revoked" and "export" not in status and status["progress"]["parts_done"] == 1
    assert len(stored_digests(aws)) == written
    keys = [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=get_settings().exports_bucket).get("Contents", [])]
    assert f"product-codes/{batch['batch_id']}.csv" not in keys


def test_given_a_part_that_fails_every_delivery_then_the_batch_lists_it_failed_and_a_redrive_completes_it(api, aws):
    """S3 refuses part 1's file on every delivery: SQS dead-letters its unit, and the batch shows
    the part failed instead of generating forever; once S3 takes it, the unit delivered again (the
    dead-letter queue's redrive) does the part, and the batch becomes active with every code."""
    from botocore.exceptions import ClientError

    from chalicelib.jobs.handlers import job_worker
    from chalicelib.jobs.runner import queue_url
    from localstage.job import drain_queue

    batch = api.post(BATCHES, BODY).json()
    failing = f"product-codes/{batch['batch_id']}/part-00001.csv"
    dead: list[dict[str, Any]] = []

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key") == failing:
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "injected"}}, "PutObject")

    def keep_dead(event: dict[str, Any], context: Any) -> Any:
        answer = job_worker(event, context)
        failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
        dead.extend(r for r in event["Records"] if r["messageId"] in failed and int(r["attributes"]["ApproximateReceiveCount"]) >= 5)
        return answer

    session = boto3._get_default_session()._session  # the clients the app makes from here on carry it
    session.register("before-parameter-build.s3.PutObject", refuse, unique_id="refuse-part-1")
    try:
        assert drain_queue(keep_dead, queue_url(), boto3.client("sqs"))["dead_lettered"] == 1
    finally:
        session.unregister("before-parameter-build.s3.PutObject", unique_id="refuse-part-1")

    stuck = api.get(f"{BATCHES}/{batch['batch_id']}").json()
    assert stuck["status"] == "generating" and "export" not in stuck
    assert stuck["progress"] == {"parts_done": 2, "parts_total": 3, "codes_written": PART_SIZE + 1, "parts_failed": [1]}

    # The redrive: the dead-lettered unit, delivered again.
    [unit] = dead
    job_worker({"Records": [{**unit, "attributes": {"ApproximateReceiveCount": "1"}}]}, None)

    done = api.get(f"{BATCHES}/{batch['batch_id']}").json()
    assert done["status"] == "active", done
    assert done["progress"] == {"parts_done": 3, "parts_total": 3, "codes_written": BIG, "parts_failed": []}
    assert len(printed(aws, done)) == BIG and len(stored_digests(aws)) == BIG
