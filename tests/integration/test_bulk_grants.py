"""Bulk grants: an operator uploads a CSV through a pre-signed PUT, starts the batch, and the jobs
queue grants every row once: points with their ledger entry, or a coupon; bad rows are reported
by number and reason; a redelivered unit, a second start or a repeated row_id grants nothing twice."""

from __future__ import annotations

import csv
import io
from typing import Any

import boto3
import requests

from chalicelib.domain.bulk import GRANT_PART_ROWS
from chalicelib.settings import get_settings

GRANTS = "/v1/admin/grants"


def deliver(times: int = 1) -> None:
    """Drain the jobs queue, each message handed to the worker `times` times (SQS delivers at least once)."""
    from chalicelib.jobs.handlers import job_worker
    from chalicelib.jobs.runner import queue_url
    from localstage.job import drain_queue

    def worker(event: dict[str, Any], context: Any) -> Any:
        answer = None
        for _ in range(times):
            answer = job_worker(event, context)
        return answer

    drain_queue(worker, queue_url(), boto3.client("sqs"))


def upload(url: str, text: str) -> None:
    reply = requests.put(url, data=text.encode("utf-8"), timeout=10)
    assert reply.status_code == 200, reply.text


def batch_with(api: Any, text: str, **body: Any) -> dict[str, Any]:
    created = api.post(GRANTS, {"kind": "points", "reason": "门店开业补偿", **body})
    assert created.status == 201, created.text
    batch = created.json()
    assert batch["status"] == "awaiting_upload" and batch["upload"]["method"] == "PUT"
    upload(batch["upload"]["url"], text)
    return batch


def balance(api: Any, member_id: str) -> int:
    return int(api.get(f"/v1/admin/members/{member_id}").json()["points"]["balance"])


def grant_entries(api: Any, member_id: str, batch_id: str) -> list[dict[str, Any]]:
    items = api.get(f"/v1/admin/members/{member_id}/ledger?limit=50").json()["items"]
    return [e for e in items if str(e.get("ref", "")).startswith(f"grant:{batch_id}:")]


def failed_rows(status: dict[str, Any]) -> list[dict[str, str]]:
    key = f"bulk/grants/{status['batch_id']}/failed.csv"
    assert key in status["failed_rows"]["url"]
    body = boto3.client("s3").get_object(Bucket=get_settings().exports_bucket, Key=key)["Body"].read().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


def new_member(members: Any) -> tuple[str, str]:
    _token, body = members.verified()
    return body["member"]["member_id"], body["member"]["phone"]


def test_given_a_points_file_when_started_and_every_unit_delivered_twice_then_each_row_is_granted_once_with_its_ledger_entry(api, members):
    (a, _), (b, phone_b), (frozen, _) = new_member(members), new_member(members), new_member(members)
    assert api.post(f"/v1/admin/members/{frozen}/freeze", {"reason": "fraud check"}).status == 200
    start_a, start_b, start_frozen = balance(api, a), balance(api, b), balance(api, frozen)
    text = (
        "member_id,points,row_id\n"
        f"{a},120,r1\n"
        f"{b},,r2\n"  # the batch's default amount
        f"{a},5,r1\n"  # the same row_id again: skipped, never granted twice
        f"{frozen},10,r3\n"
        "mbr_00000000000000ff,10,r4\n"
        f"{a},-3,r5\n"
        f"{a},1,bad id!\n"
    )
    batch = batch_with(api, text, default_points=30)

    started = api.post(f"{GRANTS}/{batch['batch_id']}/start")
    assert started.status == 202 and started.json()["status"] == "running", started.text
    again = api.post(f"{GRANTS}/{batch['batch_id']}/start")
    assert again.status == 200  # a second start queues nothing twice
    deliver(times=2)

    status = api.get(f"{GRANTS}/{batch['batch_id']}").json()
    assert status["status"] == "done", status
    assert status["progress"] == {
        "parts_done": 1,
        "parts_total": 1,
        "rows": 7,
        "granted": 2,
        "already_granted": 1,
        "failed": 4,
        "points_granted": 150,
    }
    assert balance(api, a) == start_a + 120 and balance(api, b) == start_b + 30
    assert [(e["kind"], e["points"]) for e in grant_entries(api, a, batch["batch_id"])] == [("adjust", 120)]
    assert [(e["kind"], e["points"]) for e in grant_entries(api, b, batch["batch_id"])] == [("adjust", 30)]
    assert balance(api, frozen) == start_frozen
    assert [(r["row"], r["row_id"], r["reason"]) for r in failed_rows(status)] == [
        ("4", "r3", "the membership is frozen"),
        ("5", "r4", "no such member"),
        ("6", "r5", "points: a whole number from 1 to 1000000"),
        ("7", "bad id!", "row_id: 1 to 64 letters, digits, . _ : -"),
    ]
    assert phone_b not in str(status)

    # The unit delivered again after all that (SQS may): nothing changes.
    from chalicelib.usecases.operations.bulk_grants import grant_part

    assert grant_part({"batch_id": batch["batch_id"], "part": 0}) == {"skipped.already_done": 1}
    assert balance(api, a) == start_a + 120


