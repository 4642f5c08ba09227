"""The `reconcile` job and its routine (usecases/reconcile.py), against moto:
straight books report no drift, an entry or a balance changed behind the
program's back is reported by member id only, and nothing is written to
member data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.reconciliation import Drift
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.models import LedgerEntry
from chalicelib.store.models_wallet import WalletEntry
from chalicelib.store.unit_of_work import connection
from chalicelib.usecases.reconcile import Report, reconcile_segment, reconcile_table
from localstage.job import run
from tests.integration.conftest import MERCHANT, bearer
from tests.support.emf import metric_values


def today() -> str:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()


def check() -> Report:
    return reconcile_table(connection().client, get_settings().table_name)


@dataclass
class Program:
    """Four members whose books saw every kind of change (balances after each)."""

    clawed_back: str  # 100 welcome + 500 earned - 500 coffee - 500 refunded: -400
    refunded: str  # 100 + 300 - 100 refunded: 300 points; wallet 10000 - 2500 + 1000: 8500
    enrolled_by_purchase: str  # a purchase for an unknown phone: 100 points, pending
    welcome_only: str  # 100 points; wallet 5000
    phones: list[str]


def busy_program(api: Any, members: Any) -> Program:
    token_a, a = members.verified()
    assert members.purchase("o-a", 50000, phone=a["member"]["phone"]).status == 201
    assert api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers={**bearer(token_a), "Idempotency-Key": "k-a"}).status == 201
    clawed = api.post("/v1/purchases/o-a/refunds", {"refund_id": "r-a", "amount": 50000}, headers=MERCHANT)
    assert clawed.json()["balance"] == -400

    _, b = members.verified()
    b_id = b["member"]["member_id"]
    assert members.purchase("o-b", 30000, member_id=b_id).status == 201
    assert api.post("/v1/purchases/o-b/refunds", {"refund_id": "r-b", "amount": 10000}, headers=MERCHANT).json()["balance"] == 300
    wallet = {"currency": "CNY", "member_id": b_id}
    assert api.post("/v1/wallet/topups", {"topup_id": "t-b", "amount": 10000, **wallet}, headers=MERCHANT).status == 201
    assert api.post("/v1/wallet/payments", {"payment_id": "p-b", "amount": 2500, **wallet}, headers=MERCHANT).status == 201
    refunded = api.post("/v1/wallet/payments/p-b/refunds", {"refund_id": "wr-b", "amount": 1000}, headers=MERCHANT)
    assert refunded.status == 201

    c_phone = members.phone()
    enrolled = members.purchase("o-c", 10000, phone=c_phone)
    assert enrolled.status == 201

    _, d = members.verified()
    d_id = d["member"]["member_id"]
    assert api.post("/v1/wallet/topups", {"topup_id": "t-d", "amount": 5000, "currency": "CNY", "member_id": d_id}, headers=MERCHANT).status == 201
    return Program(
        a["member"]["member_id"],
        b_id,
        enrolled.json()["member_id"],
        d_id,
        [a["member"]["phone"], b["member"]["phone"], c_phone, d["member"]["phone"]],
    )


def table_items() -> dict[tuple[str, str], dict[str, Any]]:
    client, items, start = connection().client, {}, None
    while True:
        page = client.scan(TableName=get_settings().table_name, **({"ExclusiveStartKey": start} if start else {}))
        items.update({(i["pk"]["S"], i["sk"]["S"]): i for i in page["Items"]})
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def tamper(pk: str, sk: str, attribute: str, by: int) -> None:
    """Change a number in the table behind the program's back (no version, no entry)."""
    connection().client.update_item(
        TableName=get_settings().table_name,
        Key={"pk": {"S": pk}, "sk": {"S": sk}},
        UpdateExpression="SET #a = #a + :by",
        ExpressionAttributeNames={"#a": attribute},
        ExpressionAttributeValues={":by": {"N": str(by)}},
    )


