"""Bulk import of members (issue 16, item 3): an operator creates an import, PUTs the file to the
pre-signed URL (a real HTTP PUT), starts it; the parts run through the jobs queue; members are
pending with their opening books; an SMS code activates one and keeps its balances; a rerun
changes nothing; bad headers, duplicates and invalid rows are reported; a redelivered part
counts once; a big file is streamed, never loaded."""

from __future__ import annotations

import csv
import io
from typing import Any

import boto3
import pytest
import requests

from chalicelib.domain import imports as import_rules
from chalicelib.settings import get_settings
from tests.integration.conftest import bearer
from tests.support.outbox import last_code, messages

IMPORTS = "/v1/admin/imports"
HEADER = "phone,name,birthday,tier,points,points_expire_on,stored_value,external_id\n"


def drain(times: int = 1) -> None:
    """Hand every queued unit (and the units they queue) to the worker `times` times each."""
    from chalicelib.jobs.handlers import job_worker
    from chalicelib.jobs.runner import queue_url
    from localstage.job import drain_queue

    def worker(event: dict[str, Any], context: Any) -> Any:
        answer = None
        for _ in range(times):
            answer = job_worker(event, context)
        return answer

    drain_queue(worker, queue_url(), boto3.client("sqs"))


def upload(api: Any, body: bytes, *, file_format: str = "csv", key: str | None = None) -> dict[str, Any]:
    reply = api.post(IMPORTS, {"format": file_format}, headers={"Idempotency-Key": key} if key else None)
    assert reply.status == 201, reply.text
    created = reply.json()
    assert created["status"] == "waiting_upload" and created["upload"]["method"] == "PUT"
    put = requests.put(created["upload"]["url"], data=body, timeout=30)
    assert put.status_code == 200, put.text
    return created


def run_import(api: Any, body: bytes, **kwargs: Any) -> dict[str, Any]:
    created = upload(api, body, **kwargs)
    started = api.post(f"{IMPORTS}/{created['import_id']}/start", {})
    assert started.status == 202, started.text
    assert started.json()["status"] == "running"
    drain()
    status = api.get(f"{IMPORTS}/{created['import_id']}")
    assert status.status == 200, status.text
    return status.json()


def failed_rows(status: dict[str, Any]) -> list[dict[str, str]]:
    reply = requests.get(status["result"]["url"], timeout=30)
    assert reply.status_code == 200
    return list(csv.DictReader(io.StringIO(reply.content.decode("utf-8-sig"))))


def member_of(api: Any, phone: str) -> dict[str, Any]:
    found = members_with(api, phone)
    assert len(found) == 1, found
    return found[0]


def members_with(api: Any, phone: str) -> list[dict[str, Any]]:
    found = api.get(f"/v1/admin/members?phone={phone.replace('+', '%2B')}")
    assert found.status == 200, found.text
    return list(found.json()["items"])


def test_given_a_csv_when_imported_then_members_are_pending_with_their_books_and_an_sms_code_activates_one_keeping_them(api, outbox_path):
    body = (
        HEADER + "+8613900000001,张伟,1990-05-01,gold,1200,2099-06-15,5000,old-1\n" + "13900000002,李娜,,,300,,,old-2\n" + "+8613900000003,,,,,,,\n"
    ).encode()

    status = run_import(api, body)

    assert status["status"] == "done"
    assert status["progress"] == {"rows_read": 3, "imported": 3, "skipped_existing": 0, "failed": 0, "parts_done": 1}
    assert "result" not in status  # no row failed
    zhang = member_of(api, "+8613900000001")
    assert zhang["status"] == "pending" and zhang["tier"] == "gold" and zhang["name"] == "张伟"
    assert zhang["points"]["balance"] == 1200
    ledger = api.get(f"/v1/admin/members/{zhang['member_id']}/ledger").json()["items"]
    assert [(e["kind"], e["points"], e["balance_after"]) for e in ledger] == [("imported", 1200, 1200)]
    assert member_of(api, "+8613900000002")["points"]["balance"] == 300
    assert not [m for m in messages(outbox_path) if m["to"].startswith("+86139000000")]  # no SMS at import

    # The member signs up on the app with their phone: the SMS code activates them, balances kept.
    assert api.post("/v1/signup", {"phone": "+8613900000001", "name": "张伟"}).status == 202
    verified = api.post("/v1/auth/verify", {"phone": "+8613900000001", "code": last_code(outbox_path, "+8613900000001")})
    assert verified.status == 200, verified.text
    me = verified.json()["member"]
    assert me["status"] == "active" and me["points"]["balance"] == 1200 and me["tier"] == "gold"
    wallet = api.get("/v1/me/wallet", headers=bearer(verified.json()["access_token"]))
    assert wallet.status == 200 and wallet.json()["balance"] == 5000