def test_given_a_crash_after_some_rows_when_the_part_is_redelivered_then_those_rows_are_not_granted_again_and_the_counts_are_exact(api, members):
    (a, _), (b, _) = new_member(members), new_member(members)
    batch = batch_with(api, f"member_id,points\n{a},7\n{b},9\n")
    api.post(f"{GRANTS}/{batch['batch_id']}/start")
    from chalicelib.store import bulk as stored
    from chalicelib.usecases.operations import bulk_grants

    # The split, then the first row granted as a unit that died after it would have.
    bulk_grants.split_file({"batch_id": batch["batch_id"]})
    batch_item = stored.get_grant_batch(batch["batch_id"])
    assert batch_item is not None
    from chalicelib.domain.bulk import judge_grant_row
    from chalicelib.store.parameters import load_rules

    row = judge_grant_row(1, {"member_id": a, "points": "7"}, kind="points", default_points=None, default_coupon=None, region="CN")
    before_a, before_b = balance(api, a), balance(api, b)
    assert bulk_grants._grant_row(batch_item, row, a, load_rules())[0] == "granted"  # type: ignore[arg-type]
    assert balance(api, a) == before_a + 7

    deliver()  # the split's queued unit (the same split again) and its part: the row granted before is found done

    status = api.get(f"{GRANTS}/{batch['batch_id']}").json()
    assert status["status"] == "done" and status["progress"]["granted"] == 2 and status["progress"]["points_granted"] == 16
    assert balance(api, a) == before_a + 7 and balance(api, b) == before_b + 9


def test_given_a_phone_column_and_a_coupon_batch_then_each_member_gets_one_coupon_and_unknown_phones_are_failed_rows(api, members):
    (a, phone_a), _ = new_member(members), None
    batch = batch_with(api, f"phone,row_id\n{phone_a},x1\n+8613900000999,x2\nnot a phone,x3\n", kind="coupon", default_coupon="coffee")
    assert api.post(f"{GRANTS}/{batch['batch_id']}/start").status == 202
    deliver(times=2)

    status = api.get(f"{GRANTS}/{batch['batch_id']}").json()
    assert status["status"] == "done" and status["progress"]["granted"] == 1 and status["progress"]["failed"] == 2
    coupons = api.get(f"/v1/admin/members/{a}/coupons").json()["items"]
    assert [(c["reward_id"], c["kind"]) for c in coupons if c["kind"] == "grant"] == [("coffee", "grant")]
    assert [r["reason"] for r in failed_rows(status)] == ["no member with that phone", "phone: not a valid phone number"]
    assert "+8613900000999" not in str(status)


def test_given_a_file_bigger_than_a_part_then_its_parts_all_run_and_progress_counts_every_row(api, members, monkeypatch):
    from chalicelib.usecases.operations import bulk_grants

    # Parts of 2 rows instead of GRANT_PART_ROWS: the same fan-out, without 500 transactions in moto.
    monkeypatch.setattr(bulk_grants, "GRANT_PART_ROWS", 2)
    assert GRANT_PART_ROWS > 2
    a, _ = new_member(members)
    before = balance(api, a)
    rows = 5
    text = "member_id,points,row_id\n" + "".join(f"{a},1,r{n}\n" for n in range(rows))
    batch = batch_with(api, text)
    api.post(f"{GRANTS}/{batch['batch_id']}/start")
    deliver()
    status = api.get(f"{GRANTS}/{batch['batch_id']}").json()
    assert status["progress"]["parts_total"] == 3 and status["progress"]["granted"] == rows
    assert balance(api, a) == before + rows