def test_given_books_changed_every_way_when_reconciled_then_no_member_drifts_and_the_totals_are_the_balances(api, members, emf):
    busy_program(api, members)

    report = check()
    emf()
    result = run("reconcile", today(), False)
    documents = emf()
    names = ("OutstandingPoints", "OutstandingStoredValue", "LedgerDrift")
    emitted = {name: metric_values(documents, name, service="huiyuan", stage="local") for name in names}

    assert (report.drifting, report.unsettled, report.rechecked) == ({}, [], 0)
    assert report.members_checked == 4
    assert report.outstanding_points == -400 + 300 + 100 + 100
    assert report.outstanding_stored_value == 8500 + 5000
    assert result["units"] == {"planned": 16, "done": 16}
    assert result["members_examined"] == 4
    ledger = result["ledger"]
    assert (ledger["members_checked"], ledger["members_with_drift"], ledger["drift_member_ids"], ledger["members_unsettled"]) == (4, 0, [], 0)
    assert (ledger["outstanding_points"], ledger["outstanding_stored_value"]) == (100, 13500)
    assert (sum(emitted["OutstandingPoints"]), sum(emitted["OutstandingStoredValue"]), sum(emitted["LedgerDrift"])) == (100, 13500, 0)
    assert len(emitted["LedgerDrift"]) == 16  # every unit reports, zero included: the alarm always has data


def test_given_entries_and_balances_changed_behind_the_programs_back_then_exactly_those_members_are_reported(api, members, caplog):
    program = busy_program(api, members)
    entry = next(e for e in LedgerEntry.query(keys.member_pk(program.refunded), LedgerEntry.sk.startswith(keys.LEDGER_PREFIX)) if e.kind == "earn")
    tamper(entry.pk, entry.sk, "points", 50)
    tamper(keys.member_pk(program.enrolled_by_purchase), keys.PROFILE, "balance", 7)
    wallet_entry = next(iter(WalletEntry.query(keys.member_pk(program.welcome_only), WalletEntry.sk.startswith(keys.WALLET_ENTRY_PREFIX))))
    tamper(wallet_entry.pk, wallet_entry.sk, "amount", -1)
    caplog.clear()

    report = check()
    result = run("reconcile", today(), False)

    assert report.drifting == {
        program.refunded: [Drift("points_sum", 350, 300)],
        program.enrolled_by_purchase: [Drift("points_sum", 100, 107)],
        program.welcome_only: [Drift("wallet_sum", 4999, 5000)],
    }
    assert program.clawed_back not in report.drifting  # below zero, but by a refund's claw-back
    ledger = result["ledger"]
    assert ledger["members_with_drift"] == 3
    assert ledger["drift_member_ids"] == sorted([program.refunded, program.enrolled_by_purchase, program.welcome_only])
    assert ledger["members_checked"] == 4
    drifts = [r for r in caplog.records if r.getMessage() == "ledger drift"]
    assert {(r.member_id, r.check, r.expected, r.actual) for r in drifts} == {
        (program.refunded, "points_sum", 350, 300),
        (program.enrolled_by_purchase, "points_sum", 100, 107),
        (program.welcome_only, "wallet_sum", 4999, 5000),
    }
    logged = json.dumps([{**r.__dict__, "args": None, "exc_info": None} for r in caplog.records], default=str)
    for phone in program.phones:
        assert phone not in logged
        assert phone not in json.dumps(result)
    assert "张伟" not in logged + json.dumps(result, ensure_ascii=False)


def test_given_a_reconcile_run_then_no_member_item_changes_and_a_dry_run_writes_nothing_at_all(api, members):
    program = busy_program(api, members)
    tamper(keys.member_pk(program.refunded), keys.PROFILE, "balance", 1)
    before = table_items()

    dry = run("reconcile", today(), True)
    assert table_items() == before
    assert dry["dry_run"] is True
    assert (dry["ledger"]["members_with_drift"], dry["ledger"]["drift_member_ids"]) == (1, [program.refunded])

    real = run("reconcile", today(), False)
    after = table_items()
    added = {k for k in after if k not in before}
    assert [k[0] for k in added] == [keys.jobrun_pk("reconcile", today())]
    assert {k: v for k, v in after.items() if k not in added} == before
    same = {k: v for k, v in real["ledger"].items() if k != "items_read"}  # the real run also read its own run record
    assert same == {k: v for k, v in dry["ledger"].items() if k != "items_read"}