def test_given_an_import_done_when_the_same_file_is_imported_again_then_every_row_is_skipped_and_nothing_changes(api):
    body = (HEADER + "+8613900000011,王芳,,,100,,,\n+8613900000012,,,,,,,\n").encode()
    run_import(api, body)
    before = member_of(api, "+8613900000011")

    again = run_import(api, body)

    assert again["progress"] == {"rows_read": 2, "imported": 0, "skipped_existing": 2, "failed": 0, "parts_done": 1}
    after = member_of(api, "+8613900000011")
    assert after["member_id"] == before["member_id"] and after["points"]["balance"] == 100


def test_given_duplicate_and_invalid_rows_then_the_first_phone_wins_and_the_others_are_in_the_result_file_by_line(api):
    body = (
        HEADER
        + "+8613900000021,First,,,10,,,\n"
        + "13900000021,Second,,,20,,,\n"  # the same phone, national form
        + "12345,Bad,,,,,,\n"
        + "+8613900000022,,2999-01-01,,,,,\n"
        + "+8613900000023,,,platinum,,,,\n"
        + "+8613900000024,,,,-5,,,\n"
        + "+8613900000025,,,,,,\n"  # a field short
    ).encode()

    status = run_import(api, body)

    assert status["progress"]["imported"] == 1 and status["progress"]["failed"] == 6
    rows = failed_rows(status)
    assert [r["line"] for r in rows] == ["3", "4", "5", "6", "7", "8"]
    reasons = {r["line"]: r["reason"] for r in rows}
    assert reasons["3"] == "duplicate phone: line 2 has it"
    assert reasons["4"].startswith("phone:") and reasons["5"].startswith("birthday:") and reasons["6"].startswith("tier:")
    assert reasons["7"].startswith("points:") and "fields" in reasons["8"]
    assert "Bad" not in str(rows) and "12345" not in str(rows)  # line and reason only: no values
    assert member_of(api, "+8613900000021")["name"] == "First"
    assert members_with(api, "+8613900000022") == []


@pytest.mark.parametrize(
    "header",
    ["mobile,name\n", "phone,name,phone\n", "name,points\n", "phone,nickname\n"],
)
def test_given_a_bad_header_when_started_then_422_with_the_reason_and_nothing_is_imported(api, header):
    created = upload(api, (header + "+8613900000031,X\n").encode())

    started = api.post(f"{IMPORTS}/{created['import_id']}/start", {})

    assert started.status == 422, started.text
    assert started.json()["code"] == "invalid_import_file" and "column" in started.json()["detail"]
    status = api.get(f"{IMPORTS}/{created['import_id']}").json()
    assert status["status"] == "waiting_upload" and status["progress"]["rows_read"] == 0
    assert members_with(api, "+8613900000031") == []


def test_given_a_start_before_any_upload_then_422_and_the_import_still_waits(api):
    created = api.post(IMPORTS, {}).json()
    started = api.post(f"{IMPORTS}/{created['import_id']}/start", {})
    assert started.status == 422 and "uploaded" in started.json()["detail"]
    assert api.get(f"{IMPORTS}/{created['import_id']}").json()["status"] == "waiting_upload"


def test_given_json_lines_then_they_import_like_csv(api):
    body = b'{"phone": "+8613900000041", "name": "\\u8d75\\u654f", "points": 50}\n{"phone": "+8613900000042", "colour": "red"}\n'
    status = run_import(api, body, file_format="jsonl")
    assert status["progress"]["imported"] == 1 and status["progress"]["failed"] == 1
    assert failed_rows(status)[0]["line"] == "2" and "unknown column" in failed_rows(status)[0]["reason"]
    assert member_of(api, "+8613900000041")["name"] == "赵敏"


