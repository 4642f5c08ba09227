"""Purchases per second through the real local stack, from a load generator on loopback.

The stack is the one `make run` serves and the e2e tests start
(`python -m localstage.stack` in a subprocess, a developer's environment,
a free port: `tests/e2e/conftest.py`): the Chalice app behind the local
gateway emulation, and moto's server as the AWS endpoint in the same process,
one AWS request at a time. Members are seeded straight into its table (the
jobs bench's raw items, BatchWriteItem). After one purchase to warm the
path, a bounded pool of client
threads, each with its own keep-alive session, sends `POST /v1/purchases` by
phone for a bounded time, every request a new order id for a member drawn at
random, so no one member's optimistic locking sets the pace; requests that
start in the first seconds are a warm-up and left out of the numbers. A second,
shorter phase sends every purchase to one member (the hot member), reported
apart. Every non-2xx answer, and every request that got no answer, is an
error.

Afterwards the stack's table is read back (one Scan, over the stack's AWS
endpoint) and every order checked: each order answered 2xx has one Order item
and exactly one ledger entry awarding the points the answer said; no order has
two; every member's balance equals their opening balance plus the sum of
their ledger, and their opening balance plus every order recorded for them.

    .venv/bin/python -m tests.bench.load [--seconds 30] [--warmup 5] [--clients 8]
        [--members 200] [--hot-seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from tests.support.stack import RunningStack, running_stack, set_sending_limits

from .progress import stderr_progress

ROOT = Path(__file__).resolve().parents[2]
MERCHANT_KEY = "local-dev-key"  # the local stage's merchant key (localstage/bootstrap.py)
DEFAULT_SECONDS = 30.0
DEFAULT_WARMUP = 5.0
DEFAULT_CLIENTS = 8
DEFAULT_MEMBERS = 200
DEFAULT_HOT_SECONDS = 10.0
TIMEOUT = 60.0  # per request: a contended purchase retries with backoff


@dataclass
class Member:
    phone: str
    member_id: str
    opening: int  # the balance as seeded


@dataclass
class Sample:
    started: float  # time.perf_counter() when the request was sent
    seconds: float
    status: int  # 0: no answer (connection error or timeout)
    order_id: str
    member: int  # index into the members
    points: int = 0  # points_earned of a 2xx answer
    error: str = ""  # the exception, when there was no answer


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1) of `values`."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, round(share * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Phase:
    label: str
    clients: int
    members: int  # members the purchases were spread over
    warmup: float
    window: float  # measured seconds (after the warm-up)
    samples: list[Sample] = field(default_factory=list)  # every request, warm-up included
    window_start: float = 0.0
    stack_cpu: float | None = None  # CPU seconds of the stack process over the window
    items_before: int = 0
    items_after: int = 0
    load_average: float = 0.0  # the machine's, 1 minute, when the window closed

    @property
    def measured(self) -> list[Sample]:
        """Requests sent after the warm-up (all of them finish: the clients wait for their last answer)."""
        return [s for s in self.samples if s.started >= self.window_start]

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.measured if 200 <= s.status < 300]

    @property
    def rate(self) -> float:
        return len(self.ok) / self.window if self.window else 0.0

    def latency_ms(self, share: float) -> float:
        return percentile([s.seconds * 1000 for s in self.measured], share)

    @property
    def errors(self) -> Counter[str]:
        """Non-2xx answers by status, and requests without an answer by exception (warm-up included)."""
        return Counter(str(s.status) if s.status else (s.error or "no answer") for s in self.samples if not 200 <= s.status < 300)

    @property
    def cpu_ms_per_purchase(self) -> float | None:
        return self.stack_cpu * 1000 / len(self.measured) if self.stack_cpu is not None and self.measured else None

    def rate_by_slice(self, slices: int = 3) -> list[float]:
        """Successful purchases per second in consecutive slices of the window (finished in each)."""
        width = self.window / slices
        counts = [0] * slices
        for s in self.ok:
            n = int((s.started + s.seconds - self.window_start) / width)
            counts[min(max(n, 0), slices - 1)] += 1
        return [c / width for c in counts]


@dataclass
class Audit:
    orders: int = 0  # orders sent
    answered: int = 0  # answered 2xx
    recorded: int = 0  # with an Order item
    awarded_once: int = 0  # answered 2xx, one Order item, exactly one ledger entry with the answer's points
    problems: list[str] = field(default_factory=list)
    recorded_without_success: int = 0  # the client saw an error, but the order was recorded (once)
    members_checked: int = 0
    table_items: int = 0
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.problems and self.awarded_once == self.answered


@dataclass
class LoadResult:
    phases: list[Phase]
    audit: Audit
    members: int
    seed_seconds: float
    clients: int
    error: str = ""

    def phase(self, label: str) -> Phase | None:
        return next((p for p in self.phases if p.label == label), None)


SPREAD, HOT = "spread", "hot member"


# --- the stack ------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (fields 14, 15)


def _item_count(stack: RunningStack) -> int:
    table = stack.dynamodb().describe_table(TableName=stack.table_name)["Table"]
    return int(table.get("ItemCount", 0))


# --- members --------------------------------------------------------------------------


def seed_members(stack: RunningStack, count: int) -> list[Member]:
    """`count` active members with points, written straight to the stack's table.

    The jobs bench's raw items (`jobs.member_items`: a Member in the format the
    PynamoDB models write, and one Lot), 25 per BatchWriteItem: enrolling through
    the API (signup, verify) runs at a few members a second here, and it is not
    what is measured. They have an opening balance and no ledger entries.
    """
    from . import jobs

    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    shards = int(config["environment_variables"]["INDEX_SHARDS"])
    as_of = jobs.as_of_date(date.today())
    jobs.seed(stack.dynamodb(), stack.table_name, count, as_of, shards)
    members = []
    for n in range(count):
        member, _lot, _due = jobs.member_items(n, as_of, shards)
        members.append(Member(member["phone"]["S"], member["member_id"]["S"], int(member["balance"]["N"])))
    return members


# --- load -----------------------------------------------------------------------------


def drive(
    stack: RunningStack,
    members: list[Member],
    pick: Callable[[random.Random], int],
    *,
    label: str,
    spread_over: int,
    clients: int,
    seconds: float,
    warmup: float,
) -> Phase:
    """`clients` threads send purchases until `warmup + seconds` have passed; each waits for its last answer."""
    import requests

    phase = Phase(label, clients, spread_over, warmup, seconds)
    url = stack.url("/v1/purchases")
    headers = {"x-api-key": MERCHANT_KEY}

    def send(session: Any, index: int, amount: int) -> None:
        order_id = f"load-{uuid.uuid4().hex}"
        body = {"order_id": order_id, "phone": members[index].phone, "amount": amount, "currency": "CNY", "store_id": "store-001"}
        sent = time.perf_counter()
        try:
            reply = session.post(url, json=body, headers=headers, timeout=TIMEOUT)
        except requests.RequestException as exc:
            phase.samples.append(Sample(sent, time.perf_counter() - sent, 0, order_id, index, error=type(exc).__name__))
            return
        took = time.perf_counter() - sent
        points = int(reply.json().get("points_earned", 0)) if 200 <= reply.status_code < 300 else 0
        phase.samples.append(Sample(sent, took, reply.status_code, order_id, index, points))

    if warmup > 0:
        # One purchase alone first: the first one through a fresh stack loads code paths (seconds).
        with requests.Session() as session:
            send(session, pick(random.Random(f"{label}-first")), 1_000)
    phase.window_start = time.perf_counter() + warmup
    end = phase.window_start + seconds
    marks: dict[str, Any] = {}

    def mark_window() -> None:
        # The stack's CPU time when the window opens.
        time.sleep(max(0.0, phase.window_start - time.perf_counter()))
        marks["cpu"] = cpu_seconds(stack.pid)

    def client(number: int) -> None:
        rng = random.Random(f"{label}-{number}")
        with requests.Session() as session:
            while time.perf_counter() < end:
                send(session, pick(rng), rng.randrange(100, 100_000))

    watcher = threading.Thread(target=mark_window, daemon=True)
    watcher.start()
    threads = [threading.Thread(target=client, args=(n,), name=f"load-{n}") for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    finished = time.perf_counter()
    watcher.join()
    # The window runs until the last answer: every request sent in it is counted.
    phase.window = finished - phase.window_start
    cpu = cpu_seconds(stack.pid)
    if cpu is not None and marks.get("cpu") is not None:
        phase.stack_cpu = cpu - marks["cpu"]
    phase.load_average = os.getloadavg()[0]
    return phase


# --- audit ----------------------------------------------------------------------------


def _plain(value: dict[str, Any]) -> Any:
    ((kind, raw),) = value.items()
    return int(raw) if kind == "N" else raw


def audit(stack: RunningStack, members: list[Member], phases: list[Phase]) -> Audit:
    """Read the whole table back and check every order and every member's balance."""
    from chalicelib.store import keys

    started = time.perf_counter()
    client = stack.dynamodb()
    orders: dict[str, dict[str, Any]] = {}
    ledger: dict[str, list[dict[str, Any]]] = defaultdict(list)  # member_id -> entries
    balances: dict[str, int] = {}
    items = 0
    for page in client.get_paginator("scan").paginate(TableName=stack.table_name):
        for raw in page["Items"]:
            items += 1
            kind = raw.get("type", {}).get("S")
            if kind == "Order":
                orders[raw["order_id"]["S"]] = {k: _plain(v) for k, v in raw.items() if k in ("member_id", "points_earned")}
            elif kind == "LedgerEntry":
                ledger[keys.member_id_of(raw["pk"]["S"])].append({k: _plain(v) for k, v in raw.items() if k in ("kind", "points", "ref")})
            elif kind == "Member":
                balances[raw["member_id"]["S"]] = int(raw["balance"]["N"])

    result = Audit(table_items=items)
    by_ref: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for member_id, member_entries in ledger.items():
        for member_entry in member_entries:
            if member_entry.get("ref"):
                by_ref[member_entry["ref"]].append((member_id, member_entry))
    samples = [s for p in phases for s in p.samples]
    for s in samples:
        result.orders += 1
        member = members[s.member]
        entries = by_ref.get(s.order_id, [])
        order = orders.get(s.order_id)
        result.recorded += order is not None
        if len(entries) > 1:
            result.problems.append(f"order {s.order_id} has {len(entries)} ledger entries")
        if (order is None) != (not entries):
            result.problems.append(f"order {s.order_id}: Order item {'present' if order else 'absent'}, {len(entries)} ledger entries")
        if 200 <= s.status < 300:
            result.answered += 1
            if order is None or len(entries) != 1:
                result.problems.append(f"order {s.order_id} was answered {s.status} but has {len(entries)} ledger entries")
                continue
            owner, entry = entries[0]
            if owner != member.member_id or order["member_id"] != member.member_id:
                result.problems.append(f"order {s.order_id} was awarded to {owner}, not {member.member_id}")
            elif entry["kind"] != "earn" or entry["points"] != s.points or order["points_earned"] != s.points:
                result.problems.append(f"order {s.order_id} answered {s.points} points, ledger says {entry['kind']} {entry['points']}")
            else:
                result.awarded_once += 1
        elif order is not None:
            result.recorded_without_success += 1
    awarded: Counter[str] = Counter()
    for s in samples:
        if s.order_id in orders:
            awarded[orders[s.order_id]["member_id"]] += int(orders[s.order_id]["points_earned"])
    for member in members:
        result.members_checked += 1
        balance = balances.get(member.member_id)
        total = sum(int(e["points"]) for e in ledger.get(member.member_id, []))
        expected = member.opening + awarded[member.member_id]
        if balance is None or balance != member.opening + total or balance != expected:
            result.problems.append(
                f"member {member.member_id}: balance {balance}, opening {member.opening} + ledger {total}, opening + orders {expected}"
            )
    result.seconds = time.perf_counter() - started
    return result


