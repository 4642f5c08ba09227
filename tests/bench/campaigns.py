"""A campaign to 10,000 members: DynamoDB round trips and table items read per member reached,
in a table of 10,000 members and in one ten times larger (the audience the same 10,000).

For each size, a fresh moto table (`mock_aws`, in process) is seeded with members as raw items
(`batch_write_item`, 25 at a time, tests/bench/jobs.member_items: a member and a lot each) and the
audience is written to the analytics bucket as the analytics engine would (store/audiences.py).
The campaign (a message and 10 points) is created through the use case, and its units are done
as `make job` does them (localstage.job.drain_queue through the job worker); every DynamoDB call
from the create to the last unit is counted by the recorder. Quiet hours are switched off so
every consenting member is sent to.

    .venv/bin/python -m tests.bench.campaigns [--audience 1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from localstage.aws import light_transaction_snapshots, untracked_models

from .jobs import KEYS_ONLY_INDEXES, as_of_date, member_items, quiet, seed
from .recorder import Call, DynamoDBCalls, Recorder

AUDIENCE = 10_000
GROWTH = 10
RATIO_TARGET = 1.2


@dataclass
class CampaignMeasured(DynamoDBCalls):
    table_members: int
    audience: int
    results: dict[str, Any]
    calls: list[Call] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""

    @property
    def reached(self) -> int:
        return int(self.results.get("reached", 0))

    @property
    def items_read(self) -> int:
        reads = ("GetItem", "BatchGetItem", "TransactGetItems", "Query", "Scan")
        return sum(1 for c in self.dynamodb if c.operation in reads and c.index not in KEYS_ONLY_INDEXES for i in c.items if i.size)

    def per_member(self, value: int) -> float | None:
        return value / self.reached if self.reached else None

    @property
    def verdict(self) -> str:
        if self.error:
            return "ERROR"
        if self.reached != self.audience:
            return f"ERROR (reached {self.reached} of {self.audience})"
        trips, items = self.per_member(self.round_trips), self.per_member(self.items_read)
        return "PASS" if trips is not None and items is not None and trips <= RATIO_TARGET and items <= RATIO_TARGET else "OVER"


def measure(recorder: Recorder, audience: int = AUDIENCE, progress: Callable[[str], None] | None = None) -> list[CampaignMeasured]:
    """The campaign in a table of `audience` members, then of GROWTH times as many; `recorder` installed."""
    import boto3
    from moto import mock_aws

    from chalicelib.api.schemas.campaigns import CampaignRequest
    from chalicelib.domain.clock import today_in, utcnow
    from chalicelib.domain.rules import DEFAULT_RULES
    from chalicelib.jobs.handlers import job_worker
    from chalicelib.jobs.runner import queue_url
    from chalicelib.settings import get_settings
    from chalicelib.store import audiences
    from chalicelib.store.parameters import clear_caches
    from chalicelib.usecases import campaigns
    from chalicelib.usecases.merchants import forget_cached_keys
    from localstage.bootstrap import bootstrap
    from localstage.job import drain_queue

    say = progress or (lambda _m: None)
    settings = get_settings()
    as_of = as_of_date(today_in(DEFAULT_RULES.zone, utcnow()))
    rules = DEFAULT_RULES.model_copy(update={"quiet_hours_start": DEFAULT_RULES.quiet_hours_end})
    out: list[CampaignMeasured] = []
    for size in (audience, audience * GROWTH):
        with mock_aws(), light_transaction_snapshots(), untracked_models():
            clear_caches()
            forget_cached_keys()
            session = boto3.Session()
            bootstrap(settings, session, rules_json=rules.model_dump_json())
            from chalicelib.observability import logger

            logger.setLevel("WARNING")
            client = session.client("dynamodb")
            began = time.perf_counter()
            seed(client, settings.table_name, size, as_of, settings.index_shards)
            say(f"campaign: seeded {size:,} members in {time.perf_counter() - began:.1f} s")
            # Every tenth member of the table, up to `audience` of them: spread over the whole table.
            step = size // audience
            ids = [member_items(n, as_of, settings.index_shards)[0]["pk"]["S"].removeprefix("MEMBER#") for n in range(0, size, step)][:audience]
            now = datetime.now(UTC)
            audiences.write("seg_bench", ids, data_as_of=now, computed_at=now)
            request = CampaignRequest(name="bench", segment_id="seg_bench", message={"sms": "双十二"}, points=10)  # type: ignore[arg-type]
            recorder.start()
            began = time.perf_counter()
            error, results = "", {}
            try:
                with quiet():
                    created = campaigns.create_campaign(request, "bench")
                    drain_queue(job_worker, queue_url(), boto3.client("sqs"))
                    results = campaigns.campaign_details(created.body["campaign_id"])["results"] or {}
            except Exception as exc:  # report it, keep the rest
                error = f"{type(exc).__name__}: {exc}"
            seconds = time.perf_counter() - began
            calls = recorder.stop()
            measured = CampaignMeasured(size, len(ids), results, calls, seconds, error)
            out.append(measured)
            trips, items = measured.round_trips, measured.items_read
            say(f"  table {size:,}: reached {measured.reached:,}, {trips:,} round trips, {items:,} items read, {seconds:.1f} s")
        clear_caches()
        forget_cached_keys()
    return out


def _ratio(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "n/a"


def rows(measured: list[CampaignMeasured]) -> list[tuple[str, str, str, str, str, str, str, str]]:
    """Rows of docs/performance.md's table (tests/bench/run.py's HEADER)."""
    out = []
    for m in measured:
        kinds: dict[str, int] = {}
        for c in m.dynamodb:
            kinds[c.operation] = kinds.get(c.operation, 0) + 1
        detail = m.error or (
            f"table of {m.table_members:,} members; " + " + ".join(f"{n:,} {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
        )
        measured_text = (
            f"{_ratio(m.per_member(m.round_trips))} round trips, {_ratio(m.per_member(m.items_read))} items read per member reached "
            f"({m.reached:,} reached)"
        )
        out.append(
            (
                f"Campaign to {m.audience:,} members (table {m.table_members:,})",
                f"<= {RATIO_TARGET} each",
                measured_text,
                m.verdict,
                detail,
                f"{m.rru:g}",
                f"{m.wru:g}",
                "",
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    import tests.conftest  # noqa: F401  (the test environment: table names, no real AWS)

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--audience", type=int, default=AUDIENCE)
    args = parser.parse_args(argv)
    recorder = Recorder()
    recorder.install()
    try:
        measured = measure(recorder, args.audience, lambda m: print(m, file=sys.stderr, flush=True))
    finally:
        recorder.uninstall()
    for row in rows(measured):
        print(" | ".join(row))
    return 0 if all(m.verdict == "PASS" for m in measured) else 1


if __name__ == "__main__":
    sys.exit(main())
