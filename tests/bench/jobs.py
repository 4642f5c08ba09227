"""The scheduled jobs at scale: cost grows with the work, not with the table.

For each size, a fresh moto table (`mock_aws`, in process) is seeded with
members as raw DynamoDB items, written with `batch_write_item` 25 at a time in
the attribute format the PynamoDB models write, plus one points Lot item per
member. About 1% of the members are due for each job on `as_of` (disjoint
sets); the other 99% are spread over other days and index buckets. Each job
then runs as `make job` runs it (`localstage.job.run`: the scheduled
function with a console payload, then the SQS queue drained through the
worker), and every DynamoDB call it makes is counted by the recorder (the
seeding is not).

"Table items read" are the items a call returned from the table: members from
BatchGetItem, GetItem and Query results (the run summary's JobRun included).
Entries read from the KEYS_ONLY job indexes are reported apart, with their
read units: an index entry is a few dozen bytes of keys, not an item.

    .venv/bin/python -m tests.bench.jobs [--job-sizes 2000,20000]
"""

from __future__ import annotations

import argparse
import calendar
import contextlib
import hashlib
import io
import random
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from localstage.aws import light_transaction_snapshots, untracked_models

from .markdown import markdown_table
from .progress import stderr_progress
from .recorder import Call, DynamoDBCalls, Recorder

JOB_NAMES = ("expire-points", "birthday-bonus", "reengagement", "tier-review", "release-pending-points")
DEFAULT_SIZES = (2_000, 20_000)  # issue 6; `--job-sizes` / `make bench JOB_SIZES=` to change
DUE_SHARE = 100  # one member in DUE_SHARE is due for each job
RATIO_TARGET = 1.2
BATCH_WRITE = 25  # DynamoDB's limit per BatchWriteItem
PYNAMODB_DATETIME = "%Y-%m-%dT%H:%M:%S.%f+0000"  # UTCDateTimeAttribute's stored format
KEYS_ONLY_INDEXES = frozenset({"lots_by_expiry", "members_by_birthday", "members_by_anniversary", "members_by_activity", "members_by_release"})

# Which members are due for which job: member number % DUE_SHARE.
DUE_SLOT = {"birthday-bonus": 0, "reengagement": 1, "tier-review": 2, "expire-points": 3, "release-pending-points": 4}
# Members with points pending for a later day (release-pending-points reads only the due day's buckets).
PENDING_LATER_SLOTS = range(10, 15)


