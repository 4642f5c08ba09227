"""The analytics engine at scale (issue 15, "Performance and scale"): DuckDB over an export of
100,000 members and 1,000,000 ledger entries written directly in DynamoDB's export format
(gzipped DynamoDB JSON lines), a real export of 20,000 members through moto, and the cost of one
export and one day's refresh at 10 million members.

    .venv/bin/python -m tests.bench.analytics [--members 100000] [--ledger 1000000] [--export-members 20000]

prints the markdown section `make bench` puts in docs/performance.md (tests/bench/run.py).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from .markdown import markdown_table

AS_OF = date(2026, 11, 30)
FILES = 8  # data files, as DynamoDB writes several
# Prices, us-east-1 (2025 list prices; check the AWS price pages): DynamoDB export to S3 (full
# export, per GB of table size), Athena (per TB scanned, 10 MB minimum per query), S3 Standard.
USD_PER_GB_EXPORTED = 0.10
USD_PER_TB_SCANNED = 5.0
USD_PER_GB_MONTH_S3 = 0.023
USD_PER_1000_PUTS = 0.005
BRAND_MEMBERS = 10_000_000
BRAND_LEDGER = 100_000_000
KEPT_DAYS = 7  # exports and derived tables are kept a week (infra/analytics.py)


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _stamp(day: date, second: int) -> str:
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=second)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000000+0000")


def items(members: int, ledger: int, seed: int = 15) -> Iterator[dict[str, Any]]:
    """A brand's table in miniature: members, their orders (half of the ledger's entries are
    purchases), redemptions with their coupons, the rest welcome bonuses, adjustments and expiries."""
    rng = random.Random(seed)
    per_member = ledger // members
    stores = [f"store-{n:03d}" for n in range(50)]
    for reward_id, name, cost in (("coffee", "Coffee", 500), ("tote", "Tote bag", 2000)):
        keys = {"pk": _s("REWARD"), "sk": _s(f"REWARD#{reward_id}"), "type": _s("Reward")}
        yield {**keys, "reward_id": _s(reward_id), "name": _s(name), "points_cost": _n(cost)}
    for m in range(members):
        member_id = f"mbr_{m:012x}"
        joined = AS_OF - timedelta(days=rng.randint(0, 900))
        home = rng.choice(stores)
        balance, lots, last = 0, {}, None
        for e in range(per_member):
            day = min(AS_OF, joined + timedelta(days=rng.randint(0, max(0, (AS_OF - joined).days))))
            entry = f"{m:08d}{e:04d}"
            if e == 0:
                kind, points = "bonus", 100
            elif e % 2 == 1:
                amount = rng.choice((3_000, 5_000, 8_000, 12_000, 20_000, 45_000))
                store = home if rng.random() < 0.8 else rng.choice(stores)
                refunded = amount if rng.random() < 0.03 else 0
                yield {
                    "pk": _s(f"ORDER#o{entry}"),
                    "sk": _s("ORDER"),
                    "type": _s("Order"),
                    "order_id": _s(f"o{entry}"),
                    "member_id": _s(member_id),
                    "store_id": _s(store),
                    "merchant_store": _s(store),
                    "amount": _n(amount),
                    "refunded_amount": _n(refunded),
                    "currency": _s("CNY"),
                    "created_at": _s(_stamp(day, rng.randint(0, 86_399))),
                }
                kind, points = "earn", amount // 100
                last = max(last, day) if last else day
            elif rng.random() < 0.3 and balance >= 500:
                kind, points = "redeem", -500
                yield {
                    "pk": _s(f"MEMBER#{member_id}"),
                    "sk": _s(f"COUPON#C{entry}"),
                    "type": _s("Coupon"),
                    "member_id": _s(member_id),
                    "kind": _s("redemption"),
                    "reward_id": _s("coffee" if rng.random() < 0.8 else "tote"),
                    "status": _s("issued"),
                    "created_at": _s(_stamp(day, 43_200)),
                }
            else:
                kind, points = "adjust", rng.randint(1, 50)
            balance += points
            if points > 0:
                month = day.strftime("%Y-%m")
                lots[month] = lots.get(month, 0) + points
            yield {
                "pk": _s(f"MEMBER#{member_id}"),
                "sk": _s(f"PROFILE#LEDGER#{entry}"),
                "type": _s("LedgerEntry"),
                "entry_id": _s(entry),
                "kind": _s(kind),
                "points": _n(points),
                "balance_after": _n(balance),
                "created_at": _s(_stamp(day, 43_200)),
            }
        member: dict[str, Any] = {
            "pk": _s(f"MEMBER#{member_id}"),
            "sk": _s("PROFILE"),
            "type": _s("Member"),
            "member_id": _s(member_id),
            "phone": _s(f"+86139{m:08d}"),
            "status": _s("active" if rng.random() > 0.02 else "frozen"),
            "tier": _s(rng.choice(("member", "member", "member", "silver", "gold"))),
            "balance": _n(max(balance, 0)),
            "created_at": _s(_stamp(joined, 3_600)),
            "has_purchased": {"BOOL": last is not None},
            "consents": {"M": {"sms_marketing": {"BOOL": rng.random() < 0.6}, "email_marketing": {"BOOL": rng.random() < 0.3}}},
            "lots": {"M": {k: _n(v) for k, v in sorted(lots.items())[-13:]}},
        }
        if last:
            member["last_activity_on"] = _s(last.isoformat())
        if rng.random() < 0.5:
            member["birthday"] = _s(f"19{rng.randint(50, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}")
        if rng.random() < 0.05:
            member["operator_tags"] = {"SS": ["vip"]}
        yield member


@dataclass
class Generated:
    files: list[Path]
    lines: int
    raw_bytes: int  # the JSON lines, uncompressed (close to the table's size: DynamoDB JSON adds type tags)
    gz_bytes: int
    seconds: float


def generate(folder: Path, members: int, ledger: int) -> Generated:
    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    outs = [gzip.open(folder / f"part-{n:02d}.json.gz", "wt", encoding="utf-8", compresslevel=6) for n in range(FILES)]  # noqa: SIM115  (closed below)
    lines = raw = 0
    try:
        for n, item in enumerate(items(members, ledger)):
            line = json.dumps({"Item": item}, separators=(",", ":")) + "\n"
            outs[n % FILES].write(line)
            lines += 1
            raw += len(line)
    finally:
        for out in outs:
            out.close()
    files = sorted(folder.glob("*.json.gz"))
    return Generated(files, lines, raw, sum(f.stat().st_size for f in files), time.perf_counter() - started)


@dataclass
class EngineRun:
    build_seconds: float  # every derived table
    facts_rows: int
    facts_bytes: int
    queries: list[tuple[str, float, int]] = field(default_factory=list)  # name, seconds, rows
    peak_rss_mb: float = 0.0
    tables: list[tuple[str, float, int, int]] = field(default_factory=list)  # name, build seconds, rows, bytes


def measure_engine(generated: Generated, work: Path) -> EngineRun:
    from chalicelib.domain.analytics import unexpired_lot_months, window_start
    from chalicelib.store import analytics_sql as sql
    from chalicelib.store.analytics_engine import DuckDBEngine

    months = tuple(unexpired_lot_months(AS_OF, 12))
    params = sql.FactsParams(AS_OF, window_start(AS_OF, 12), "Asia/Shanghai", ("member", "silver", "gold"), 30, 60, 90, months)
    engine = DuckDBEngine(cache_root=work)
    files: dict[str, Path] = {}
    tables: list[tuple[str, float, int, int]] = []
    with engine._connect(generated.files) as connection:
        for name, select in sql.derived_selects(params).items():
            files[name] = work / f"{name}.parquet"
            started = time.perf_counter()
            connection.execute(f"COPY ({sql.duckdb_dialect(select)}) TO '{files[name]}' (FORMAT parquet)")
            seconds = time.perf_counter() - started
            [(count,)] = connection.execute(f"SELECT count(*) FROM read_parquet('{files[name]}')").fetchall()
            tables.append((name, seconds, count, files[name].stat().st_size))
    run = EngineRun(sum(t[1] for t in tables), tables[0][2], sum(t[3] for t in tables), tables=tables)
    statements: list[tuple[str, str, list[object]]] = [
        ("members, buyers, repeat rate, spend, liability", sql.MEMBER_KPIS, []),
        ("active members per tier", sql.ACTIVE_BY_TIER, []),
        ("active members per store", sql.ACTIVE_BY_STORE, []),
        ("lifecycle stage counts", sql.BY_LIFECYCLE_STAGE, []),
        ("value segment counts", sql.BY_VALUE_SEGMENT, []),
        ("new members per week", sql.NEW_MEMBERS_BY_WEEK, [AS_OF - timedelta(weeks=12), AS_OF]),
        ("points issued / redeemed (redemption rate)", sql.POINTS_FLOW, [params.window_start, AS_OF]),
        ("points expiry curve", sql.EXPIRY_CURVE, []),
        ("top rewards", sql.TOP_REWARDS, [params.window_start, AS_OF]),
        ("one member's scores", sql.MEMBER_ANALYTICS, ["mbr_000000000001"]),
        ("high-value members idle 60 days (a segment)", _HIGH_VALUE_IDLE, [AS_OF - timedelta(days=60)]),
    ]
    with engine._connect([], {name: [path] for name, path in files.items()}) as connection:
        for name, statement, args in statements:
            started = time.perf_counter()
            rows = connection.execute(sql.duckdb_dialect(statement), args).fetchall()
            run.queries.append((name, time.perf_counter() - started, len(rows)))
    run.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return run


_HIGH_VALUE_IDLE = "SELECT count(*) AS n FROM member_facts WHERE value_segment = 'high_value' AND last_purchase_on < ?"


@dataclass
class ExportRun:
    members: int
    items: int
    seconds: float
    gz_bytes: int
    error: str | None = None


def measure_export(members: int) -> ExportRun:
    """A real export through moto (mock_aws): the table seeded with `members` members and a purchase
    each (batch writes), then ExportTableToPointInTime until COMPLETED."""
    import boto3
    from moto import mock_aws

    from chalicelib.settings import get_settings
    from chalicelib.store import table_exports
    from localstage.aws import untracked_models
    from localstage.bootstrap import bootstrap

    with mock_aws(), untracked_models():
        settings = get_settings()
        bootstrap(settings, boto3.Session())
        client = boto3.client("dynamodb")
        batch: list[dict[str, Any]] = []
        count = 0
        for item in items(members, members * 2):
            batch.append({"PutRequest": {"Item": item}})
            count += 1
            if len(batch) == 25:
                client.batch_write_item(RequestItems={settings.table_name: batch})
                batch = []
        if batch:
            client.batch_write_item(RequestItems={settings.table_name: batch})
        started = time.perf_counter()
        now = datetime.now(UTC)
        export = table_exports.start_export(table_exports.new_export_id(now), now)
        while table_exports.export_status(export.export_arn) == "IN_PROGRESS":
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        status = table_exports.export_status(export.export_arn)
        s3 = boto3.client("s3")
        size = sum(s3.head_object(Bucket=settings.analytics_bucket, Key=k)["ContentLength"] for k in table_exports.data_files(export.export_id))
        return ExportRun(members, count, seconds, size, None if status == "COMPLETED" else status)


@dataclass
class BrandCost:
    table_gb: float
    export_gz_gb: float
    facts_gb: float
    export_usd: float
    athena_usd: float
    s3_usd_per_day: float

    @property
    def day_usd(self) -> float:
        return self.export_usd + self.athena_usd + self.s3_usd_per_day


def brand_cost(generated: Generated, engine: EngineRun, members: int, ledger: int) -> BrandCost:
    """Scaled from the generated export (its size per member at the same ledger entries per member,
    10 per member as at the brand's 100 million). DynamoDB bills an export by the table's size,
    taken as the export's uncompressed JSON less the type tags (~15 %); Athena bills compressed
    bytes read: each derived table's build (member_facts, ledger_days, lot_balances) reads the export
    once, the eleven KPIs read the derived tables (Parquet, a few MB)."""
    scale = (BRAND_MEMBERS / members + BRAND_LEDGER / ledger) / 2
    gb = 1024**3
    table_gb = generated.raw_bytes * 0.85 * scale / gb
    gz_gb = generated.gz_bytes * scale / gb
    facts_gb = engine.facts_bytes * (BRAND_MEMBERS / members) / gb
    export_reads, fact_reads = 3, 11
    scanned_tb = (export_reads * gz_gb + fact_reads * facts_gb) / 1024
    athena = max(scanned_tb, 11 * 10 / 1024**2) * USD_PER_TB_SCANNED
    kept_gb = (gz_gb + facts_gb) * KEPT_DAYS  # a week of exports and derived tables
    s3_day = kept_gb * USD_PER_GB_MONTH_S3 / 30 + (FILES * 20 + 100) * USD_PER_1000_PUTS / 1000
    return BrandCost(table_gb, gz_gb, facts_gb, table_gb * USD_PER_GB_EXPORTED, athena, s3_day)


@dataclass
class AnalyticsBench:
    generated: Generated
    engine: EngineRun
    export: ExportRun | None
    cost: BrandCost
    members: int
    ledger: int


def measure(members: int = 100_000, ledger: int = 1_000_000, export_members: int = 20_000, progress: Callable[[str], None] = print) -> AnalyticsBench:
    work = Path(tempfile.mkdtemp(prefix="huiyuan-analytics-bench-"))
    try:
        progress(f"analytics: writing an export of {members:,} members and {ledger:,} ledger entries")
        generated = generate(work / "export", members, ledger)
        progress("analytics: member_facts and the KPIs with DuckDB")
        engine = measure_engine(generated, work)
        export = None
        if export_members:
            progress(f"analytics: a real export of {export_members:,} members through moto")
            try:
                export = measure_export(export_members)
            except Exception as exc:  # keep the rest of the report
                export = ExportRun(export_members, 0, 0.0, 0, f"{type(exc).__name__}: {exc}")
        return AnalyticsBench(generated, engine, export, brand_cost(generated, engine, members, ledger), members, ledger)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def markdown(bench: AnalyticsBench) -> list[str]:
    g, e, c = bench.generated, bench.engine, bench.cost
    rows = [(f"{name} build (COPY to Parquet)", f"{sec:.2f} s", f"{count:,} rows, {size / 1e6:.2f} MB") for name, sec, count, size in e.tables]
    rows += [("every derived table", f"{e.build_seconds:.2f} s", f"{e.facts_bytes / 1e6:.1f} MB")]
    rows += [(name, f"{seconds * 1000:.0f} ms", f"{count:,} rows") for name, seconds, count in e.queries]
    lines = [
        "## Analytics engine (DuckDB over a table export)",
        "",
        f"An export of {bench.members:,} members and {bench.ledger:,} ledger entries written directly in DynamoDB's export "
        f"format ({g.lines:,} items in {len(g.files)} gzipped DynamoDB JSON files, {g.raw_bytes / 1e6:.0f} MB of JSON, "
        f"{g.gz_bytes / 1e6:.0f} MB compressed; written in {g.seconds:.0f} s), as of {AS_OF}, read by the SQL of "
        "`chalicelib/store/analytics_sql.py` through DuckDB (2 threads). Peak memory of the process (RSS, Python and "
        f"DuckDB together): {e.peak_rss_mb:,.0f} MB.",
        "",
        markdown_table(("Step", "Time", "Result"), rows),
        "",
    ]
    x = bench.export
    if x is not None:
        if x.error:
            lines += [f"A real export of {x.members:,} members through moto: failed ({x.error}).", ""]
        else:
            lines += [
                f"A real export through moto (`ExportTableToPointInTime`, in-process `mock_aws`): {x.members:,} members, "
                f"{x.items:,} items, {x.gz_bytes / 1e6:.1f} MB compressed, COMPLETED in {x.seconds:.2f} s. In AWS an export "
                "takes minutes whatever the size (a fixed start-up), which is why the refresh checks it from a delayed queue "
                "message (docs/analytics.md).",
                "",
            ]
    scanned = f"{c.export_gz_gb:.1f} GB gz x3 + {c.facts_gb:.2f} GB x11"
    kept = f"{(c.export_gz_gb + c.facts_gb) * KEPT_DAYS:.1f} GB"
    lines += [
        f"Cost at {BRAND_MEMBERS:,} members and {BRAND_LEDGER:,} ledger entries (us-east-1 list prices: export "
        f"${USD_PER_GB_EXPORTED}/GB of table, Athena ${USD_PER_TB_SCANNED}/TB scanned, S3 ${USD_PER_GB_MONTH_S3}/GB-month), "
        "scaled from the generated export:",
        "",
        markdown_table(
            ("Item", "Size", "USD"),
            [
                ("One export (DynamoDB bills the table's size)", f"{c.table_gb:.1f} GB", f"{c.export_usd:.2f}"),
                ("Athena: 3 derived tables by CTAS over the export, 11 KPIs over them", scanned, f"{c.athena_usd:.2f}"),
                ("S3: a week of exports and derived tables kept, per day", kept, f"{c.s3_usd_per_day:.3f}"),
                ("One day's refresh, in all", "", f"{c.day_usd:.2f}"),
                ("A month of daily refreshes", "", f"{30 * c.day_usd:.0f}"),
            ],
        ),
        "",
        "Not included: an operator's member view in the cloud runs one Athena query on member_facts (10 MB minimum: "
        "$0.00005 each); the export does not consume the table's read capacity.",
        "",
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--ledger", type=int, default=1_000_000)
    parser.add_argument("--export-members", type=int, default=20_000)
    args = parser.parse_args()
    import tests.conftest  # noqa: F401  (the test environment: fake credentials, names)

    bench = measure(args.members, args.ledger, args.export_members, progress=lambda m: print(m, file=sys.stderr))
    print("\n".join(markdown(bench)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
