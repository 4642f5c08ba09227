"""What a million purchases cost in AWS, from what the bench measured.

DynamoDB's share comes from the computed request units of the purchase
(`capacity.usd_per_million`, the round-trip bench's numbers). Lambda's
duration is not measured here (there is no Lambda): it is assumed, from the
app's own time per purchase measured in process (`purchase_time.py`, moto's
time left out), scaled to the CPU share Lambda gives the configured memory,
plus an assumed DynamoDB latency per round trip. Every price and assumption is
a constant below, stated in the report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .capacity import USD_PER_MILLION_RRU, USD_PER_MILLION_WRU, usd_per_million

# List prices, us-east-1, as published in 2025 (DynamoDB's after the November 2024
# on-demand price cut, in capacity.py). Not fetched at run time: check the AWS price pages.
PRICE_REGION = "us-east-1"
PRICES_AS_OF = "2025"
LAMBDA_USD_PER_MILLION_REQUESTS = 0.20
LAMBDA_USD_PER_GB_SECOND = 0.0000166667  # x86_64 (Chalice's default), first 6 billion GB-s a month
API_GATEWAY_REST_USD_PER_MILLION = 3.50  # REST API (what Chalice deploys), first 333 million a month
CLOUDWATCH_LOGS_USD_PER_GB = 0.50  # ingestion, standard log class

# Assumptions for the duration Lambda would bill.
LAMBDA_MB_PER_VCPU = 1769  # Lambda: one vCPU at 1,769 MB, CPU in proportion to memory below that
ASSUMED_DYNAMODB_MS = 10.0  # per round trip seen from Lambda in the same region (AWS quotes single-digit ms)

MILLION = 1_000_000
GB = 1_000_000_000


@dataclass
class Line:
    component: str
    usd: float | None  # per million purchases; None: not priced
    basis: str


@dataclass
class PurchaseCost:
    memory_mb: int
    deployed_region: str
    app_ms: float  # measured here, outside DynamoDB calls
    cpu_factor: float  # how much slower the app's CPU work runs at memory_mb than on a full core
    round_trips: int
    duration_ms: float  # assumed Lambda duration
    billed_ms: int
    lines: list[Line] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines if line.usd is not None)


def lambda_memory() -> tuple[int, str]:
    """The API function's memory (MB) and the region of the production stage (infra/stages.py)."""
    from infra.stages import STAGES

    stage = STAGES["prod"]
    return stage.memory_mb, stage.region


def purchase_cost(
    *,
    rru: float,
    wru: float,
    round_trips: int,
    app_ms: float,
    sns_publishes: int,
    log_bytes: float,
    log_lines: float,
) -> PurchaseCost:
    """Per million purchases, component by component."""
    memory_mb, region = lambda_memory()
    cpu_factor = max(1.0, LAMBDA_MB_PER_VCPU / memory_mb)
    duration_ms = app_ms * cpu_factor + round_trips * ASSUMED_DYNAMODB_MS
    billed_ms = math.ceil(duration_ms)  # Lambda bills duration in 1 ms steps
    gb_seconds = memory_mb / 1024 * billed_ms / 1000
    cost = PurchaseCost(memory_mb, region, app_ms, cpu_factor, round_trips, duration_ms, billed_ms)
    cost.lines.append(Line("API Gateway (REST)", API_GATEWAY_REST_USD_PER_MILLION, f"${API_GATEWAY_REST_USD_PER_MILLION:.2f} per million requests"))
    cost.lines.append(
        Line(
            "DynamoDB (on demand)",
            usd_per_million(rru, wru),
            f"{rru:g} RRU x ${USD_PER_MILLION_RRU} + {wru:g} WRU x ${USD_PER_MILLION_WRU} per million (computed from item sizes)",
        )
    )
    cost.lines.append(Line("Lambda requests", LAMBDA_USD_PER_MILLION_REQUESTS, f"${LAMBDA_USD_PER_MILLION_REQUESTS:.2f} per million invocations"))
    cost.lines.append(
        Line(
            "Lambda duration",
            MILLION * gb_seconds * LAMBDA_USD_PER_GB_SECOND,
            f"{billed_ms} ms billed at {memory_mb} MB = {gb_seconds:.4f} GB-s x ${LAMBDA_USD_PER_GB_SECOND:.10f} per GB-s",
        )
    )
    cost.lines.append(
        Line(
            "CloudWatch Logs",
            MILLION * log_bytes / GB * CLOUDWATCH_LOGS_USD_PER_GB,
            f"{log_bytes:.0f} bytes in {log_lines:.1f} lines per purchase (the app's log and EMF metrics lines, measured) x "
            f"${CLOUDWATCH_LOGS_USD_PER_GB:.2f} per GB ingested",
        )
    )
    if sns_publishes:
        cost.lines.append(Line("SNS", None, f"{sns_publishes} SMS per purchase: priced per destination country, not included"))
    else:
        cost.lines.append(Line("SNS", 0.0, "no message is sent for a known member's purchase"))
    return cost