@dataclass
class JobMeasured(DynamoDBCalls):
    job: str
    size: int  # members in the table
    table_items: int  # everything in the table (members, lots, bootstrap items)
    due: int  # members seeded as due for this job
    as_of: str
    summary: dict[str, Any]
    calls: list[Call] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""

    @property
    def acted(self) -> int:
        return int(self.summary.get("members_affected", 0))

    def _read_items(self) -> Iterator[tuple[Call, Any]]:
        for call in self.dynamodb:
            if call.operation in ("GetItem", "BatchGetItem", "TransactGetItems", "Query", "Scan"):
                for item in call.items:
                    if item.size:  # a missing item (or an empty query) returned nothing
                        yield call, item

    @property
    def items_read(self) -> int:
        """Table items returned (KEYS_ONLY index entries excluded)."""
        return sum(1 for call, _ in self._read_items() if call.index not in KEYS_ONLY_INDEXES)

    @property
    def items_read_by_entity(self) -> Counter[str]:
        return Counter(item.entity for call, item in self._read_items() if call.index not in KEYS_ONLY_INDEXES)

    @property
    def index_entries(self) -> int:
        return sum(1 for call, _ in self._read_items() if call.index in KEYS_ONLY_INDEXES)

    @property
    def index_rru(self) -> float:
        return sum(c.rru for c in self.dynamodb if c.index in KEYS_ONLY_INDEXES)

    @property
    def dynamodb_seconds(self) -> float:
        return sum(c.seconds for c in self.dynamodb)

    @property
    def ratio(self) -> float | None:
        return self.items_read / self.acted if self.acted else None

    @property
    def verdict(self) -> str:
        if self.error:
            return "ERROR"
        if self.acted != self.due:
            return f"ERROR (acted on {self.acted}, {self.due} due)"
        if self.ratio is None:
            return "report"
        return "PASS" if self.ratio <= RATIO_TARGET else "OVER"

    def _kind(self, c: Call) -> str:
        if c.index:
            return f"Query[{c.index}]"
        if c.operation in ("GetItem", "PutItem", "UpdateItem", "DeleteItem") and c.items:
            return f"{c.operation}({c.items[0].entity})"
        return c.operation

    def seconds_by_kind(self) -> list[tuple[str, int, float]]:
        """(kind, calls, seconds in them) of the DynamoDB calls, most time first."""
        calls: Counter[str] = Counter()
        seconds: dict[str, float] = {}
        for c in self.dynamodb:
            kind = self._kind(c)
            calls[kind] += 1
            seconds[kind] = seconds.get(kind, 0.0) + c.seconds
        return sorted(((k, calls[k], seconds[k]) for k in calls), key=lambda t: -t[2])

    def round_trip_detail(self) -> str:
        """The DynamoDB calls grouped by kind, most frequent first."""
        kinds = Counter(self._kind(c) for c in self.dynamodb)
        text = " + ".join(f"{n} {k}" for k, n in kinds.most_common())
        others = Counter(f"{c.service}.{c.operation}" for c in self.calls if c.service != "dynamodb")
        if others:
            text += "; other AWS: " + ", ".join(f"{n} {k}" for k, n in others.most_common())
        return text


@dataclass
class SizeRun:
    size: int
    table_items: int
    seed_seconds: float
    seed_calls: int
    results: list[JobMeasured]


# --- the seeded population -----------------------------------------------------------


def as_of_date(today: date) -> date:
    """The first of the current month (program time zone): lots expire on the first of a month."""
    return today.replace(day=1)


def _member_id(n: int) -> str:
    return "mbr_" + hashlib.blake2b(f"bench-{n}".encode(), digest_size=8).hexdigest()


def _month(day: date, back: int) -> str:
    index = day.year * 12 + day.month - 1 - back
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _month_day(day: date) -> str:
    return f"{day.month:02d}-{day.day:02d}"


def _other_day(rng: random.Random, start: date, days: int, avoid: set[str]) -> date:
    """A random day in [start, start + days) whose month-day is not in `avoid` and is not 29 February."""
    while True:
        day = start + timedelta(days=rng.randrange(days))
        if _month_day(day) not in avoid and _month_day(day) != "02-29":
            return day