def test_given_a_scan_page_that_caught_a_member_mid_write_then_the_consistent_recheck_clears_it(api, members):
    program = busy_program(api, members)
    torn = tear_scan_pages(program.refunded)

    report = check()

    assert torn
    assert (report.drifting, report.unsettled, report.rechecked) == ({}, [], 1)
    assert report.outstanding_points == 100


def test_given_a_member_that_keeps_changing_through_every_recheck_then_it_is_unsettled_not_drift(api, members, monkeypatch, caplog):
    program = busy_program(api, members)
    tear_scan_pages(program.refunded)
    keep_changing_versions()
    monkeypatch.setattr("chalicelib.store.books.time.sleep", lambda _: None)

    report = check()

    assert (report.drifting, report.unsettled) == ({}, [program.refunded])
    assert [r.member_id for r in caplog.records if r.getMessage().startswith("ledger not settled")] == [program.refunded]


def tear_scan_pages(member_id: str) -> list[int]:
    """Drop the member's newest ledger entry from every Scan page: what an eventually
    consistent page read while a purchase was being written can look like."""
    dropped: list[int] = []

    def handler(parsed: dict[str, Any], **_: Any) -> None:
        items = parsed.get("Items", [])
        ledger = [i for i in items if i["pk"]["S"] == keys.member_pk(member_id) and i["sk"]["S"].startswith(keys.LEDGER_PREFIX)]
        if ledger:
            items.remove(ledger[0])
            dropped.append(1)

    connection().client.meta.events.register("after-call.dynamodb.Scan", handler, unique_id="tear-scan-pages")
    return dropped


def keep_changing_versions() -> None:
    """Every consistent read of a version answers a newer one: a member written to all the time."""
    versions = iter(range(2, 1_000))

    def handler(parsed: dict[str, Any], **_: Any) -> None:
        item = parsed.get("Item")
        if item and "version" in item:
            item["version"] = {"N": str(next(versions))}

    connection().client.meta.events.register("after-call.dynamodb.GetItem", handler, unique_id="changing-versions")


@pytest.fixture(autouse=True)
def _untorn():
    yield
    connection().client.meta.events.unregister("after-call.dynamodb.Scan", unique_id="tear-scan-pages")
    connection().client.meta.events.unregister("after-call.dynamodb.GetItem", unique_id="changing-versions")


def test_given_segments_read_a_few_items_a_page_when_units_run_out_of_time_then_each_member_is_checked_once(api, members, monkeypatch):
    busy_program(api, members)
    monkeypatch.setattr("chalicelib.usecases.reconcile.SCAN_PAGE_ITEMS", 2)
    monkeypatch.setattr("chalicelib.jobs.specs.RECONCILE_UNIT_SECONDS", 0)
    monkeypatch.setattr("chalicelib.jobs.specs.RECONCILE_SEGMENTS", 1)  # every member in one segment: it must be cut

    pieces = 0
    direct = Report()
    for segment in range(3):
        start: dict[str, Any] | None = None
        while True:
            part = reconcile_segment(connection().client, get_settings().table_name, segment, 3, start_key=start, deadline=0)
            direct.add(part)
            pieces += 1
            start = part.resume_from
            if start is None:
                break
    result = run("reconcile", today(), False)

    assert pieces > 3
    assert (direct.members_checked, direct.drifting, direct.rechecked, direct.outstanding_points) == (4, {}, 0, 100)
    assert result["units"]["done"] == result["units"]["planned"] > 1
    assert (result["ledger"]["members_checked"], result["ledger"]["members_with_drift"], result["ledger"]["outstanding_points"]) == (4, 0, 100)