def test_given_an_idempotency_key_when_the_create_is_retried_then_the_same_import(api):
    first = api.post(IMPORTS, {"format": "csv"}, headers={"Idempotency-Key": "migration-1"})
    again = api.post(IMPORTS, {"format": "csv"}, headers={"Idempotency-Key": "migration-1"})
    other = api.post(IMPORTS, {"format": "jsonl"}, headers={"Idempotency-Key": "migration-1"})
    assert first.status == 201 and again.status == 200 and again.json()["import_id"] == first.json()["import_id"]
    assert other.status == 409 and other.json()["code"] == "idempotency_conflict"


def test_given_parts_delivered_twice_and_a_part_redelivered_after_a_crash_then_every_row_is_imported_once_and_counted_once(api, monkeypatch):
    monkeypatch.setattr(import_rules, "PART_ROWS", 3)
    monkeypatch.setattr("chalicelib.usecases.operations.member_imports.PART_ROWS", 3)
    lines = [f"+86139000001{n:02d},,,,{n},,,\n" for n in range(8)] + ["+8613900000100,,,,1,,,\n"]  # the last repeats the first
    created = upload(api, (HEADER + "".join(lines)).encode())
    assert api.post(f"{IMPORTS}/{created['import_id']}/start", {}).status == 202

    drain(times=2)  # SQS delivers at least once: every unit twice

    status = api.get(f"{IMPORTS}/{created['import_id']}").json()
    assert status["status"] == "done"
    assert status["progress"] == {"rows_read": 9, "imported": 8, "skipped_existing": 0, "failed": 1, "parts_done": 3}
    assert failed_rows(status) == [{"line": "10", "reason": "duplicate phone: line 2 has it"}]
    assert member_of(api, "+8613900000107")["points"]["balance"] == 7

    # A crash after a part's rows were written but before its counts were: the redelivery counts them.
    from chalicelib.usecases.operations import member_imports

    again = upload(api, (HEADER + "+8613900000201,,,,5,,,\n").encode())
    assert api.post(f"{IMPORTS}/{again['import_id']}/start", {}).status == 202
    unit = {"kind": "rows", "import_id": again["import_id"], "part": 0, "offset": len(HEADER), "line": 2}
    real_record = member_imports.stored.record_part
    monkeypatch.setattr(member_imports.stored, "record_part", lambda *a: (_ for _ in ()).throw(ConnectionError("crash")))
    with pytest.raises(ConnectionError):
        member_imports.import_part(unit)
    monkeypatch.setattr(member_imports.stored, "record_part", real_record)
    drain()
    status = api.get(f"{IMPORTS}/{again['import_id']}").json()
    assert status["progress"] == {"rows_read": 1, "imported": 1, "skipped_existing": 0, "failed": 0, "parts_done": 1}
    assert member_of(api, "+8613900000201")["points"]["balance"] == 5