def member_items(n: int, as_of: date, shards: int) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """Member `n` as raw items (Member, Lot) and the job it is due for (or None)."""
    from chalicelib.domain.lifecycle import lifecycle_stage
    from chalicelib.domain.points import lot_expires_on
    from chalicelib.domain.rules import DEFAULT_RULES as RULES
    from chalicelib.store import keys

    rng = random.Random(n)
    member_id = _member_id(n)
    shard = keys.shard_of(member_id, shards)
    slot = n % DUE_SHARE
    due = next((job for job, s in DUE_SLOT.items() if s == slot), None)
    today_md = _month_day(as_of)
    celebrated = {today_md} | ({"02-29"} if today_md == "02-28" and not calendar.isleap(as_of.year) else set())

    # Birthday: today for the birthday job's 1%, any other day of the year for everyone else.
    if due == "birthday-bonus":
        birthday = date(1992, as_of.month, as_of.day)  # a leap year: every month-day exists
    else:
        birthday = _other_day(rng, date(1992, 1, 1), 366, celebrated).replace(year=rng.randrange(1960, 2006))
    # Last activity: exactly 30 days ago for the reengagement job's 1%; never 30, 60 or 90 days ago otherwise.
    windows = set(RULES.reengagement_windows)
    idle = 30 if due == "reengagement" else rng.choice([d for d in range(0, 366) if d not in windows])
    last_activity = as_of - timedelta(days=idle)
    # Joined: this month-day two years ago for the tier review's 1%; another day before the last activity otherwise.
    other_day = _other_day(rng, last_activity - timedelta(days=1000), 1000, celebrated)
    joined = as_of.replace(year=as_of.year - 2) if due == "tier-review" else other_day
    created_at = datetime(joined.year, joined.month, joined.day, 4, 0, rng.randrange(60), rng.randrange(10**6), tzinfo=UTC)  # 12:00 local
    # One lot: expiring today for the expiry job's 1% (earned 13 months ago); otherwise earned in the last 12
    # months, so it expires 2 to 13 months from now (never today, nor 7 or 30 days from now: reminder days).
    lot_month = _month(as_of, 13 if due == "expire-points" else rng.randrange(0, 12))
    points = rng.randrange(50, 5_000)
    expires_on = lot_expires_on(lot_month, RULES.points_validity_months).isoformat()
    tier = "gold" if due == "tier-review" else "member"  # no points in the window: gold drops to silver
    earned_months = {} if due == "tier-review" else {lot_month: points}
    stage = lifecycle_stage(RULES, joined, last_activity, True, as_of)

    phone = f"+86138{n:08d}"
    pk = keys.member_pk(member_id)
    member: dict[str, Any] = {
        "pk": {"S": pk},
        "sk": {"S": keys.PROFILE},
        "type": {"S": "Member"},
        "member_id": {"S": member_id},
        "phone": {"S": phone},
        "phone_key": {"S": phone},
        "name": {"S": f"会员{n}"},
        "birthday": {"S": birthday.isoformat()},
        "birthday_bucket": {"S": keys.birthday_bucket(_month_day(birthday), shard)},
        "status": {"S": "active"},
        "tier": {"S": tier},
        "balance": {"N": str(points)},
        "lifetime_earned": {"N": str(points + 100)},
        "lots": {"M": {lot_month: {"N": str(points)}}},
        "earned_months": {"M": {m: {"N": str(p)} for m, p in earned_months.items()}},
        "consents": {"M": {"sms_marketing": {"BOOL": True}, "email_marketing": {"BOOL": False}, "push": {"BOOL": False}}},
        "code_channel": {"S": "sms"},
        "referral_code": {"S": hashlib.blake2b(member_id.encode(), digest_size=4).hexdigest().upper()},
        "created_at": {"S": created_at.strftime(PYNAMODB_DATETIME)},
        "activated_at": {"S": (created_at + timedelta(minutes=2)).strftime(PYNAMODB_DATETIME)},
        "last_activity_on": {"S": last_activity.isoformat()},
        "activity_bucket": {"S": keys.activity_bucket(last_activity.isoformat(), shard)},
        "anniversary_bucket": {"S": keys.anniversary_bucket(_month_day(joined), shard)},
        "has_purchased": {"BOOL": True},
        "lifecycle": {"S": stage},
        "notices": {"M": {}},
        "marketing_sent": {"L": []},
        "version": {"N": "1"},
    }
    # Pending points (a 7-day return window): due today for the release job's 1%, a later day for 5%.
    if due == "release-pending-points" or slot in PENDING_LATER_SLOTS:
        release_on = (as_of if due else as_of + timedelta(days=1 + rng.randrange(6))).isoformat()
        held = rng.randrange(10, 1_000)
        member["pending_points"] = {"N": str(held)}
        member["pending"] = {"M": {release_on: {"N": str(held)}}}
        member["release_bucket"] = {"S": keys.release_bucket(release_on, shard)}
    lot = {
        "pk": {"S": pk},
        "sk": {"S": keys.lot_sk(lot_month)},
        "type": {"S": "Lot"},
        "member_id": {"S": member_id},
        "month": {"S": lot_month},
        "earned": {"N": str(points)},
        "expires_on": {"S": expires_on},
        "expiry_bucket": {"S": keys.expiry_bucket(expires_on, shard)},
        "expiry_member": {"S": keys.expiry_member(member_id, lot_month)},
    }
    return member, lot, due