def test_given_throttled_scans_that_outlast_retries_then_the_failed_unit_comes_back_and_every_member_is_checked_once(api, members):
    from tests.integration.test_faults import inject, throttled

    busy_program(api, members)
    # No retry inside botocore for these: 12 units fail on their first Scan and are redelivered.
    with inject("Scan", throttled, times=12) as injected:
        result = run("reconcile", today(), False)

    assert injected[0] == 12
    assert result["dead_lettered"] == 0
    assert result["units"] == {"planned": 16, "done": 16}
    assert (result["ledger"]["members_checked"], result["ledger"]["members_with_drift"], result["ledger"]["outstanding_points"]) == (4, 0, 100)


def every_unit_delivered_twice(job: str) -> dict[str, Any]:
    """The job, with every batch of units handed to the worker twice (SQS delivers at least once)."""
    import boto3

    from chalicelib.jobs.handlers import SCHEDULED, job_worker
    from chalicelib.jobs.runner import queue_url, summary
    from localstage.job import drain_queue

    def twice(event: dict[str, Any], context: Any) -> Any:
        job_worker(event, context)
        return job_worker(event, context)

    started = SCHEDULED[job]({"as_of": today(), "dry_run": False}, None)
    drain_queue(twice, queue_url(), boto3.client("sqs"))
    return summary(started["job"], started["as_of"], started["run_id"])


def test_given_every_unit_and_its_continuations_delivered_twice_then_each_member_is_counted_once_and_the_run_completes(
    api, members, monkeypatch, emf
):
    busy_program(api, members)
    monkeypatch.setattr("chalicelib.usecases.reconcile.SCAN_PAGE_ITEMS", 2)
    monkeypatch.setattr("chalicelib.jobs.specs.RECONCILE_UNIT_SECONDS", 0)
    monkeypatch.setattr("chalicelib.jobs.specs.RECONCILE_SEGMENTS", 1)  # every member in one segment: it must be cut
    emf()

    result = every_unit_delivered_twice("reconcile")

    assert result["units"]["done"] == result["units"]["planned"] > 1
    ledger = result["ledger"]
    assert (ledger["members_checked"], ledger["members_with_drift"], ledger["outstanding_points"], ledger["outstanding_stored_value"]) == (
        4,
        0,
        100,
        13500,
    )
    documents = emf()
    assert sum(metric_values(documents, "OutstandingPoints", stage="local")) == 100
    assert sum(metric_values(documents, "OutstandingStoredValue", stage="local")) == 13500


def test_given_a_scan_page_that_ends_on_a_phone_guard_then_the_next_unit_never_starts_from_its_key(api, members, monkeypatch):
    program = busy_program(api, members)
    monkeypatch.setattr("chalicelib.usecases.reconcile.SCAN_PAGE_ITEMS", 1)
    monkeypatch.setattr("chalicelib.jobs.specs.RECONCILE_UNIT_SECONDS", 0)
    monkeypatch.setattr("chalicelib.jobs.specs.RECONCILE_SEGMENTS", 1)  # every member in one segment: it must be cut
    queued: list[str] = []

    def watch(params: dict[str, Any], **_: Any) -> None:
        queued.extend(entry["MessageBody"] for entry in params["Entries"])

    from chalicelib.store.job_queue import _sqs

    events = _sqs().meta.events  # the jobs queue's client (the runner sends with it): what goes to the queue
    events.register("before-parameter-build.sqs.SendMessageBatch", watch, unique_id="watch-queued-units")
    try:
        result = run("reconcile", today(), False)
    finally:
        events.unregister("before-parameter-build.sqs.SendMessageBatch", unique_id="watch-queued-units")

    continuations = [body for body in queued if '"start_key"' in body]
    assert continuations, "the units were cut into pieces"
    assert result["ledger"]["members_checked"] == 4
    assert not any(phone in body or phone.removeprefix("+86") in body for body in queued for phone in program.phones)
    assert all('"PHONE#' not in body for body in queued)
