"""Bulk grants of points (issue 16, item 4): rows per second through the app in process over moto
(the split, then parts of GRANT_PART_ROWS rows, one transaction a row: the member's balance, its
ledger entry and lot, the row's idempotency record), and DynamoDB write calls and write units per
row, counted by the bench's recorder. The members are seeded with BatchWriteItem (not measured).

    .venv/bin/python -m tests.bench.grants [--rows 2000]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import tests.conftest  # noqa: F401  (the suite's environment: moto, never an account)

from .capacity import USD_PER_MILLION_WRU
from .recorder import Recorder

ROWS = 2_000
WRITES = {"TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}
POINTS = 10


@dataclass(frozen=True)
class GrantResult:
    rows: int
    seconds: float
    write_calls: int
    wru: float
    granted: int

    @property
    def calls_per_row(self) -> float:
        return self.write_calls / self.rows

    @property
    def usd_per_million_rows(self) -> float:
        return 1_000_000 * (self.wru / self.rows) * USD_PER_MILLION_WRU / 1_000_000


def measure(rows: int = ROWS, recorder: Recorder | None = None) -> GrantResult:
    """`recorder`: the one this process's clients already carry (`make bench`'s), as for the import."""
    import boto3
    import requests
    from moto import mock_aws

    from chalicelib.settings import get_settings
    from chalicelib.store.parameters import clear_caches
    from localstage.aws import light_transaction_snapshots, untracked_models
    from localstage.bootstrap import bootstrap
    from localstage.job import drain_queue
    from tests.support.client import ApiClient
    from tests.support.rules import SUITE_RULES

    recorder = recorder or Recorder()
    recorder.install()  # the clients made from now on carry its handlers too
    try:
        with mock_aws(), light_transaction_snapshots(), untracked_models():
            clear_caches()
            bootstrap(get_settings(), boto3.Session(), rules_json=SUITE_RULES.model_dump_json())
            from app import app
            from chalicelib.domain.clock import today_in, utcnow
            from chalicelib.jobs.handlers import job_worker
            from chalicelib.jobs.runner import queue_url
            from chalicelib.observability import logger
            from chalicelib.store.members import new_member
            from chalicelib.store.models import Member

            logger.setLevel("ERROR")
            now = utcnow()
            member_ids = []
            with Member.batch_write() as batch:
                for n in range(rows):
                    member = new_member(f"+86136{n:08d}", tier=SUITE_RULES.base_tier.id, joined=today_in(SUITE_RULES.zone, now), now=now)
                    member.status = "active"
                    batch.save(member)
                    member_ids.append(member.member_id)
            api = ApiClient(app)
            created = api.post("/v1/admin/grants", {"kind": "points", "reason": "bench", "default_points": POINTS}).json()
            text = "member_id,row_id\n" + "".join(f"{m},r{n}\n" for n, m in enumerate(member_ids))
            assert requests.put(created["upload"]["url"], data=text.encode(), timeout=120).status_code == 200

            recorder.start()
            began = time.perf_counter()
            assert api.post(f"/v1/admin/grants/{created['batch_id']}/start", {}).status == 202
            drain_queue(job_worker, queue_url(), boto3.client("sqs"))
            seconds = time.perf_counter() - began
            calls = recorder.stop()
            status = api.get(f"/v1/admin/grants/{created['batch_id']}").json()
            assert status["status"] == "done", status
    finally:
        recorder.uninstall()
        clear_caches()
    writes = [c for c in calls if c.service == "dynamodb" and c.operation in WRITES]
    return GrantResult(
        rows=rows, seconds=seconds, write_calls=len(writes), wru=sum(c.wru + c.gsi_wru for c in writes), granted=int(status["progress"]["granted"])
    )


def rows(result: GrantResult) -> list[tuple[str, str, str, str, str, str, str, str]]:
    verdict = "PASS" if result.granted == result.rows else "FAIL"
    detail = (
        f"{result.rows:,} points rows in {result.seconds:.1f} s over moto in process: {result.rows / result.seconds:.0f} rows/s "
        f"(a row is one transaction; parts run one at a time); {result.write_calls:,} write calls; "
        f"{result.wru / result.rows:.1f} WRU a row (~${result.usd_per_million_rows:.2f} of on-demand writes per million rows)"
    )
    return [
        ("Bulk grants: rows per second", "(report)", f"{result.rows / result.seconds:.0f} rows/s", verdict, detail, "", "", ""),
        ("Bulk grants: DynamoDB write calls per row", "(report)", f"{result.calls_per_row:.3f}", verdict, "", "", "", ""),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=ROWS)
    measured = measure(parser.parse_args().rows)
    for row in rows(measured):
        print(" | ".join(row[:5]))