def seed(client: Any, table_name: str, size: int, as_of: date, shards: int) -> tuple[Counter[str], int]:
    """Write `size` members and their lots, 25 items per BatchWriteItem; returns (due per job, calls)."""
    due: Counter[str] = Counter()
    pending: list[dict[str, Any]] = []
    calls = 0

    def flush(batch: list[dict[str, Any]]) -> None:
        nonlocal calls
        request = {table_name: [{"PutRequest": {"Item": item}} for item in batch]}
        while request:
            calls += 1
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}

    for n in range(size):
        member, lot, job = member_items(n, as_of, shards)
        if job:
            due[job] += 1
        pending += [member, lot]
        while len(pending) >= BATCH_WRITE:
            flush(pending[:BATCH_WRITE])
            del pending[:BATCH_WRITE]
    if pending:
        flush(pending)
    return due, calls


# --- moto's transactions --------------------------------------------------------------


# --- running the jobs ----------------------------------------------------------------


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Keep the table readable: with POWERTOOLS_METRICS_DISABLED, powertools never clears its
    metric set, warns on every flush, and prints the set to stdout once a metric has 100 values."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        yield


def measure_jobs(
    recorder: Recorder, sizes: tuple[int, ...] = DEFAULT_SIZES, progress: Callable[[str], None] | None = None
) -> tuple[list[SizeRun], str]:
    """Seed each size in a fresh `mock_aws` and run every job; `recorder` must be installed first."""
    import boto3
    from moto import mock_aws

    from chalicelib.domain.clock import today_in, utcnow
    from chalicelib.domain.rules import DEFAULT_RULES
    from chalicelib.settings import get_settings
    from chalicelib.store.parameters import clear_caches
    from chalicelib.usecases.merchants import forget_cached_keys
    from localstage.bootstrap import bootstrap
    from localstage.job import run

    say = progress or (lambda _m: None)
    settings = get_settings()
    as_of = as_of_date(today_in(DEFAULT_RULES.zone, utcnow()))
    runs: list[SizeRun] = []
    for size in sizes:
        with mock_aws(), light_transaction_snapshots(), untracked_models():
            clear_caches()
            forget_cached_keys()
            session = boto3.Session()
            bootstrap(settings, session)
            from chalicelib.observability import logger

            logger.setLevel("WARNING")
            # Warm-up on the empty table (not measured): first-use imports, the rules, the queue URL,
            # as a warm Lambda container has them.
            for job in JOB_NAMES:
                with quiet():
                    run(job, as_of.isoformat(), False)
            client = session.client("dynamodb")
            started = time.perf_counter()
            due, seed_calls = seed(client, settings.table_name, size, as_of, settings.index_shards)
            seed_seconds = time.perf_counter() - started
            table_items = int(client.describe_table(TableName=settings.table_name)["Table"]["ItemCount"])
            say(f"jobs at {size:,} members: seeded {table_items:,} items in {seed_seconds:.1f} s ({seed_calls} BatchWriteItem)")
            results = []
            for job in JOB_NAMES:
                recorder.start()
                began = time.perf_counter()
                error = ""
                try:
                    with quiet():
                        summary = run(job, as_of.isoformat(), False)
                except Exception as exc:  # report it in the table, keep measuring the rest
                    summary, error = {}, f"{type(exc).__name__}: {exc}"
                seconds = time.perf_counter() - began
                calls = recorder.stop()
                if "error" in summary:
                    error = str(summary["error"])
                results.append(JobMeasured(job, size, table_items, due[job], as_of.isoformat(), summary, calls, seconds, error))
                say(f"  {job}: acted on {results[-1].acted}, {results[-1].round_trips} round trips, {seconds:.1f} s")
            runs.append(SizeRun(size, table_items, seed_seconds, seed_calls, results))
        clear_caches()
        forget_cached_keys()
    return runs, as_of.isoformat()


# --- reporting -----------------------------------------------------------------------

