"""Scan-to-earn product codes (一物一码) through the API: operators' batches, members' scans."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import pytest

from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.models import BaseItem
from tests.integration.conftest import bearer

SHANGHAI = ZoneInfo("Asia/Shanghai")
BATCHES = "/v1/admin/product-codes"
SCAN = "/v1/me/product-codes"


def today() -> date:
    return datetime.now(SHANGHAI).date()


def generate(api, count=5, points=30, **extra):
    reply = api.post(BATCHES, {"sku": "SKU-COLA-500", "name": "可乐 500ml", "points": points, "count": count, **extra})
    assert reply.status == 201, reply.text
    return reply.json()


def printed_codes(aws, batch) -> list[dict[str, str]]:
    """The printer's file, as the pre-signed URL serves it (read from the bucket it names)."""
    url = urlparse(batch["export"]["url"])
    assert "X-Amz-Signature" in url.query and "X-Amz-Expires=3600" in url.query
    key = f"product-codes/{batch['batch_id']}.csv"
    assert key in url.path
    body = aws.client("s3").get_object(Bucket=get_settings().exports_bucket, Key=key)["Body"].read().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


def scan(api, token, code):
    return api.post(SCAN, {"code": code}, headers=bearer(token))


def test_given_an_operator_generates_a_batch_then_the_printer_gets_every_code_once_and_the_table_none_in_clear(api, aws):
    batch = generate(api, count=7, points=30)
    assert batch["generated"] == 7 and batch["redeemed"] == 0 and batch["redemption_rate"] == 0.0 and batch["status"] == "active"
    rows = printed_codes(aws, batch)
    assert len({r["code"] for r in rows}) == 7
    assert {(r["sku"], r["name"], r["points"], r["batch_id"]) for r in rows} == {("SKU-COLA-500", "可乐 500ml", "30", batch["batch_id"])}
    stored = aws.client("dynamodb").scan(TableName=get_settings().table_name)["Items"]
    text = repr(stored).upper()
    for row in rows:
        assert row["code"].replace("-", "") not in text and row["code"] not in text
    # The status never gives the file again.
    status = api.get(f"{BATCHES}/{batch['batch_id']}").json()
    assert "export" not in status and status["generated"] == 7


def test_given_a_printed_code_when_a_member_types_it_loosely_then_they_earn_its_points_once_on_the_ledger(api, aws, members):
    batch = generate(api, count=3, points=30)
    code = printed_codes(aws, batch)[0]["code"]
    token, verified = members.verified()
    before = verified["member"]["points"]["balance"]

    first = scan(api, token, code.lower().replace("-", " "))
    assert first.status == 201, first.text
    assert first.json()["points_earned"] == 30 and first.json()["balance"] == before + 30
    assert first.json()["sku"] == "SKU-COLA-500"

    again = scan(api, token, code)
    assert again.status == 200 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()

    me = api.get("/v1/me", headers=bearer(token)).json()
    assert me["points"]["balance"] == before + 30
    ledger = api.get("/v1/me/ledger", headers=bearer(token)).json()["items"]
    scans = [e for e in ledger if e["kind"] == "scan"]
    assert len(scans) == 1 and scans[0]["points"] == 30 and scans[0]["balance_after"] == before + 30
    assert sum(e["points"] for e in ledger) == me["points"]["balance"]

    status = api.get(f"{BATCHES}/{batch['batch_id']}").json()
    assert status["redeemed"] == 1 and status["redemption_rate"] == pytest.approx(0.3333)


def test_given_unknown_revoked_expired_or_someone_elses_code_then_the_member_gets_one_identical_answer(api, aws, members):
    batch = generate(api, count=3)
    taken, withdrawn, _ = (r["code"] for r in printed_codes(aws, batch))
    other, _ = members.verified()
    assert scan(api, other, taken).status == 201

    revoked_batch = generate(api, count=1)
    withdrawn = printed_codes(aws, revoked_batch)[0]["code"]
    assert api.post(f"{BATCHES}/{revoked_batch['batch_id']}/revoke", {"reason": "misprint"}).status == 200

    expiring = generate(api, count=1, expires_on=today().isoformat())
    expired = printed_codes(aws, expiring)[0]["code"]
    # Make that batch end yesterday (program time): nothing in the API moves the clock.
    dynamodb = aws.client("dynamodb")
    dynamodb.update_item(
        TableName=get_settings().table_name,
        Key={"pk": {"S": keys.product_batch_pk(expiring["batch_id"])}, "sk": {"S": keys.PRODUCT_BATCH_SK}},
        UpdateExpression="SET expires_on = :d",
        ExpressionAttributeValues={":d": {"S": (today() - timedelta(days=1)).isoformat()}},
    )

    token, verified = members.verified()
    answers = [scan(api, token, code) for code in ("ZZZZ-ZZZZ-ZZZZ-ZZZZ", withdrawn, expired, taken)]
    assert {a.status for a in answers} == {422}
    assert {a.text for a in answers} == {answers[0].text}
    assert answers[0].json()["code"] == "invalid_product_code"
    assert answers[0].content_type.startswith("application/problem+json")
    assert api.get("/v1/me", headers=bearer(token)).json()["points"]["balance"] == verified["member"]["points"]["balance"]
    assert api.get(f"{BATCHES}/{expiring['batch_id']}").json()["status"] == "expired"
    assert api.get(f"{BATCHES}/{revoked_batch['batch_id']}").json()["status"] == "revoked"


