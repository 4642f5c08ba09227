"""`make soak`: minutes of mixed traffic through the local stack, then the books.

One local stack (`tests.support.stack.running_stack`, the one the e2e tests and
the load bench start) on a fresh state directory. Members sign up through the
API (codes read from its outbox, as the demo reads them), then client threads,
each with its own members (so a client knows its members' balances), send a
weighted mix until the time is up: purchases by phone and by member id, partial
and full refunds, redemptions, wallet top-ups, payments and their refunds,
profile, ledger and wallet reads, sign-ins and new sign-ups, purchases by
unknown phones (which enrol pending members), and operator lookups (the local
stage's operator API is open; deployed it is IAM-signed). At a third and at
two thirds of the time the scheduled jobs run for today as `make job` runs them
(`python -m localstage.job`), traffic going on; a quarter of the members signed up
first were born on today's date, so the birthday job credits them (and texts them) while
their purchases and redemptions go on. When the clients stop, the
reconcile job runs, and one Scan of the table adds every member's ledger and
wallet entries up against their balances.

The stack's resident memory (`/proc/<pid>/status` VmRSS) is sampled throughout;
its growth is the median of the last tenth of the traffic minus the median of
the first tenth after the warm-up.

The verdict (`verdict`) fails on any 5xx, any request without an answer, any
4xx the mix does not expect, any job that failed, any drift, and RSS growth
beyond what the data explains: `--rss-bound-mb` plus `--rss-kb-per-item` for
every item the traffic added to the table (moto keeps the table in the stack's
memory, so a growing table is growing memory that is not a leak). The figures go to a JSON file (`docs/soak.json` by
default) that `make bench` renders into docs/performance.md (`markdown`).

    .venv/bin/python -m tests.bench.soak [--seconds 600] [--clients 4] [--members-per-client 8]
        [--output docs/soak.json] [--rss-bound-mb 32] [--rss-kb-per-item 4]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tests.support.stack import RunningStack, run_job, running_stack, set_sending_limits

from .load import MERCHANT_KEY, cpu_seconds, percentile

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = ROOT / "docs" / "soak.json"
DEFAULT_SECONDS = 600.0
DEFAULT_CLIENTS = 4
DEFAULT_MEMBERS_PER_CLIENT = 8
DEFAULT_WARMUP = 30.0  # seconds of traffic before latencies count and the memory baseline is taken
# The stack's memory may grow by the items the traffic adds (moto keeps every item in the process:
# 2.1 KB for a 230-byte ledger entry, measured with 10,000 BatchWriteItem puts under mock_aws; orders
# and members are two to three times that size) plus a fixed allowance for the allocator and caches.
# More than that is a leak: the soak fails.
DEFAULT_RSS_BOUND_MB = 32.0
DEFAULT_RSS_KB_PER_ITEM = 4.0
SAMPLE_SECONDS = 2.0
TIMEOUT = 60.0
TOKEN_REFRESH_SECONDS = 600.0  # access tokens last 15 minutes: sign in again after 10
CURRENCY = "CNY"
STORES = ("soak-store-1", "soak-store-2")
REWARD = ("coffee", 500)  # the starter catalogue's unlimited reward (localstage/bootstrap.py) and its cost

# Jobs run while the traffic goes on: at a third and at two thirds of the time.
MIDDLE_JOBS: tuple[tuple[str, ...], ...] = (
    ("birthday-bonus", "reengagement", "tier-review"),
    ("expire-points", "send-deferred", "reconcile"),
)

# The mix: relative weights of what a client does next.
MIX: dict[str, int] = {
    "purchase": 28,
    "purchase_unknown_phone": 1,
    "refund": 6,
    "redeem": 4,
    "topup": 4,
    "pay": 6,
    "pay_refund": 1,
    "me": 12,
    "ledger": 5,
    "wallet": 3,
    "rewards": 3,
    "sign_in": 4,
    "sign_up": 1,
    "admin_lookup": 5,
    "admin_member": 2,
    "admin_ledger": 2,
}

# 4xx answers the mix provokes on purpose or may meet; any other 4xx fails the soak.
EXPECTED_4XX: dict[str, set[tuple[int, str]]] = {
    "POST /v1/me/redemptions": {(409, "insufficient_points")},  # a birthday bonus or expiry moved the balance
    "POST /v1/wallet/payments": {(409, "insufficient_funds")},
}


# --- what was measured ----------------------------------------------------------------


@dataclass
class Call:
    route: str
    status: int  # 0: no answer
    seconds: float
    started: float  # seconds since the traffic started
    code: str = ""  # the problem's code, or the exception for no answer


@dataclass
class JobRun:
    job: str
    as_of: str
    at: float  # seconds since the traffic started
    seconds: float
    returncode: int
    brief: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.error


@dataclass
class Books:
    """The reconcile job's report and an independent sum over one Scan of the table."""

    reconcile_ok: bool = False
    members_checked: int = 0
    drift: int = 0
    unsettled: int = 0
    drift_member_ids: list[str] = field(default_factory=list)
    outstanding_points: int = 0
    outstanding_stored_value: int = 0
    scanned_members: int = 0
    scanned_points: int = 0  # sum of the members' balances in the Scan
    scan_mismatches: list[str] = field(default_factory=list)  # members whose entries do not add up