HEADER = (
    "Job",
    "Members",
    "Acted on",
    "Table items read",
    "Read / acted",
    "Verdict",
    "Index entries read (RRU)",
    "DynamoDB round trips",
    "RRU",
    "WRU",
    "Wall time",
    "in DynamoDB calls (moto)",
    "outside them (app)",
)


def _ratio(m: JobMeasured) -> str:
    return f"{m.ratio:.2f}" if m.ratio is not None else "n/a"


def rows(runs: list[SizeRun]) -> list[tuple[str, ...]]:
    out = []
    for job in JOB_NAMES:
        for r in runs:
            m = next(x for x in r.results if x.job == job)
            out.append(
                (
                    job,
                    f"{m.size:,}",
                    f"{m.acted:,} of {m.due:,} due",
                    f"{m.items_read:,}",
                    _ratio(m),
                    m.verdict,
                    f"{m.index_entries:,} ({m.index_rru:g})",
                    f"{m.round_trips:,}",
                    f"{m.rru:g}",
                    f"{m.wru:g}",
                    f"{m.seconds:.2f} s",
                    f"{m.dynamodb_seconds:.2f} s",
                    f"{m.seconds - m.dynamodb_seconds:.2f} s",
                )
            )
    return out


def table(runs: list[SizeRun]) -> str:
    return markdown_table(HEADER, rows(runs))