def test_given_ten_failed_codes_in_an_hour_then_every_attempt_is_429_the_right_code_included(api, aws, members):
    code = printed_codes(aws, generate(api, count=1))[0]["code"]
    token, _ = members.verified()
    good = scan(api, token, code)
    assert good.status == 201  # a code that earns is no failed attempt
    fresh = printed_codes(aws, generate(api, count=1))[0]["code"]
    for _ in range(10):
        assert scan(api, token, "0000-0000-0000-0000").status == 422
    locked = scan(api, token, fresh)
    assert locked.status == 429 and locked.json()["code"] == "too_many_attempts"
    assert 0 < int(locked.headers["Retry-After"]) <= 3601
    # Another member is not locked out by them.
    someone, _ = members.verified()
    assert scan(api, someone, fresh).status == 201


@pytest.mark.parametrize("code", ["", "1234", "7KQ2-M9XD-4TPR-HB3U", "7KQ2-M9XD-4TPR-HB3C-X", 1234, None])
def test_given_text_that_cannot_be_a_code_then_400_and_no_attempt_is_spent(api, members, code):
    token, verified = members.verified()
    reply = scan(api, token, code)
    assert reply.status == 400 and reply.json()["code"] == "validation_error"
    assert list(BaseItem.query(keys.product_attempts_pk(verified["member"]["member_id"]))) == []


def test_given_no_token_then_scanning_is_401(api):
    assert api.post(SCAN, {"code": "7KQ2-M9XD-4TPR-HB3C"}).status == 401


@pytest.mark.parametrize(
    "body",
    [
        {"sku": "S", "name": "n", "points": 0, "count": 1},
        {"sku": "S", "name": "n", "points": 10, "count": 0},
        {"sku": "S", "name": "n", "points": 10, "count": 100_001},
        {"sku": "S", "name": "n", "points": "10", "count": 1},
        {"sku": "S", "name": "n", "points": 10, "count": 1, "expires_on": "2020-01-01"},
        {"sku": "bad sku!", "name": "n", "points": 10, "count": 1},
        {"name": "n", "points": 10, "count": 1},
    ],
)
def test_given_a_bad_batch_request_then_400_and_no_batch(api, aws, body):
    reply = api.post(BATCHES, body)
    assert reply.status == 400 and reply.json()["code"] == "validation_error"
    assert aws.client("s3").list_objects_v2(Bucket=get_settings().exports_bucket).get("KeyCount", 0) == 0


def test_given_an_unknown_batch_then_404(api):
    assert api.get(f"{BATCHES}/pcb_nothing").status == 404
    assert api.post(f"{BATCHES}/pcb_nothing/revoke", {"reason": "x"}).status == 404


def test_given_a_batch_revoked_twice_then_the_audit_trail_has_its_generation_and_one_revocation(api, aws):
    batch = generate(api, count=2)
    first = api.post(f"{BATCHES}/{batch['batch_id']}/revoke", {"reason": "recall"})
    second = api.post(f"{BATCHES}/{batch['batch_id']}/revoke")
    assert first.status == second.status == 200 and first.json() == second.json()
    assert first.json()["revoked_at"] is not None
    entries = api.get(f"/v1/admin/audit?day={today().isoformat()}").json()["items"]
    actions = [e["action"] for e in entries if e["target"] == {"type": "product_codes", "id": batch["batch_id"]}]
    assert sorted(actions) == ["product_codes.generate", "product_codes.revoke"]