@dataclass
class RouteStats:
    route: str
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int]


@dataclass
class SoakResult:
    measured_on: str  # YYYY-MM-DD (UTC)
    commit: str
    machine: str
    seconds: float  # traffic, as asked
    window: float  # traffic, as it ran (the clients finish their last request)
    warmup: float
    clients: int
    members: int  # signed up in the setup
    requests: int
    routes: list[RouteStats]
    fivexx: int
    no_answer: int
    unexpected_4xx: dict[str, int]  # "route status code" -> count
    jobs: list[JobRun]
    books: Books
    rss_mb: list[tuple[float, float]]  # (seconds since the traffic started, MB)
    rss_baseline_mb: float
    rss_end_mb: float
    rss_slope_mb_per_min: float
    rss_bound_mb: float  # the fixed allowance
    stack_cpu_seconds: float | None
    table_items_before: int
    table_items_after: int
    load_average: tuple[float, float, float]
    setup_seconds: float = 0.0
    client_problems: list[str] = field(default_factory=list)  # answers a client could not use
    rss_kb_per_item: float = DEFAULT_RSS_KB_PER_ITEM  # the allowance per item the traffic added to the table

    @property
    def rss_growth_mb(self) -> float:
        return self.rss_end_mb - self.rss_baseline_mb

    @property
    def items_added(self) -> int:
        return max(0, self.table_items_after - self.table_items_before)

    @property
    def rss_allowed_mb(self) -> float:
        """The growth the data explains: the fixed allowance plus the allowance per item added."""
        return self.rss_bound_mb + self.rss_kb_per_item * self.items_added / 1024


def route_stats(calls: list[Call], warmup: float) -> list[RouteStats]:
    """Latency percentiles (nearest rank) per route over the calls started after the warm-up;
    statuses over every call."""
    by_route: dict[str, list[Call]] = defaultdict(list)
    for c in calls:
        by_route[c.route].append(c)
    stats = []
    for route, mine in sorted(by_route.items(), key=lambda kv: -len(kv[1])):
        timed = [c.seconds * 1000 for c in mine if c.started >= warmup and c.status] or [c.seconds * 1000 for c in mine if c.status]
        statuses = Counter(str(c.status) if c.status else "no answer" for c in mine)
        stats.append(
            RouteStats(
                route,
                len(mine),
                percentile(timed, 0.5),
                percentile(timed, 0.95),
                percentile(timed, 0.99),
                max(timed, default=float("nan")),
                dict(sorted(statuses.items())),
            )
        )
    return stats


def rss_trend(samples: list[tuple[float, float]], warmup: float, window: float) -> tuple[float, float, float]:
    """(baseline MB, end MB, slope MB/min): the median RSS over the first tenth of the window after
    the warm-up, over its last tenth, and the least-squares slope over everything after the warm-up."""
    after = [(t, mb) for t, mb in samples if t >= warmup]
    if len(after) < 2:
        return (float("nan"), float("nan"), float("nan"))
    tenth = max((window - warmup) / 10, SAMPLE_SECONDS)
    first = [mb for t, mb in after if t <= warmup + tenth] or [after[0][1]]
    last = [mb for t, mb in after if t >= window - tenth] or [after[-1][1]]
    times, values = [t for t, _ in after], [mb for _, mb in after]
    mean_t, mean_v = statistics.fmean(times), statistics.fmean(values)
    spread = sum((t - mean_t) ** 2 for t in times)
    slope = sum((t - mean_t) * (v - mean_v) for t, v in zip(times, values, strict=True)) / spread if spread else 0.0
    return statistics.median(first), statistics.median(last), slope * 60