def test_given_bad_requests_then_clear_problems_and_nothing_starts(api):
    assert api.post(GRANTS, {"kind": "points"}).status == 400
    assert api.post(GRANTS, {"kind": "stars", "reason": "x"}).status == 400
    assert api.post(GRANTS, {"kind": "points", "reason": "x", "default_coupon": "coffee"}).status == 400
    assert api.post(GRANTS, {"kind": "coupon", "reason": "x", "default_coupon": "no_such_reward"}).status == 400
    assert api.get(f"{GRANTS}/grt_nope").status == 404
    assert api.post(f"{GRANTS}/grt_nope/start").status == 404
    batch = api.post(GRANTS, {"kind": "points", "reason": "x"}).json()
    not_uploaded = api.post(f"{GRANTS}/{batch['batch_id']}/start")
    assert not_uploaded.status == 409 and not_uploaded.json()["code"] == "invalid_state"
    assert api.get(f"{GRANTS}/{batch['batch_id']}").json()["status"] == "awaiting_upload"


def test_given_a_bad_header_then_the_batch_fails_with_the_reason_and_grants_nothing(api, members):
    a, _ = new_member(members)
    batch = batch_with(api, f"member_id,pionts\n{a},10\n")
    api.post(f"{GRANTS}/{batch['batch_id']}/start")
    deliver()
    status = api.get(f"{GRANTS}/{batch['batch_id']}").json()
    assert status["status"] == "failed" and "pionts" in status["error"]
    assert not grant_entries(api, a, batch["batch_id"])


def test_given_an_idempotency_key_then_a_retry_answers_the_same_batch_and_another_request_under_it_is_409(api):
    body = {"kind": "points", "reason": "补发", "default_points": 10}
    first = api.post(GRANTS, body, headers={"Idempotency-Key": "grant-1"})
    again = api.post(GRANTS, body, headers={"Idempotency-Key": "grant-1"})
    assert first.status == 201 and again.status == 200 and again.json()["batch_id"] == first.json()["batch_id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = api.post(GRANTS, {**body, "default_points": 11}, headers={"Idempotency-Key": "grant-1"})
    assert other.status == 409 and other.json()["code"] == "idempotency_conflict"


def test_given_an_upload_deleted_by_the_lifecycle_rule_when_started_then_409_with_the_reason_and_nothing_changes(api, members):
    member_id, _ = new_member(members)
    before = balance(api, member_id)
    batch = batch_with(api, f"member_id,points,row_id\n{member_id},50,r1\n")
    s3, key = boto3.client("s3"), f"bulk/grants/{batch['batch_id']}/upload.csv"
    assert key in batch["upload"]["url"]
    s3.delete_object(Bucket=get_settings().exports_bucket, Key=key)  # as the bucket's one-day lifecycle does

    started = api.post(f"{GRANTS}/{batch['batch_id']}/start")

    assert started.status == 409 and started.headers["Content-Type"] == "application/problem+json", started.text
    assert "lifecycle" in started.json()["detail"]
    assert api.get(f"{GRANTS}/{batch['batch_id']}").json()["status"] == "awaiting_upload"
    deliver()
    assert balance(api, member_id) == before


def test_given_a_started_batch_whose_file_is_gone_before_its_split_runs_then_it_fails_with_the_reason_and_grants_nothing(api, members):
    member_id, _ = new_member(members)
    before = balance(api, member_id)
    batch = batch_with(api, f"member_id,points,row_id\n{member_id},50,r1\n")
    assert api.post(f"{GRANTS}/{batch['batch_id']}/start").status == 202
    boto3.client("s3").delete_object(Bucket=get_settings().exports_bucket, Key=f"bulk/grants/{batch['batch_id']}/upload.csv")

    deliver()

    status = api.get(f"{GRANTS}/{batch['batch_id']}").json()
    assert status["status"] == "failed" and "gone" in str(status), status
    assert balance(api, member_id) == before