def detail(runs: list[SizeRun]) -> str:
    """Per job and size: what the items read were, and the round trips by kind."""
    lines = [
        "| Job | Members | Table items read, by entity | DynamoDB round trips, by kind | Time in DynamoDB calls, by kind | The job's summary |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for job in JOB_NAMES:
        for r in runs:
            m = next(x for x in r.results if x.job == job)
            entities = ", ".join(f"{n:,} {e}" for e, n in m.items_read_by_entity.most_common()) or "none"
            what = m.error or m.round_trip_detail()
            times = "; ".join(f"{kind} {seconds:.2f} s ({seconds / n * 1000:.0f} ms each)" for kind, n, seconds in m.seconds_by_kind())
            lines.append(f"| {job} | {m.size:,} | {entities} | {what} | {times or 'none'} | {_summary_text(m.summary)} |")
    return "\n".join(lines)


def _summary_text(summary: dict[str, Any]) -> str:
    if not summary or "error" in summary:
        return str(summary.get("error", "none"))
    skipped = ", ".join(f"{k} {v:,}" for k, v in summary.get("messages_skipped", {}).items()) or "none"
    return (
        f"examined {summary.get('members_examined', 0):,}, affected {summary.get('members_affected', 0):,}, "
        f"points moved {summary.get('points_moved', 0):,}, messages sent {summary.get('messages_sent', 0):,} / deferred "
        f"{summary.get('messages_deferred', 0):,}, skipped: {skipped}; index entries {summary.get('index_entries_read', 0):,}, "
        f"round_trips {summary.get('round_trips', 0):,}"
    )


def seeding(runs: list[SizeRun]) -> str:
    return "; ".join(f"{r.size:,} members: {r.table_items:,} items in {r.seed_calls:,} BatchWriteItem calls, {r.seed_seconds:.1f} s" for r in runs)


def findings(runs: list[SizeRun]) -> list[str]:
    notes = []
    for r in runs:
        for m in r.results:
            if m.error:
                notes.append(f"`{m.job}` at {m.size:,} members failed: {m.error}")
            elif m.verdict != "PASS":
                notes.append(f"`{m.job}` at {m.size:,} members: {m.verdict}; read {m.items_read} table items for {m.acted} acted on.")
            reported = m.summary.get("index_entries_read")
            if reported is not None and reported != m.index_entries:
                notes.append(f"`{m.job}` at {m.size:,} members: its summary says {reported} index entries read, the recorder saw {m.index_entries}.")
            if m.summary.get("retried_alone") or m.summary.get("dead_lettered"):
                notes.append(
                    f"`{m.job}` at {m.size:,} members: {m.summary.get('retried_alone')} members retried alone, "
                    f"{m.summary.get('dead_lettered')} units dead-lettered."
                )
    return notes


def _growth(runs: list[SizeRun]) -> list[str]:
    """Per job, smallest size against largest: what grew, and by how much."""
    if len(runs) < 2:
        return []
    small, large = runs[0], runs[-1]
    lines = []
    for job in JOB_NAMES:
        a = next(x for x in small.results if x.job == job)
        b = next(x for x in large.results if x.job == job)
        if a.error or b.error:
            continue
        lines.append(
            f"`{job}`: members x{b.size / a.size:g}, acted on {a.acted:,} -> {b.acted:,}, table items read {a.items_read:,} -> "
            f"{b.items_read:,}, round trips {a.round_trips:,} -> {b.round_trips:,} "
            f"({b.round_trips - a.round_trips:+,} for {b.acted - a.acted:+,} members acted on), time outside DynamoDB calls "
            f"{a.seconds - a.dynamodb_seconds:.2f} s -> {b.seconds - b.dynamodb_seconds:.2f} s, in them {a.dynamodb_seconds:.2f} s -> "
            f"{b.dynamodb_seconds:.2f} s."
        )
    return lines


def query_seconds(run: SizeRun) -> tuple[int, float]:
    """(Queries, mean seconds per Query) over every job at one table size."""
    times = [c.seconds for m in run.results for c in m.dynamodb if c.operation == "Query"]
    return len(times), (sum(times) / len(times) if times else 0.0)


def _transactions(run: SizeRun) -> int:
    return sum(1 for m in run.results for c in m.dynamodb if c.operation == "TransactWriteItems")


def _moto_query(runs: list[SizeRun]) -> str:
    sizes = [f"{seconds:.2f} s at {r.size:,} members ({r.table_items:,} items)" for r in runs for count, seconds in [query_seconds(r)] if count]
    if not sizes:
        return ""
    largest = runs[-1]
    in_calls = sum(m.dynamodb_seconds for m in largest.results)
    in_queries = sum(c.seconds for m in largest.results for c in m.dynamodb if c.operation == "Query")
    share = in_queries / in_calls if in_calls else 0.0
    return (
        f"A Query took on average {', '.join(sizes)}; at {largest.size:,} members the Queries were {share:.0%} of the time "
        "in DynamoDB calls (by kind, in the last table below). The cause is moto's `Table.query`: it first calls "
        "`Table.all_items()`, which sorts every item of the table "
        "by its keys with Python-level comparisons (`DynamoType.__lt__`, O(n log n)), and only then keeps the queried "
        "partition or index bucket; that holds for an index Query and for a one-partition table Query alike, where "
        "DynamoDB reads only the queried partition. So moto's time grows with the table, the app's with the work. "
    )


def markdown(runs: list[SizeRun], as_of: str) -> list[str]:
    """The section of docs/performance.md."""
    sizes = ", ".join(f"{r.size:,}" for r in runs)
    parts = [
        "## Scheduled jobs at scale",
        "",
        f"Members in the table: {sizes}; about 1% due for each job on {as_of} (`--job-sizes` to change the sizes). "
        f"Verdict: PASS when table items read / members acted on <= {RATIO_TARGET} and every due member was acted on "
        "(a job that scanned the table would read ~100 items per member acted on).",
        "",
        markdown_table(HEADER, rows(runs)),
        "",
        "**Items read.** *Table items read* counts the items DynamoDB returned from the table: the members from "
        "BatchGetItem, and any GetItem/Query result (here only the summary's JobRun GetItem: one item per run, "
        "whatever the size, so it weighs most at the smallest size). Entries read from the sparse KEYS_ONLY job indexes "
        "(`lots_by_expiry`, `members_by_*`) are not counted there: they are reported apart, with their read units in "
        "brackets (an entry is its keys, a few dozen bytes; a Query sums them before rounding up to 4 KB, and a query "
        "that finds nothing still costs 0.5 RRU). RRU and WRU are for the whole run, computed from item sizes as above "
        "(the WRU include the index writes).",
        "",
        "**Round trips.** Per run, a fixed part: one Query per index bucket and shard (8 shards: 8 for birthday-bonus "
        "and tier-review; 24 for expire-points, which also reads the 7- and 30-day reminder buckets, and for "
        "reengagement, with its 30/60/90-day windows), the JobRun PutItem, one JobRun UpdateItem per unit and one "
        "GetItem for the summary. Then one BatchGetItem per unit that found members (up to 100 keys each), and one "
        "TransactWriteItems per member acted on. So the round trips grow with the members acted on, and not at all "
        "with the members that are not due. (The `round_trips` in the job's own summary counts only its reads, the "
        "index queries and the BatchGetItem calls: the recorder's count is the full one.)",
        "",
        *[f"- {line}" for line in _growth(runs)],
        "",
        "**Wall time.** Each job runs in process as `make job` runs it (`localstage.job.run`: the scheduled "
        "function with a console payload, then the SQS queue drained through the worker in batches of 10) under moto's "
        "`mock_aws`, after one unmeasured warm-up run of every job on the empty table (imports, rules, queue URL). "
        "*In DynamoDB calls* is the time from botocore's `before-call` to `after-call`, most of it moto's; "
        "*outside them* is the app's own work (planning, SQS, deciding, building requests). "
        + _moto_query(runs)
        + "moto's TransactWriteItems also deep-copies the whole table once per item of each transaction (to roll back a "
        "cancelled one); the bench makes that copy share what the transaction does not touch "
        "(`light_transaction_snapshots`, `localstage/aws.py`, used by the local stack): without that, a 4-item transaction took 16-20 s at "
        "20,000 items when this was found (tens of ms with it: by kind, below), and the "
        f"{_transactions(runs[-1]) if runs else 0:,} transactions of the {runs[-1].size if runs else 0:,}-member run would "
        "take hours. The requests and the answers are unchanged.",
        "",
        f"**Seeding** (not counted): {seeding(runs)}. Members are written as raw items with BatchWriteItem, 25 per call, "
        "in the format the PynamoDB models write (`type` Member, `MEMBER#<id>`/`PROFILE`, `created_at` as "
        "`%Y-%m-%dT%H:%M:%S.%f+0000`, `version` 1, the maps and lists, the three sparse bucket attributes), each with "
        "one Lot item. Due: member n % 100 == 0 has a birthday on the date, 1 was last active exactly 30 days before "
        "it, 2 joined on that month-day two years before as a gold member with no qualifying points (the review moves "
        "it down to silver), 3 has a lot expiring on it (lots expire on the first of a month, hence the date). The "
        "others have birthdays and anniversaries on other days, last activity on other days (never 30, 60 or 90 days "
        "before), and lots expiring 2 to 13 months later (never on a reminder day). Every member consents to SMS "
        "marketing, so every due member gets a message and counts as acted on.",
        "",
        "Table items read and round trips, by kind:",
        "",
        detail(runs),
        "",
    ]
    notes = findings(runs)
    if notes:
        parts += ["Findings:", "", *[f"- {n}" for n in notes], ""]
    return parts


def parse_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s.replace("_", "")) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError("sizes are whole numbers separated by commas, e.g. 2000,20000") from None
    if not sizes or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError("give at least one size, each at least 1")
    return sizes


def main(argv: list[str] | None = None) -> int:
    import tests.conftest  # noqa: F401  (the test environment, before the app is imported)

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--job-sizes", type=parse_sizes, default=DEFAULT_SIZES, help="members per table, comma-separated (default 2000,20000)")
    args = parser.parse_args(argv)
    progress = stderr_progress("bench")

    recorder = Recorder()
    recorder.install()
    try:
        runs, as_of = measure_jobs(recorder, args.job_sizes, progress)
    finally:
        recorder.uninstall()
    print(f"as_of {as_of}; seeding: {seeding(runs)}")
    print(table(runs))
    print()
    print(detail(runs))
    for note in findings(runs):
        print(f"- {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