def verdict(result: SoakResult) -> list[str]:
    """Why the soak failed; [] when it passed."""
    failures = []
    if result.requests == 0:
        failures.append("no request was sent")
    if result.fivexx:
        failures.append(f"{result.fivexx} answers were 5xx")
    if result.no_answer:
        failures.append(f"{result.no_answer} requests got no answer")
    if result.unexpected_4xx:
        what = ", ".join(f"{n} x {k}" for k, n in sorted(result.unexpected_4xx.items(), key=lambda kv: -kv[1]))
        failures.append(f"unexpected 4xx: {what}")
    if result.client_problems:
        failures.append(f"{len(result.client_problems)} answers a client could not use: {'; '.join(result.client_problems[:3])}")
    for job in result.jobs:
        if not job.ok:
            failures.append(f"job {job.job} {job.as_of} failed (exit {job.returncode}): {job.error[-300:]}")
    books = result.books
    if not books.reconcile_ok:
        failures.append("the final reconcile job did not report")
    if books.drift or books.unsettled:
        failures.append(f"reconcile: {books.drift} members drift, {books.unsettled} unsettled ({', '.join(books.drift_member_ids[:5])})")
    if books.scan_mismatches:
        failures.append(f"ledger sums != balances for {len(books.scan_mismatches)} members: {'; '.join(books.scan_mismatches[:3])}")
    if books.reconcile_ok and books.scanned_points != books.outstanding_points:
        failures.append(f"reconcile's outstanding points {books.outstanding_points} != the Scan's sum of balances {books.scanned_points}")
    growth = result.rss_growth_mb
    if growth != growth:  # NaN: too few samples
        failures.append("the stack's memory was not sampled")
    elif growth > result.rss_allowed_mb:
        failures.append(
            f"the stack's RSS grew {growth:.1f} MB, more than the {result.rss_allowed_mb:.1f} MB allowed "
            f"({result.rss_bound_mb:g} MB + {result.rss_kb_per_item:g} KB x {result.items_added:,} items added)"
        )
    return failures


# --- the traffic ----------------------------------------------------------------------


@dataclass
class SoakMember:
    phone: str
    member_id: str = ""
    token: str = ""
    token_at: float = 0.0
    code_at: float = 0.0  # when a code was last sent to the phone: one a minute at most (code_resend_seconds)
    points: int = 0  # as the last answer said
    wallet: int = 0
    orders: list[list[Any]] = field(default_factory=list)  # [order_id, refundable amount]
    payments: list[list[Any]] = field(default_factory=list)  # [payment_id, refundable amount]


