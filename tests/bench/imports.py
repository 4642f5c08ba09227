"""Bulk import of members (issue 16, item 3): rows per second through the app in process over
moto, DynamoDB write calls and write units per row (counted by the bench's recorder), how much of
the file a part holds (streamed by ranged GETs: flat in the file size), and 1,000,000 rows on
DynamoDB projected from the measured calls.

    .venv/bin/python -m tests.bench.imports [--rows 20000]

The issue's 20,000 rows by default. Over moto in process the time per row grows with the table
(moto's index Query walks every item of the table), so the bench runs moto as the local stack
does: `light_transaction_snapshots` (without it moto deep-copies the whole table per transaction
item: 300 rows had not finished after 15 minutes), `partition_queries` and `untracked_models`.
The write calls and units per row do not change with the size (one TransactWriteItems a row,
one update a part), so the 1,000,000-row projection is computed from them, not from moto's rows
per second.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any

import tests.conftest  # noqa: F401  (the suite's environment: moto, never an account)

from .capacity import USD_PER_MILLION_WRU
from .recorder import Recorder

ROWS = 20_000
CALLS_BUDGET = 1.1
WRITES = {"TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}
# Projection: one row's transaction takes ~15 ms on DynamoDB (TransactWriteItems of 4-6 items,
# same region); deployed, a part writes WRITERS rows at once and parts run one after the other
# (here, over moto, one row at a time: rows/s measures the app and moto, not DynamoDB).
DYNAMODB_TRANSACTION_SECONDS = 0.015
PROJECTED_ROWS = 1_000_000


@dataclass(frozen=True)
class ImportResult:
    rows: int
    seconds: float
    write_calls: int
    wru: float
    imported: int
    max_part_bytes: int
    file_bytes: int
    writers: int

    @property
    def calls_per_row(self) -> float:
        return self.write_calls / self.rows

    @property
    def projected_seconds(self) -> float:
        return PROJECTED_ROWS * self.calls_per_row * DYNAMODB_TRANSACTION_SECONDS / self.writers

    @property
    def projected_usd(self) -> float:
        return PROJECTED_ROWS * (self.wru / self.rows) * USD_PER_MILLION_WRU / 1_000_000


def _file(rows: int) -> bytes:
    lines = ["phone,name,birthday,tier,points,points_expire_on,stored_value,external_id\n"]
    for n in range(rows):
        lines.append(f"+86137{n:08d},会员{n},1990-01-{n % 28 + 1:02d},,{n % 5000},,{(n % 3) * 1000},old-{n}\n")
    if rows > 10:
        lines.append("+8613700000001,Twice,,,,,,\n")  # one duplicate: reported, not written
    return "".join(lines).encode()


def measure(rows: int = ROWS, recorder: Recorder | None = None) -> ImportResult:
    """`recorder`: the one this process's clients already carry (`make bench`'s): the app's cached
    DynamoDB client was made under it, and a new recorder would never see its calls (the write
    calls per row then read 0)."""
    import boto3
    import requests
    from moto import mock_aws

    from chalicelib.settings import get_settings
    from chalicelib.store.parameters import clear_caches
    from localstage.aws import light_transaction_snapshots, partition_queries, untracked_models
    from localstage.bootstrap import bootstrap
    from localstage.job import drain_queue
    from tests.support.client import ApiClient
    from tests.support.rules import SUITE_RULES

    recorder = recorder or Recorder()
    recorder.install()  # the clients made from now on carry its handlers too
    body = _file(rows)
    read_per_get: list[int] = []
    try:
        with mock_aws(), light_transaction_snapshots(), partition_queries(), untracked_models():
            clear_caches()
            session = boto3.Session()
            bootstrap(get_settings(), session, rules_json=SUITE_RULES.model_dump_json())
            from app import app
            from chalicelib.jobs.handlers import job_worker
            from chalicelib.jobs.runner import queue_url
            from chalicelib.observability import logger
            from chalicelib.usecases.operations.member_imports import WRITERS

            logger.setLevel("ERROR")
            api = ApiClient(app)
            created = api.post("/v1/admin/imports", {"format": "csv"}).json()
            assert requests.put(created["upload"]["url"], data=body, timeout=120).status_code == 200

            bodies: list[Any] = []
            botocore_session = boto3._get_default_session()._session
            botocore_session.register("after-call.s3.GetObject", lambda parsed, **_: bodies.append(parsed.get("Body")))
            recorder.start()
            began = time.perf_counter()
            assert api.post(f"/v1/admin/imports/{created['import_id']}/start", {}).status == 202
            drain_queue(job_worker, queue_url(), boto3.client("sqs"))
            seconds = time.perf_counter() - began
            calls = recorder.stop()
            status = api.get(f"/v1/admin/imports/{created['import_id']}").json()
            assert status["status"] == "done", status
            read_per_get = [b._amount_read for b in bodies if b is not None]
    finally:
        recorder.uninstall()
        clear_caches()
    writes = [c for c in calls if c.service == "dynamodb" and c.operation in WRITES]
    return ImportResult(
        rows=rows,
        seconds=seconds,
        write_calls=len(writes),
        wru=sum(c.wru + c.gsi_wru for c in writes),
        imported=int(status["progress"]["imported"]),
        max_part_bytes=max(read_per_get, default=0),
        file_bytes=len(body),
        writers=WRITERS,
    )


def rows(result: ImportResult) -> list[tuple[str, str, str, str, str, str, str, str]]:
    verdict = "PASS" if result.calls_per_row <= CALLS_BUDGET and result.imported == result.rows else "FAIL"
    detail = (
        f"{result.rows:,} rows ({result.file_bytes / 1e6:.1f} MB CSV) in {result.seconds:.0f} s over moto in process: "
        f"{result.rows / result.seconds:.0f} rows/s; {result.write_calls:,} write calls (one TransactWriteItems a row, "
        f"one progress update a part); {result.wru / result.rows:.1f} WRU a row"
    )
    projection = (
        f"1,000,000 rows on DynamoDB: ~{result.projected_seconds / 60:.0f} min ({result.writers} rows at once, "
        f"{DYNAMODB_TRANSACTION_SECONDS * 1000:.0f} ms a transaction), ~${result.projected_usd:.2f} of on-demand writes"
    )
    return [
        ("Import: DynamoDB write calls per row", f"<= {CALLS_BUDGET}", f"{result.calls_per_row:.3f}", verdict, detail, "", "", ""),
        (
            "Import: file bytes a part reads (streamed)",
            "(report)",
            f"{result.max_part_bytes / 1024:.0f} KB of {result.file_bytes / 1e6:.1f} MB",
            "",
            "ranged GETs, read in 64 KB chunks until the part's 1,000 rows: flat in the file size",
            "",
            "",
            "",
        ),
        (
            "Import: 1,000,000 rows projected",
            "(report)",
            f"~{result.projected_seconds / 60:.0f} min, ~${result.projected_usd:.2f}",
            "",
            projection,
            "",
            "",
            "",
        ),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=ROWS)
    measured = measure(parser.parse_args().rows)
    for row in rows(measured):
        print(" | ".join(row[:5]))