def test_given_codes_generated_and_scanned_then_no_log_line_holds_a_code_or_the_download_link(api, aws, members, capfd, caplog):
    batch = generate(api, count=3)
    codes = [r["code"] for r in printed_codes(aws, batch)]
    token, _ = members.verified()
    assert scan(api, token, codes[0]).status == 201
    assert scan(api, token, codes[0].lower()).status == 200
    assert scan(api, token, "ZZZZ-ZZZZ-ZZZZ-ZZZZ").status == 422
    out, err = capfd.readouterr()
    logged = (out + err + caplog.text).upper()
    assert "PRODUCT CODE REDEEMED" in logged  # the scan was logged, by batch and member id only
    for code in [*codes, "ZZZZ-ZZZZ-ZZZZ-ZZZZ"]:
        assert code not in logged and code.replace("-", "") not in logged
    assert "X-AMZ-SIGNATURE" not in logged


def test_given_a_frozen_member_then_every_code_good_or_not_is_403_and_a_good_one_still_earns_after_unfreezing(api, aws, members):
    code = printed_codes(aws, generate(api, count=1))[0]["code"]
    token, verified = members.verified()
    member_id = verified["member"]["member_id"]
    assert api.post(f"/v1/admin/members/{member_id}/freeze", {"reason": "fraud check"}).status == 200
    good, made_up = scan(api, token, code), scan(api, token, "ZZZZ-ZZZZ-ZZZZ-ZZZZ")
    assert (good.status, made_up.status) == (403, 403)
    assert good.json() == made_up.json() and good.json()["code"] == "member_frozen"
    assert api.post(f"/v1/admin/members/{member_id}/unfreeze", {"reason": "cleared"}).status == 200
    assert scan(api, token, code).status == 201


def test_given_a_batch_bigger_than_one_writer_slice_then_every_code_is_written_and_earns(api, aws, members):
    batch = generate(api, count=1001)  # two slices (1,000 + 1), written in parallel
    rows = printed_codes(aws, batch)
    assert len({r["code"] for r in rows}) == 1001
    stored = aws.client("dynamodb").scan(
        TableName=get_settings().table_name,
        FilterExpression="#t = :t",
        ExpressionAttributeNames={"#t": "type"},
        ExpressionAttributeValues={":t": {"S": "ProductCode"}},
        Select="COUNT",
    )
    assert stored["Count"] == 1001
    token, _ = members.verified()
    assert scan(api, token, rows[-1]["code"]).status == 201


def test_given_an_idempotency_key_when_the_operator_retries_then_the_same_batch_and_file_and_never_a_second(api, aws):
    body = {"sku": "SKU-COLA-500", "name": "可乐 500ml", "points": 30, "count": 4}
    first = api.post(BATCHES, body, headers={"Idempotency-Key": "print-run-7"})
    again = api.post(BATCHES, body, headers={"Idempotency-Key": "print-run-7"})
    assert first.status == 201 and again.status == 200, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["batch_id"] == first.json()["batch_id"] and again.json()["generated"] == 4
    assert printed_codes(aws, again.json()) == printed_codes(aws, first.json())
    items = aws.client("dynamodb").scan(TableName=get_settings().table_name)["Items"]
    batches = [i for i in items if i["pk"]["S"].startswith("PCBATCH#") and i["sk"]["S"] == "BATCH"]
    assert len(batches) == 1
    objects = aws.client("s3").list_objects_v2(Bucket=get_settings().exports_bucket)["Contents"]
    assert len(objects) == 1


def test_given_an_idempotency_key_used_for_another_batch_then_409_and_nothing_new(api, aws):
    first = api.post(BATCHES, {"sku": "SKU-A", "name": "a", "points": 30, "count": 2}, headers={"Idempotency-Key": "k-1"})
    other = api.post(BATCHES, {"sku": "SKU-A", "name": "a", "points": 31, "count": 2}, headers={"Idempotency-Key": "k-1"})
    assert first.status == 201 and other.status == 409 and other.json()["code"] == "idempotency_conflict"
    assert aws.client("s3").list_objects_v2(Bucket=get_settings().exports_bucket)["KeyCount"] == 1


def test_given_a_bad_idempotency_key_then_400_and_no_batch(api, aws):
    reply = api.post(BATCHES, {"sku": "SKU-A", "name": "a", "points": 30, "count": 2}, headers={"Idempotency-Key": "x" * 129})
    assert reply.status == 400
    assert aws.client("s3").list_objects_v2(Bucket=get_settings().exports_bucket).get("KeyCount", 0) == 0