class Traffic:
    """The client threads, their members and every call they made."""

    def __init__(self, stack: RunningStack, clients: int, seed: int = 1) -> None:
        from devtools.demo.http import Outbox

        self.stack = stack
        self.clients = clients
        self.outbox = Outbox(stack.outbox)
        self.calls: list[Call] = []
        self.started = time.perf_counter()
        self._lock = threading.Lock()
        self._phones = iter(range(10**7))
        self.pools: list[list[SoakMember]] = [[] for _ in range(clients)]
        self.seed = seed
        self.problems: list[str] = []  # answers a client could not use (a 2xx without the expected body)
        import requests

        rules = requests.get(stack.url("/v1/admin/rules"), timeout=TIMEOUT).json()["rules"]
        self.resend_seconds = float(rules["code_resend_seconds"]) + 5  # a sign-in sooner gets 429 too_many_attempts
        self.zone = str(rules["timezone"])

    def _next_phone(self, prefix: str) -> str:
        with self._lock:
            return f"+86{prefix}{next(self._phones):08d}"

    def request(
        self,
        session: Any,
        method: str,
        route: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        import requests

        sent = time.perf_counter()
        try:
            reply = session.request(method, self.stack.url(path), json=body, params=params, headers=headers or {}, timeout=TIMEOUT)
        except requests.RequestException as exc:
            self._record(Call(route, 0, time.perf_counter() - sent, sent - self.started, type(exc).__name__))
            return 0, None
        took = time.perf_counter() - sent
        try:
            payload = reply.json() if reply.content else None
        except ValueError:
            payload = None
        code = payload.get("code", "") if isinstance(payload, dict) and reply.status_code >= 400 else ""
        self._record(Call(route, reply.status_code, took, sent - self.started, str(code)))
        return reply.status_code, payload

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    # -- members -----------------------------------------------------------------------

    def sign_up(self, session: Any, client: int, *, birthday_today: bool = False) -> SoakMember | None:
        """A new member through the API; with `birthday_today`, born on today's date (the birthday job acts on them)."""
        member = SoakMember(self._next_phone("139"))
        body = {"phone": member.phone, "name": "耐久测试", "consents": {"sms_marketing": True}}
        if birthday_today:
            today = date.fromisoformat(_today(self.zone))
            body["birthday"] = (today.replace(year=1992) if (today.month, today.day) == (2, 29) else today.replace(year=1990)).isoformat()
        mark, member.code_at = self.outbox.mark(), time.perf_counter()
        status, _ = self.request(session, "POST", "POST /v1/signup", "/v1/signup", body=body)
        if status != 202 or not self._verify(session, member, mark):
            return None
        self.pools[client].append(member)
        return member

    def sign_in(self, session: Any, member: SoakMember) -> bool:
        mark, member.code_at = self.outbox.mark(), time.perf_counter()
        status, _ = self.request(session, "POST", "POST /v1/auth/code", "/v1/auth/code", body={"phone": member.phone})
        return status == 202 and self._verify(session, member, mark)

    def _verify(self, session: Any, member: SoakMember, mark: int) -> bool:
        try:
            code = self.outbox.code_for(member.phone, mark)
        except TimeoutError as exc:
            self.problems.append(str(exc))
            return False
        status, payload = self.request(session, "POST", "POST /v1/auth/verify", "/v1/auth/verify", body={"phone": member.phone, "code": code})
        if status != 200:
            return False
        member.token, member.token_at = payload["access_token"], time.perf_counter()
        member.member_id = payload["member"]["member_id"]
        member.points = int(payload["member"]["points"]["balance"])
        return True

    def _bearer(self, session: Any, member: SoakMember) -> dict[str, str]:
        if time.perf_counter() - member.token_at > TOKEN_REFRESH_SECONDS:
            self.sign_in(session, member)
        return {"authorization": f"Bearer {member.token}"}

    # -- what a client does --------------------------------------------------------------

    def act(self, session: Any, rng: random.Random, client: int, kind: str) -> None:
        pool = self.pools[client]
        if kind == "sign_up" or not pool:
            self.sign_up(session, client)
            return
        m = rng.choice(pool)
        merchant = {"x-api-key": MERCHANT_KEY}
        store = rng.choice(STORES)
        if kind == "refund" and not any(o[1] > 0 for o in m.orders):
            kind = "purchase"
        if kind == "redeem" and m.points < REWARD[1]:
            kind = "purchase"
        if kind == "pay" and m.wallet < 100:
            kind = "topup"
        if kind == "pay_refund" and not any(p[1] > 0 for p in m.payments):
            kind = "me"
        if kind == "sign_in" and time.perf_counter() - m.code_at < self.resend_seconds:
            kind = "me"
        if kind == "purchase":
            order_id = f"soak-{uuid.uuid4().hex[:20]}"
            amount = rng.randrange(500, 30_000)
            who = {"phone": m.phone} if rng.random() < 0.3 else {"member_id": m.member_id}
            body = {"order_id": order_id, **who, "amount": amount, "currency": CURRENCY, "store_id": store}
            status, payload = self.request(session, "POST", "POST /v1/purchases", "/v1/purchases", body=body, headers=merchant)
            if status == 201:
                m.points = int(payload["balance"])
                m.orders.append([order_id, amount])
        elif kind == "purchase_unknown_phone":
            body = {
                "order_id": f"soak-{uuid.uuid4().hex[:20]}",
                "phone": self._next_phone("137"),
                "amount": rng.randrange(500, 10_000),
                "currency": CURRENCY,
                "store_id": store,
            }
            self.request(session, "POST", "POST /v1/purchases", "/v1/purchases", body=body, headers=merchant)
        elif kind == "refund":
            order = rng.choice([o for o in m.orders if o[1] > 0])
            amount = order[1] if rng.random() < 0.5 else max(1, order[1] // 3)
            path = f"/v1/purchases/{order[0]}/refunds"
            body = {"refund_id": f"rf-{uuid.uuid4().hex[:20]}", "amount": amount}
            status, payload = self.request(session, "POST", "POST /v1/purchases/{order_id}/refunds", path, body=body, headers=merchant)
            if status == 201:
                order[1] -= amount
                m.points = int(payload["balance"])
        elif kind == "redeem":
            headers = {**self._bearer(session, m), "Idempotency-Key": str(uuid.uuid4())}
            status, payload = self.request(
                session, "POST", "POST /v1/me/redemptions", "/v1/me/redemptions", body={"reward_id": REWARD[0]}, headers=headers
            )
            if status == 201:
                m.points = int(payload["balance"])
        elif kind == "topup":
            amount = rng.randrange(1_000, 50_000)
            body = {"topup_id": f"tu-{uuid.uuid4().hex[:20]}", "member_id": m.member_id, "amount": amount, "currency": CURRENCY, "store_id": store}
            status, _ = self.request(session, "POST", "POST /v1/wallet/topups", "/v1/wallet/topups", body=body, headers=merchant)
            if status == 201:
                m.wallet += amount
        elif kind == "pay":
            amount = rng.randrange(100, m.wallet + 1)
            payment_id = f"pay-{uuid.uuid4().hex[:20]}"
            who = {"phone": m.phone} if rng.random() < 0.3 else {"member_id": m.member_id}
            body = {"payment_id": payment_id, **who, "amount": amount, "currency": CURRENCY, "store_id": store}
            status, _ = self.request(session, "POST", "POST /v1/wallet/payments", "/v1/wallet/payments", body=body, headers=merchant)
            if status == 201:
                m.wallet -= amount
                m.payments.append([payment_id, amount])
        elif kind == "pay_refund":
            payment = rng.choice([p for p in m.payments if p[1] > 0])
            amount = payment[1] if rng.random() < 0.5 else max(1, payment[1] // 2)
            path = f"/v1/wallet/payments/{payment[0]}/refunds"
            body = {"refund_id": f"wrf-{uuid.uuid4().hex[:20]}", "amount": amount}
            status, _ = self.request(session, "POST", "POST /v1/wallet/payments/{payment_id}/refunds", path, body=body, headers=merchant)
            if status == 201:
                payment[1] -= amount
                m.wallet += amount
        elif kind == "me":
            status, payload = self.request(session, "GET", "GET /v1/me", "/v1/me", headers=self._bearer(session, m))
            if status == 200:
                m.points = int(payload["points"]["balance"])
        elif kind == "ledger":
            self.request(session, "GET", "GET /v1/me/ledger", "/v1/me/ledger", headers=self._bearer(session, m))
        elif kind == "wallet":
            if m.wallet or m.payments:
                self.request(session, "GET", "GET /v1/me/wallet", "/v1/me/wallet", headers=self._bearer(session, m))
        elif kind == "rewards":
            self.request(session, "GET", "GET /v1/rewards", "/v1/rewards")
        elif kind == "sign_in":
            self.sign_in(session, m)
        elif kind == "admin_lookup":
            self.request(session, "GET", "GET /v1/admin/members?phone=", "/v1/admin/members", params={"phone": m.phone})
        elif kind == "admin_member":
            self.request(session, "GET", "GET /v1/admin/members/{member_id}", f"/v1/admin/members/{m.member_id}")
        elif kind == "admin_ledger":
            path = f"/v1/admin/members/{m.member_id}/ledger"
            self.request(session, "GET", "GET /v1/admin/members/{member_id}/ledger", path, params={"limit": 20})

    def run(self, seconds: float, stop: threading.Event) -> None:
        """Every client sends the mix until `seconds` have passed (or `stop`); each waits for its last answer."""
        import requests

        kinds, weights = list(MIX), list(MIX.values())
        end = time.perf_counter() + seconds

        def client(number: int) -> None:
            rng = random.Random(f"soak-{self.seed}-{number}")
            with requests.Session() as session:
                while time.perf_counter() < end and not stop.is_set():
                    kind = rng.choices(kinds, weights)[0]
                    try:
                        self.act(session, rng, number, kind)
                    except (KeyError, TypeError, ValueError) as exc:  # a 2xx without the body the contract promises
                        self.problems.append(f"{kind}: {type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=client, args=(n,), name=f"soak-{n}") for n in range(self.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


# --- the stack's memory and the books ---------------------------------------------------


def rss_mb(pid: int) -> float | None:
    """Resident set size of a process (Linux /proc; None elsewhere)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def scan_books(stack: RunningStack) -> tuple[int, int, list[str]]:
    """(members, sum of balances, mismatches): every member's ledger entries and wallet entries added up
    against the member's and the wallet's balance, from one Scan of the stack's table."""
    from chalicelib.store import keys

    balance: dict[str, int] = {}
    ledger: Counter[str] = Counter()
    wallet: dict[str, int] = {}
    wallet_entries: Counter[str] = Counter()
    client = stack.dynamodb()
    for page in client.get_paginator("scan").paginate(TableName=stack.table_name):
        for raw in page["Items"]:
            kind = raw.get("type", {}).get("S")
            pk = raw["pk"]["S"]
            if not pk.startswith("MEMBER#"):
                continue
            owner = keys.member_id_of(pk)
            if kind == "Member":
                balance[owner] = int(raw["balance"]["N"])
            elif kind == "LedgerEntry":
                ledger[owner] += int(raw["points"]["N"])
            elif kind == "Wallet":
                wallet[owner] = int(raw["balance"]["N"])
            elif kind == "WalletEntry":
                wallet_entries[owner] += int(raw["amount"]["N"])
    mismatches = []
    for owner in sorted(set(balance) | set(ledger)):
        if balance.get(owner) != ledger[owner]:
            mismatches.append(f"{owner}: balance {balance.get(owner)}, ledger {ledger[owner]}")
    for owner in sorted(set(wallet) | set(wallet_entries)):
        if wallet.get(owner, 0) != wallet_entries[owner]:
            mismatches.append(f"{owner}: wallet {wallet.get(owner)}, entries {wallet_entries[owner]}")
    return len(balance), sum(balance.values()), mismatches


def _item_count(stack: RunningStack) -> int:
    return int(stack.dynamodb().describe_table(TableName=stack.table_name)["Table"].get("ItemCount", 0))


def _today(zone: str) -> str:
    """Today in the program's time zone."""
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(zone)).date().isoformat()


def _job(stack: RunningStack, job: str, as_of: str | None, started: float) -> JobRun:
    at = time.perf_counter() - started
    began = time.perf_counter()
    try:
        code, summary, stderr = run_job(stack, job, as_of)
    except (subprocess.TimeoutExpired, ValueError) as exc:
        return JobRun(job, as_of or "", at, time.perf_counter() - began, -1, error=f"{type(exc).__name__}: {exc}")
    keep = ("units", "members_affected", "points_moved", "messages_sent", "messages_deferred", "failed", "dead_lettered")
    brief = {k: summary[k] for k in keep if k in summary}
    if "ledger" in summary:
        brief["ledger"] = summary["ledger"]
    error = str(summary.get("error", "")) or (stderr[-500:] if code else "")
    if not error and (summary.get("failed") or summary.get("dead_lettered")):
        error = f"{summary.get('failed', 0)} units failed, {summary.get('dead_lettered', 0)} dead-lettered"
    return JobRun(job, as_of or str(summary.get("as_of", "")), at, time.perf_counter() - began, code, brief, error)


def _git_commit() -> str:
    """The commit measured, `+changes` when tracked files differ from it (a result file is not code)."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True, check=False)
    dirty = [line for line in changed.stdout.splitlines() if not line.endswith(("docs/soak.json", "docs/cost.md", "docs/performance.md"))]
    return (done.stdout.strip() or "unknown") + ("+changes" if dirty else "")


# --- the whole soak ---------------------------------------------------------------------


def soak(
    *,
    seconds: float = DEFAULT_SECONDS,
    clients: int = DEFAULT_CLIENTS,
    members_per_client: int = DEFAULT_MEMBERS_PER_CLIENT,
    warmup: float = DEFAULT_WARMUP,
    rss_bound_mb: float = DEFAULT_RSS_BOUND_MB,
    rss_kb_per_item: float = DEFAULT_RSS_KB_PER_ITEM,
    middle_jobs: tuple[tuple[str, ...], ...] = MIDDLE_JOBS,
    progress: Callable[[str], None] | None = None,
) -> SoakResult:
    say = progress or (lambda _m: None)
    with tempfile.TemporaryDirectory(prefix="huiyuan-soak-") as tmp, running_stack(Path(tmp)) as stack:
        set_sending_limits(stack.base)  # every client is 127.0.0.1
        traffic = Traffic(stack, clients)
        began = time.perf_counter()
        import requests

        def enrol(client: int) -> None:
            with requests.Session() as session:
                for n in range(members_per_client):
                    # A quarter born today: the birthday job, run in the middle, credits them while they buy.
                    traffic.sign_up(session, client, birthday_today=n % 4 == 0)
                # One of each kind, so every route's code is loaded before the memory baseline.
                rng = random.Random(f"soak-tour-{client}")
                for kind in MIX:
                    if kind != "sign_up":
                        traffic.act(session, rng, client, kind)

        threads = [threading.Thread(target=enrol, args=(n,)) for n in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        setup_seconds = time.perf_counter() - began
        members = sum(len(p) for p in traffic.pools)
        say(f"soak: {members} members signed up and every route tried in {setup_seconds:.1f} s; {clients} clients for {seconds:g} s")
        today = _today(traffic.zone)
        items_before = _item_count(stack)
        traffic.calls.clear()
        traffic.started = started = time.perf_counter()
        stop = threading.Event()
        samples: list[tuple[float, float]] = []
        cpu_start = cpu_seconds(stack.pid)

        def sample() -> None:
            while not stop.is_set():
                mb = rss_mb(stack.pid)
                if mb is not None:
                    samples.append((time.perf_counter() - started, mb))
                stop.wait(SAMPLE_SECONDS)

        jobs: list[JobRun] = []

        def run_middle_jobs() -> None:
            for n, batch in enumerate(middle_jobs, start=1):
                if stop.wait(max(0.0, started + seconds * n / (len(middle_jobs) + 1) - time.perf_counter())):
                    return
                for job in batch:
                    run = _job(stack, job, today, started)
                    jobs.append(run)
                    say(f"soak: {job} {today} at {run.at:.0f} s took {run.seconds:.1f} s: {'ok' if run.ok else 'FAILED'} {run.brief}")

        sampler = threading.Thread(target=sample, daemon=True)
        middle = threading.Thread(target=run_middle_jobs, daemon=True)
        sampler.start()
        middle.start()
        ticker = threading.Thread(target=_tick, args=(traffic, seconds, stop, say), daemon=True)
        ticker.start()
        traffic.run(seconds, threading.Event())
        window = time.perf_counter() - started
        middle.join()  # a job still running finishes before the books are read
        stop.set()
        sampler.join()
        cpu_end = cpu_seconds(stack.pid)
        items_after = _item_count(stack)
        say(f"soak: traffic done ({len(traffic.calls):,} requests in {window:.0f} s); the reconcile job")
        final = _job(stack, "reconcile", None, started)
        jobs.append(final)
        books = Books()
        ledger = final.brief.get("ledger")
        if final.ok and isinstance(ledger, dict):
            books.reconcile_ok = True
            books.members_checked = int(ledger["members_checked"])
            books.drift = int(ledger["members_with_drift"])
            books.unsettled = int(ledger["members_unsettled"])
            books.drift_member_ids = list(ledger["drift_member_ids"])
            books.outstanding_points = int(ledger["outstanding_points"])
            books.outstanding_stored_value = int(ledger["outstanding_stored_value"])
        books.scanned_members, books.scanned_points, books.scan_mismatches = scan_books(stack)
        calls = traffic.calls
        unexpected: Counter[str] = Counter()
        for c in calls:
            if 400 <= c.status < 500 and (c.status, c.code) not in EXPECTED_4XX.get(c.route, set()):
                unexpected[f"{c.route} {c.status} {c.code}"] += 1
        baseline, end, slope = rss_trend(samples, warmup, window)
        return SoakResult(
            measured_on=datetime.now(UTC).strftime("%Y-%m-%d"),
            commit=_git_commit(),
            machine=f"{os.cpu_count() or 0} cores ({platform.machine()}, {platform.system()}), Python {platform.python_version()}",
            seconds=seconds,
            window=window,
            warmup=warmup,
            clients=clients,
            members=members,
            requests=len(calls),
            routes=route_stats(calls, warmup),
            fivexx=sum(1 for c in calls if c.status >= 500),
            no_answer=sum(1 for c in calls if c.status == 0),
            unexpected_4xx=dict(unexpected),
            jobs=jobs,
            books=books,
            rss_mb=[(round(t, 1), round(mb, 1)) for t, mb in samples],
            rss_baseline_mb=baseline,
            rss_end_mb=end,
            rss_slope_mb_per_min=slope,
            rss_bound_mb=rss_bound_mb,
            stack_cpu_seconds=(cpu_end - cpu_start) if cpu_end is not None and cpu_start is not None else None,
            table_items_before=items_before,
            table_items_after=items_after,
            load_average=os.getloadavg(),
            setup_seconds=setup_seconds,
            client_problems=traffic.problems,
            rss_kb_per_item=rss_kb_per_item,
        )


def _tick(traffic: Traffic, seconds: float, stop: threading.Event, say: Callable[[str], None]) -> None:
    """A progress line a minute."""
    while not stop.wait(60.0):
        elapsed = time.perf_counter() - traffic.started
        if elapsed > seconds + 30:
            return
        errors = sum(1 for c in list(traffic.calls) if c.status >= 500 or c.status == 0)
        say(f"soak: {elapsed:.0f} s, {len(traffic.calls):,} requests, {errors} 5xx or unanswered, load average {os.getloadavg()[0]:.1f}")


# --- the report -----------------------------------------------------------------------


def to_json(result: SoakResult) -> dict[str, Any]:
    data = asdict(result)
    data["rss_growth_mb"] = result.rss_growth_mb
    data["failures"] = verdict(result)
    return data


def from_json(data: dict[str, Any]) -> SoakResult:
    fields = dict(data)
    fields.pop("rss_growth_mb", None)
    fields.pop("failures", None)
    fields["routes"] = [RouteStats(**r) for r in data["routes"]]
    fields["jobs"] = [JobRun(**j) for j in data["jobs"]]
    fields["books"] = Books(**data["books"])
    fields["rss_mb"] = [tuple(s) for s in data["rss_mb"]]
    fields["load_average"] = tuple(data["load_average"])
    return SoakResult(**fields)


def summary_lines(result: SoakResult) -> list[str]:
    """The figures a reader wants first, one line each (Markdown list items)."""
    failures = verdict(result)
    b = result.books
    cpu = f"; stack CPU {result.stack_cpu_seconds / result.window:.0%} of one core" if result.stack_cpu_seconds is not None else ""
    statuses: Counter[str] = Counter()
    for r in result.routes:
        statuses.update(r.statuses)
    return [
        f"Verdict: **{'PASS' if not failures else 'FAIL'}**" + (f": {'; '.join(failures)}" if failures else ""),
        f"{result.requests:,} requests in {result.window:.0f} s ({result.requests / result.window:.1f}/s) from {result.clients} clients "
        f"over {result.members} members signed up first (and those signed up during the run); answers: "
        + ", ".join(f"{n:,} x {s}" for s, n in sorted(statuses.items()))
        + f"; {result.fivexx} 5xx, {result.no_answer} without an answer, {sum(result.unexpected_4xx.values())} unexpected 4xx{cpu}",
        "Jobs in the middle of the traffic: "
        + ", ".join(f"{j.job} at {j.at:.0f} s ({j.seconds:.0f} s, {'ok' if j.ok else 'FAILED'})" for j in result.jobs[:-1]),
        f"Books after the traffic: the reconcile job checked {b.members_checked:,} members: {b.drift} drift, {b.unsettled} unsettled; "
        f"outstanding {b.outstanding_points:,} points and {b.outstanding_stored_value / 100:,.2f} of stored value. One Scan: "
        f"{b.scanned_members:,} members, ledger sums = balances and wallet entries = wallet balances for "
        f"{b.scanned_members - len(b.scan_mismatches):,} ({len(b.scan_mismatches)} not)",
        f"Stack memory (RSS): {result.rss_baseline_mb:.0f} MB after the warm-up -> {result.rss_end_mb:.0f} MB at the end, "
        f"growth {result.rss_growth_mb:+.1f} MB (allowed {result.rss_allowed_mb:.1f} MB: {result.rss_bound_mb:g} MB + "
        f"{result.rss_kb_per_item:g} KB per item added), trend {result.rss_slope_mb_per_min:+.2f} MB/min; "
        f"the table grew from {result.table_items_before:,} to {result.table_items_after:,} items "
        f"(moto keeps every item in the stack's memory: {_kb_per_item(result)})",
        f"Machine load average (1, 5, 15 min) at the end: {', '.join(f'{x:.1f}' for x in result.load_average)}",
    ]


def _kb_per_item(result: SoakResult) -> str:
    added = result.table_items_after - result.table_items_before
    if added <= 0:
        return "no item added"
    return f"{result.rss_growth_mb * 1024 / added:.1f} KB of growth per item added"


def route_table(result: SoakResult) -> list[str]:
    lines = ["| Route | Requests | p50 ms | p95 ms | p99 ms | max ms | Answers |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in result.routes:
        answers = ", ".join(f"{n} x {s}" for s, n in r.statuses.items())
        lines.append(f"| {r.route} | {r.count:,} | {r.p50_ms:.0f} | {r.p95_ms:.0f} | {r.p99_ms:.0f} | {r.max_ms:.0f} | {answers} |")
    return lines


def markdown(result: SoakResult, source: str = "docs/soak.json") -> list[str]:
    """The Soak section of docs/performance.md, from a soak's result file."""
    return [
        "## Soak",
        "",
        f"Measured by `make soak` on {result.measured_on} (commit {result.commit}, {result.machine}), not by this `make bench` "
        f"run: its figures are read from `{source}`. {result.seconds / 60:g} minutes of mixed traffic through one local stack "
        f"(`tests/bench/soak.py`), the scheduled jobs run twice in the middle, then the reconcile job.",
        "",
        *[f"- {line}" for line in summary_lines(result)],
        "",
        "Latency per route (nearest rank, after a "
        f"{result.warmup:g} s warm-up; the stack is one Python process that is also the AWS endpoint, so these are queueing "
        "times on this machine, not Lambda's):",
        "",
        *route_table(result),
        "",
        "Fails on any 5xx, any request without an answer, any 4xx the mix does not expect "
        f"({', '.join(f'{route} {status} {code}' for route, allowed in EXPECTED_4XX.items() for status, code in sorted(allowed))}), "
        "any job that failed, any drift or unsettled member, ledger sums that differ from balances, and RSS growth beyond the "
        "what the items added explain (a fixed allowance plus an allowance per item: moto keeps the table in the stack's "
        "memory). Run `make soak` (`SOAK_SECONDS=90` for a short one); it rewrites the result file and `make bench` renders it here.",
        "",
    ]


def load_result(path: Path = DEFAULT_OUTPUT) -> SoakResult | None:
    """The last soak's figures, if a soak wrote them."""
    if not path.exists():
        return None
    return from_json(json.loads(path.read_text(encoding="utf-8")))


def main(argv: list[str] | None = None) -> int:
    import tests.conftest  # noqa: F401  (the test environment for this process; the stack gets a developer's)

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help=f"seconds of traffic (default {DEFAULT_SECONDS:g})")
    parser.add_argument("--clients", type=int, default=DEFAULT_CLIENTS, help=f"client threads (default {DEFAULT_CLIENTS})")
    parser.add_argument("--members-per-client", type=int, default=DEFAULT_MEMBERS_PER_CLIENT, help="members each client signs up first")
    parser.add_argument("--warmup", type=float, default=None, help=f"seconds not counted (default {DEFAULT_WARMUP:g}, at most a fifth of the run)")
    parser.add_argument("--rss-bound-mb", type=float, default=DEFAULT_RSS_BOUND_MB, help="RSS growth allowed whatever the data")
    parser.add_argument("--rss-kb-per-item", type=float, default=DEFAULT_RSS_KB_PER_ITEM, help="RSS growth allowed per item added")
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT), help="where the result JSON goes ('' for nowhere)")
    args = parser.parse_args(argv)
    warmup = args.warmup if args.warmup is not None else min(DEFAULT_WARMUP, args.seconds / 5)
    began = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[soak {time.perf_counter() - began:6.1f}s] {message}", file=sys.stderr, flush=True)

    result = soak(
        seconds=args.seconds,
        clients=args.clients,
        members_per_client=args.members_per_client,
        warmup=warmup,
        rss_bound_mb=args.rss_bound_mb,
        rss_kb_per_item=args.rss_kb_per_item,
        progress=progress,
    )
    print("\n".join(summary_lines(result)))
    print()
    print("\n".join(route_table(result)))
    if args.output:
        Path(args.output).write_text(json.dumps(to_json(result), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        progress(f"wrote {args.output}")
    return 1 if verdict(result) else 0


if __name__ == "__main__":
    sys.exit(main())
