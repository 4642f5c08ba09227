"""CSV exports: all members (a parallel Scan fanned out as units), a segment's audience, and the
ledger between two days, each a job whose file an operator downloads by a pre-signed URL once done."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import requests

from chalicelib.usecases.operations.bulk_exports import SCAN_SEGMENTS
from tests.integration.test_bulk_grants import deliver, new_member

EXPORTS = "/v1/admin/exports"


def downloaded(api: Any, export_id: str) -> list[dict[str, str]]:
    status = api.get(f"{EXPORTS}/{export_id}").json()
    assert status["status"] == "done", status
    reply = requests.get(status["download"]["url"], timeout=10)
    assert reply.status_code == 200
    assert reply.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(reply.content.decode("utf-8-sig"))))
    assert status["progress"]["rows"] == len(rows)
    return rows


def test_given_members_when_all_are_exported_then_the_file_has_each_once_without_personal_fields_unless_asked(api, members):
    (a, phone_a), (b, _) = new_member(members), new_member(members)
    started = api.post(EXPORTS, {"of": "members"})
    assert started.status == 202, started.text
    export = started.json()
    assert export["status"] == "running" and export["progress"]["units_total"] == SCAN_SEGMENTS
    deliver(times=2)

    rows = downloaded(api, export["export_id"])
    assert sorted(r["member_id"] for r in rows) == sorted([a, b])
    assert set(rows[0]) == {"member_id", "status", "tier", "points", "stored_value", "joined_on"}
    assert {r["member_id"]: r["status"] for r in rows}[a] == "active"
    assert phone_a not in str(rows)

    personal = api.post(EXPORTS, {"of": "members", "include_personal": True}).json()
    deliver()
    with_phones = downloaded(api, personal["export_id"])
    # E.164 starts with "+": escaped like any cell a spreadsheet would read as a formula.
    assert {r["member_id"]: r["phone"] for r in with_phones}[a] == "'" + phone_a
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    audit = api.get(f"/v1/admin/audit?day={day}&limit=50").json()["items"]
    assert any(e["action"] == "exports.create" and e["after"]["include_personal"] is True for e in audit)


def test_given_a_segment_with_an_audience_then_its_export_has_exactly_its_members(api, members):
    from chalicelib.store import audiences

    (a, _), (b, _), (c, _) = new_member(members), new_member(members), new_member(members)
    segment = api.post("/v1/admin/segments", {"name": "VIP", "definition": {"tiers": ["gold"]}}).json()
    now = datetime.now(UTC)
    audiences.write(segment["segment_id"], [a, c], data_as_of=now, computed_at=now)

    export = api.post(EXPORTS, {"of": "members", "segment_id": segment["segment_id"]}).json()
    assert export["audience_id"] and export["progress"]["units_total"] == 1
    deliver()
    assert sorted(r["member_id"] for r in downloaded(api, export["export_id"])) == sorted([a, c])
    del b


def test_given_ledger_entries_when_the_ledger_is_exported_for_today_then_every_entry_of_today_is_there(api, members):
    (a, phone_a), _ = new_member(members), None
    assert members.purchase("o-export-1", 6000, phone=phone_a).status == 201
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()  # the program's time zone
    export = api.post(EXPORTS, {"of": "ledger", "from": today, "to": today}).json()
    deliver()
    rows = downloaded(api, export["export_id"])
    mine = [r for r in rows if r["member_id"] == a]
    assert "earn" in {r["kind"] for r in mine}
    ledger = api.get(f"/v1/admin/members/{a}/ledger?limit=50").json()["items"]
    assert sorted(r["entry_id"] for r in mine) == sorted(e["entry_id"] for e in ledger)
    assert set(rows[0]) == {"entry_id", "member_id", "kind", "points", "balance_after", "ref", "lot", "created_at"}


def test_given_bad_export_requests_then_400_or_404_and_nothing_runs(api):
    for body in (
        {"of": "orders"},
        {"of": "ledger"},
        {"of": "ledger", "from": "2026-02-01", "to": "2026-01-01"},
        {"of": "ledger", "from": "2025-01-01", "to": "2026-06-01"},
        {"of": "members", "from": "2026-01-01"},
        {"of": "ledger", "from": "2026-01-01", "to": "2026-01-02", "include_personal": True},
    ):
        reply = api.post(EXPORTS, body)
        assert reply.status == 400 and reply.json()["code"] == "validation_error", (body, reply.text)
    assert api.post(EXPORTS, {"of": "members", "segment_id": "seg_nope"}).status == 404
    assert api.get(f"{EXPORTS}/exp_nope").status == 404
