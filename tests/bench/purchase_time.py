"""Where a purchase's time goes, in process: the app's own work against its DynamoDB calls.

The app runs as in the round-trip bench (`tests.support.client.ApiClient`, the
local gateway emulation, over moto's `mock_aws` with the local stack's light
transaction snapshots). Members are enrolled through the API; after a warm-up,
purchases by phone are sent one at a time, each timed whole, and the
recorder (in timing-only mode, so its own work stays out) times every
DynamoDB call from botocore's `before-call` to `after-call`: signing, moto's
work, parsing the answer. Both in wall-clock time and in the thread's CPU
time, which other work on a shared machine does not stretch. What is left is the app's own time: the gateway
emulation, validation, the rules, building the requests (botocore serialises
before `before-call`), logging. That part is what a Lambda function would
spend on CPU; the DynamoDB part is moto's, and in AWS would be a network wait.

A second pass runs the same purchases under cProfile and sums self time per
top-level package (a C function's time goes to the package that called it).
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import logging
import os
import pstats
import statistics
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .recorder import Recorder

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PURCHASES = 200
MEMBERS = 20
WARMUP = 20


@dataclass
class PurchaseTime:
    purchases: int
    total_ms: list[float] = field(default_factory=list)  # each purchase, whole (wall clock)
    dynamodb_ms: list[float] = field(default_factory=list)  # each purchase, in its DynamoDB calls (wall clock)
    total_cpu_ms: list[float] = field(default_factory=list)  # the same in CPU time of the thread: what other
    dynamodb_cpu_ms: list[float] = field(default_factory=list)  # work on the machine does not stretch
    round_trips: list[int] = field(default_factory=list)
    profile_ms: dict[str, float] = field(default_factory=dict)  # package -> self time over the profiled pass
    call_cpu_ms: dict[str, list[float]] = field(default_factory=dict)  # DynamoDB operation -> CPU ms of each call
    output_bytes: float = 0.0  # log and metrics output per purchase (what CloudWatch Logs would ingest from the app)
    output_lines: float = 0.0
    table_items: int = 0  # in the table at the end
    profiled: int = 0
    error: str = ""

    @property
    def app_ms(self) -> list[float]:
        return [t - d for t, d in zip(self.total_ms, self.dynamodb_ms, strict=True)]

    @property
    def app_cpu_ms(self) -> list[float]:
        return [t - d for t, d in zip(self.total_cpu_ms, self.dynamodb_cpu_ms, strict=True)]

    @property
    def median_app_cpu(self) -> float:
        return statistics.median(self.app_cpu_ms)

    @property
    def median_total_cpu(self) -> float:
        return statistics.median(self.total_cpu_ms)

    @property
    def median_dynamodb_cpu(self) -> float:
        return statistics.median(self.dynamodb_cpu_ms)

    @property
    def median_total(self) -> float:
        return statistics.median(self.total_ms)

    @property
    def median_dynamodb(self) -> float:
        return statistics.median(self.dynamodb_ms)

    @property
    def median_app(self) -> float:
        return statistics.median(self.app_ms)

    @property
    def median_round_trips(self) -> int:
        return round(statistics.median(self.round_trips))

    def median_call_cpu(self, operation: str) -> float:
        values = self.call_cpu_ms.get(operation, [])
        return statistics.median(values) if values else 0.0

    def heaviest(self, n: int = 8) -> list[tuple[str, float]]:
        """(package, share of the profiled time), largest first."""
        total = sum(self.profile_ms.values()) or 1.0
        return [(name, ms / total) for name, ms in sorted(self.profile_ms.items(), key=lambda kv: -kv[1])[:n]]


def _package(filename: str) -> str:
    """The top-level package (or stdlib module) a code object's file belongs to."""
    path = filename.replace("\\", "/")
    if "/site-packages/" in path:
        return path.split("/site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    root = str(ROOT) + "/"
    if path.startswith(root):
        return path[len(root) :].split("/", 1)[0].removesuffix(".py")
    if path.startswith("<frozen "):
        return path.removeprefix("<frozen ").rstrip(">").split(".")[0]
    stdlib = f"/lib/python{sys.version_info.major}.{sys.version_info.minor}/"
    if stdlib in path:
        return path.split(stdlib, 1)[1].split("/", 1)[0].removesuffix(".py")
    return path or "?"


def self_time_by_package(stats: pstats.Stats) -> dict[str, float]:
    """Self time (ms) per package; a built-in's self time is charged to its callers' packages."""
    by_package: dict[str, float] = defaultdict(float)
    raw = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, callers) in raw.items():
        if filename != "~":
            by_package[_package(filename)] += tottime * 1000
            continue
        for (caller_file, _l, _n), caller_stats in callers.items():
            by_package[_package(caller_file) if caller_file != "~" else "builtins"] += caller_stats[2] * 1000
    return dict(by_package)