# --- the whole measurement ------------------------------------------------------------


def measure_load(
    *,
    seconds: float = DEFAULT_SECONDS,
    warmup: float = DEFAULT_WARMUP,
    clients: int = DEFAULT_CLIENTS,
    members: int = DEFAULT_MEMBERS,
    hot_seconds: float = DEFAULT_HOT_SECONDS,
    progress: Callable[[str], None] | None = None,
) -> LoadResult:
    say = progress or (lambda _m: None)
    with tempfile.TemporaryDirectory(prefix="huiyuan-load-") as tmp, running_stack(Path(tmp)) as stack:
        set_sending_limits(stack.base)  # one load generator signs up every member
        began = time.perf_counter()
        seeded = seed_members(stack, members)
        seed_seconds = time.perf_counter() - began
        say(f"load: {members} members seeded in {seed_seconds:.1f} s; {clients} clients for {warmup:g} + {seconds:g} s")
        phases = []
        items = _item_count(stack)
        spread = drive(
            stack,
            seeded,
            lambda rng: rng.randrange(len(seeded)),
            label=SPREAD,
            spread_over=len(seeded),
            clients=clients,
            seconds=seconds,
            warmup=warmup,
        )
        spread.items_before, spread.items_after = items, _item_count(stack)
        phases.append(spread)
        say(f"load: {spread.rate:.1f} purchases/s, p50 {spread.latency_ms(0.5):.0f} ms, p99 {spread.latency_ms(0.99):.0f} ms")
        if hot_seconds > 0:
            hot = drive(stack, seeded, lambda _rng: 0, label=HOT, spread_over=1, clients=clients, seconds=hot_seconds, warmup=0.0)
            hot.items_before, hot.items_after = spread.items_after, _item_count(stack)
            phases.append(hot)
            say(f"load, one hot member: {hot.rate:.1f} purchases/s, p50 {hot.latency_ms(0.5):.0f} ms, p99 {hot.latency_ms(0.99):.0f} ms")
        checked = audit(stack, seeded, phases)
        say(f"load: audited {checked.orders:,} orders in {checked.seconds:.1f} s: {'clean' if checked.passed else checked.problems[:3]}")
        return LoadResult(phases, checked, members, seed_seconds, clients)