def test_given_a_50_mb_file_then_it_is_accepted_and_a_part_reads_only_its_rows_and_above_the_maximum_it_is_refused(api, monkeypatch):
    row = "+8613900000301,一个很长的名字" + "x" * 60 + ",,,1,,,\n"
    filler = (row * (50 * 1024 * 1024 // len(row.encode()) + 1)).encode()
    body = HEADER.encode() + filler
    assert len(body) >= 50 * 1024 * 1024
    created = upload(api, body)
    del filler
    assert api.post(f"{IMPORTS}/{created['import_id']}/start", {}).status == 202

    from chalicelib.usecases.operations import member_imports

    # What the part reads of the file: its GETs are ranged, and of their bodies it consumes only
    # what its rows need. (tracemalloc cannot tell here: the in-process moto copies the object.)
    reads: list[tuple[str | None, Any]] = []

    def watch(http_response: Any, parsed: dict[str, Any], model: Any, **kwargs: Any) -> None:
        reads.append((kwargs.get("context", {}).get("range"), parsed.get("Body")))

    def note_range(params: dict[str, Any], context: dict[str, Any], **kwargs: Any) -> None:
        context["range"] = params.get("Range")

    session = boto3._get_default_session()._session
    session.register("before-parameter-build.s3.GetObject", note_range)
    session.register("after-call.s3.GetObject", watch)
    unit = {"kind": "rows", "import_id": created["import_id"], "part": 0, "offset": len(HEADER.encode()), "line": 2}
    try:
        done = member_imports.import_part(unit)
    finally:
        session.unregister("before-parameter-build.s3.GetObject", note_range)
        session.unregister("after-call.s3.GetObject", watch)
    assert done.tally["examined"] == import_rules.PART_ROWS and done.next_unit is not None
    assert reads and all(r is not None and r.startswith("bytes=") for r, _ in reads)
    consumed = sum(body._amount_read for _, body in reads)
    assert consumed < 1024 * 1024, consumed  # a part (1,000 rows, ~100 KB) and a chunk: never the 50 MB

    monkeypatch.setenv("IMPORT_MAX_BYTES", str(10 * 1024 * 1024))
    get_settings.cache_clear()
    try:
        big = upload(api, body)
        refused = api.post(f"{IMPORTS}/{big['import_id']}/start", {})
        assert refused.status == 422 and "the most an import takes is 10485760 bytes" in refused.json()["detail"]
    finally:
        monkeypatch.delenv("IMPORT_MAX_BYTES")
        get_settings.cache_clear()


def test_given_consent_columns_then_imported_members_have_the_consents_recorded_with_their_time_and_the_import_as_source(api):
    body = (
        "phone,name,sms_marketing,email_marketing,consented_at\n"
        "+8613900000061,甲,yes,no,2024-03-01T10:00:00+08:00\n"
        "+8613900000062,乙,TRUE,,2024-03-02\n"
        "+8613900000063,丙,,,\n"  # the old system recorded nothing: no consent, no record
        "+8613900000064,丁,maybe,,\n"
        "+8613900000065,戊,true,,2999-01-01\n"
        "+8613900000066,己,,,2024-03-01\n"  # a time with no consent
    ).encode()

    status = run_import(api, body)

    assert status["progress"]["imported"] == 3 and status["progress"]["failed"] == 3
    import_id = status["import_id"]
    first = member_of(api, "+8613900000061")
    assert first["consents"] == {"sms_marketing": True, "email_marketing": False, "push": False}
    assert first["consent_records"] == {
        "email_marketing": {"given": False, "at": "2024-03-01T02:00:00+00:00", "source": f"import {import_id}"},
        "sms_marketing": {"given": True, "at": "2024-03-01T02:00:00+00:00", "source": f"import {import_id}"},
    }
    assert first["imported_by"] == import_id
    second = member_of(api, "+8613900000062")
    assert second["consents"]["sms_marketing"] is True
    assert second["consent_records"] == {"sms_marketing": {"given": True, "at": "2024-03-01T16:00:00+00:00", "source": f"import {import_id}"}}
    third = member_of(api, "+8613900000063")
    assert third["consents"] == {"sms_marketing": False, "email_marketing": False, "push": False} and third["consent_records"] == {}
    reasons = {r["line"]: r["reason"] for r in failed_rows(status)}
    assert reasons["5"].startswith("sms_marketing:") and "maybe" not in reasons["5"]
    assert reasons["6"] == "consented_at: must not be in the future"
    assert "consented_at is given without" in reasons["7"]


def test_given_an_imported_consent_when_the_member_signs_up_choosing_otherwise_then_their_own_choice_is_recorded(api, outbox_path):
    status = run_import(api, b"phone,sms_marketing\n+8613900000071,true\n")
    assert member_of(api, "+8613900000071")["consent_records"]["sms_marketing"]["source"] == f"import {status['import_id']}"

    signup = api.post("/v1/signup", {"phone": "+8613900000071", "name": "庚", "consents": {"sms_marketing": False, "email_marketing": False}})
    assert signup.status == 202, signup.text
    verified = api.post("/v1/auth/verify", {"phone": "+8613900000071", "code": last_code(outbox_path, "+8613900000071")})
    assert verified.status == 200, verified.text

    member = member_of(api, "+8613900000071")
    assert member["consents"]["sms_marketing"] is False
    assert member["consent_records"]["sms_marketing"]["given"] is False and member["consent_records"]["sms_marketing"]["source"] == "signup"


def test_given_json_lines_with_consents_then_booleans_are_taken_as_given(api):
    body = b'{"phone": "+8613900000081", "email_marketing": true, "sms_marketing": false}\n'
    status = run_import(api, body, file_format="jsonl")
    assert status["progress"]["imported"] == 1
    member = member_of(api, "+8613900000081")
    assert member["consents"]["email_marketing"] is True and member["consents"]["sms_marketing"] is False