def measure_purchase_time(recorder: Recorder, purchases: int = DEFAULT_PURCHASES) -> PurchaseTime:
    """Time `purchases` purchases by phone in process; `recorder` must be installed first."""
    from localstage.aws import light_transaction_snapshots
    from tests.support.rules import set_rules

    from .roundtrips import in_process_app

    result = PurchaseTime(purchases)
    with in_process_app(recorder) as d, light_transaction_snapshots():
        # One client address signs up every member: the suite's sending limits (setup, not measured).
        set_rules(d.session)
        phones = [f"+86135{n:08d}" for n in range(MEMBERS)]
        for phone in phones:
            d.signup(phone)
            d.expect(d.verify(phone), 200)

        def purchase(n: int) -> int:
            return int(d.purchase(f"ord-{uuid.uuid4().hex[:16]}", 1_000 + n, phones[n % len(phones)]).status)

        with lambda_output() as output:
            _timed(result, recorder, purchase, output)
        table = d.session.client("dynamodb").describe_table(TableName=d.table_name)["Table"]
        result.table_items = int(table.get("ItemCount", 0))
    return result


@contextlib.contextmanager
def lambda_output() -> Iterator[io.StringIO]:
    """What the function writes in Lambda, into a buffer: the app's log lines at INFO (the deployed
    stages' level) and one EMF metrics line per request (metrics are disabled in tests)."""
    from chalicelib.observability import logger, metrics

    buffer = io.StringIO()
    handler = logger.registered_handler
    old_stream = handler.setStream(buffer) if isinstance(handler, logging.StreamHandler) else None
    old_level = logger.log_level
    old_disabled = os.environ.get("POWERTOOLS_METRICS_DISABLED")
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "false"
    metrics.clear_metrics()  # what piled up while they were disabled
    logger.setLevel("INFO")
    try:
        with contextlib.redirect_stdout(buffer):  # powertools prints the EMF line
            yield buffer
    finally:
        logger.setLevel(old_level)
        if old_stream is not None and isinstance(handler, logging.StreamHandler):
            handler.setStream(old_stream)
        if old_disabled is None:
            os.environ.pop("POWERTOOLS_METRICS_DISABLED", None)
        else:
            os.environ["POWERTOOLS_METRICS_DISABLED"] = old_disabled


def _timed(result: PurchaseTime, recorder: Recorder, purchase: Callable[[int], int], output: io.StringIO) -> None:
    for n in range(WARMUP):
        if purchase(n) != 201:
            raise RuntimeError("a warm-up purchase was refused")
    output.seek(0)
    output.truncate()
    for n in range(result.purchases):
        recorder.start(price=False)
        began, began_cpu = time.perf_counter(), time.thread_time()
        try:
            status = purchase(n)
        finally:
            took, took_cpu = time.perf_counter() - began, time.thread_time() - began_cpu
            calls = [c for c in recorder.stop() if c.service == "dynamodb"]
        if status != 201:
            result.error = f"a timed purchase answered {status}"
            break
        result.total_ms.append(took * 1000)
        result.dynamodb_ms.append(sum(c.seconds for c in calls) * 1000)
        result.total_cpu_ms.append(took_cpu * 1000)
        result.dynamodb_cpu_ms.append(sum(c.cpu_seconds for c in calls) * 1000)
        result.round_trips.append(len(calls))
        for c in calls:
            result.call_cpu_ms.setdefault(c.operation, []).append(c.cpu_seconds * 1000)
    if result.total_ms:
        result.output_bytes = len(output.getvalue().encode()) / len(result.total_ms)
        result.output_lines = output.getvalue().count("\n") / len(result.total_ms)
    profiler = cProfile.Profile()
    count = result.purchases // 2
    profiler.enable()
    try:
        for n in range(count):
            purchase(n)
    finally:
        profiler.disable()
    result.profiled = count
    result.profile_ms = self_time_by_package(pstats.Stats(profiler))