def describe(phase: Phase) -> str:
    errors = ", ".join(f"{n} x {status}" for status, n in phase.errors.most_common()) or "none"
    text = (
        f"{len(phase.measured):,} purchases in {phase.window:.1f} s ({len(phase.ok):,} 2xx) from {phase.clients} clients over "
        f"{phase.members:,} member{'s' if phase.members != 1 else ''}; p50 {phase.latency_ms(0.5):.0f} ms, p95 "
        f"{phase.latency_ms(0.95):.0f} ms, p99 {phase.latency_ms(0.99):.0f} ms, max {phase.latency_ms(1.0):.0f} ms; errors: {errors}"
    )
    if phase.cpu_ms_per_purchase is not None and phase.stack_cpu is not None:
        text += f"; stack CPU {phase.cpu_ms_per_purchase:.1f} ms per purchase ({phase.stack_cpu / phase.window:.0%} of one core)"
    return text + f"; machine load average {phase.load_average:.1f}"


def main(argv: list[str] | None = None) -> int:
    import tests.conftest  # noqa: F401  (the test environment for this process; the stack gets a developer's)

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    progress = stderr_progress("bench")

    result = measure_load_from(args, progress)
    for phase in result.phases:
        print(f"{phase.label}: {phase.rate:.1f} purchases/s; {describe(phase)}")
        slices = ", ".join(f"{r:.1f}/s" for r in phase.rate_by_slice())
        print(f"  per third of the window: {slices}; table {phase.items_before:,} -> {phase.items_after:,} items")
    a = result.audit
    print(f"audit: {a.orders:,} orders, {a.answered:,} answered 2xx, {a.awarded_once:,} awarded exactly once, {a.members_checked} members' balances")
    for problem in a.problems[:20]:
        print(f"- {problem}")
    return 0 if a.passed and not any(p.errors for p in result.phases) else 1


def measure_load_from(args: argparse.Namespace, progress: Callable[[str], None]) -> LoadResult:
    """`measure_load` with the options `add_arguments` defines."""
    return measure_load(
        seconds=args.load_seconds,
        warmup=args.load_warmup,
        clients=args.load_clients,
        members=args.load_members,
        hot_seconds=args.hot_seconds,
        progress=progress,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--load-seconds", type=float, default=DEFAULT_SECONDS, help=f"measured seconds (default {DEFAULT_SECONDS:g})")
    parser.add_argument("--load-warmup", type=float, default=DEFAULT_WARMUP, help=f"warm-up seconds, not counted (default {DEFAULT_WARMUP:g})")
    parser.add_argument("--load-clients", type=int, default=DEFAULT_CLIENTS, help=f"client threads (default {DEFAULT_CLIENTS})")
    parser.add_argument("--load-members", type=int, default=DEFAULT_MEMBERS, help=f"members the purchases spread over (default {DEFAULT_MEMBERS})")
    parser.add_argument("--hot-seconds", type=float, default=DEFAULT_HOT_SECONDS, help="seconds of the one-hot-member phase, 0 to skip")


if __name__ == "__main__":
    sys.exit(main())
