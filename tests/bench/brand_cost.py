"""What a brand pays a month: docs/cost.md, from what the bench measured.

`cost.py` prices one million purchases; this prices a month of a whole
programme for brands of 1,000, 100,000 and 10,000,000 members:

- **Per request**, the DynamoDB calls and computed request units of every kind
  of request a programme makes (the round-trip bench's eight, and the others
  measured here the same way: the app in process over moto, one warm-up of each
  kind first), each also paying API Gateway, Lambda (requests and an assumed
  duration, as in `cost.py`), WAF inspection and CloudWatch Logs.
- **Per job**, the request units per member acted on, measured by the jobs
  bench (`jobs.py`); the daily reconcile reads the whole table (a Scan).
- **Fixed**, what a deployed stage holds whatever its traffic, counted in the
  synthesized prod template (`infra/`): the dashboard, the alarms (and the
  metrics each reads), the WAF web ACL and its rules, the secret, the KMS
  keys, and custom metrics by the names the app emits.
- **Storage**, the table (and its point-in-time backups) from the item sizes
  the requests wrote, and the logs kept for the stage's retention.
- **SMS** apart, per message: Amazon SNS and a China SMS provider's list price.

Every price and every usage assumption is a named constant below; the document
says which are list prices (and when), and which are assumptions.

    .venv/bin/python -m tests.bench.brand_cost [--output docs/cost.md] [--job-sizes 2000]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .capacity import USD_PER_MILLION_RRU, USD_PER_MILLION_WRU
from .cost import (
    API_GATEWAY_REST_USD_PER_MILLION,
    ASSUMED_DYNAMODB_MS,
    CLOUDWATCH_LOGS_USD_PER_GB,
    LAMBDA_MB_PER_VCPU,
    LAMBDA_USD_PER_GB_SECOND,
    LAMBDA_USD_PER_MILLION_REQUESTS,
    PRICE_REGION,
    PRICES_AS_OF,
)
from .progress import stderr_progress

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = ROOT / "docs" / "cost.md"
MILLION = 1_000_000
GB = 1_000_000_000
DAYS_PER_MONTH = 30.4
BRAND_SIZES = (1_000, 100_000, 10_000_000)

# --- AWS list prices (us-east-1, as published in 2025, like cost.py's; not fetched) -----------------
DYNAMODB_STORAGE_USD_PER_GB_MONTH = 0.25  # standard table class, beyond the first 25 GB free
DYNAMODB_PITR_USD_PER_GB_MONTH = 0.20  # continuous backups, on the table's size
SQS_USD_PER_MILLION = 0.40  # standard queue, beyond the first million a month (free tier not deducted)
CLOUDWATCH_LOGS_STORAGE_USD_PER_GB_MONTH = 0.03  # archived (compressed) bytes
CLOUDWATCH_DASHBOARD_USD_MONTH = 3.00  # beyond the three the account gets free (not deducted)
CLOUDWATCH_ALARM_METRIC_USD_MONTH = 0.10  # a standard-resolution alarm, per metric it evaluates
CLOUDWATCH_CUSTOM_METRIC_USD_MONTH = 0.30  # first 10,000 metrics (a name with its dimension values), prorated by the hour
HOURS_PER_MONTH = 730  # a custom metric is billed for the hours in which it is published
WAF_WEB_ACL_USD_MONTH = 5.00
WAF_RULE_USD_MONTH = 1.00  # each rule, an AWS managed rule group counts as one
WAF_USD_PER_MILLION_REQUESTS = 0.60
SECRETS_MANAGER_USD_PER_SECRET_MONTH = 0.40
KMS_KEY_USD_MONTH = 1.00  # a customer-managed key (its requests: $0.03 per 10,000, DynamoDB caches data keys)
CLOUDFRONT_FREE_REQUESTS = 10 * MILLION  # always-free tier, a month
CLOUDFRONT_FREE_GB = 1_000
CLOUDFRONT_USD_PER_10K_REQUESTS = 0.0120  # HTTPS, Asia Pacific edges (0.0100 in North America)
CLOUDFRONT_USD_PER_GB = 0.120  # data out, Asia Pacific edges, first 10 TB (0.085 in North America)

# --- SMS, per message (one 70-character UCS-2 part: every message here is Chinese) -------------------
# Amazon SNS prices SMS per destination country and changes them often; the figure for China mainland
# is an ASSUMPTION here (no network to check it): aws.amazon.com/sns/sms-pricing before quoting.
SNS_SMS_USD_CHINA = 0.030
# Alibaba Cloud SMS (阿里云短信服务), domestic messages, pay as you go: 0.045 CNY a message as published
# (cited as "as of the end of 2023"; packages of 50,000+ from about 0.032-0.035 CNY).
CHINA_SMS_CNY = 0.045
CNY_PER_USD = 7.2  # an assumption: the 2024-2025 range was about 7.1 to 7.3

# --- The usage profile: a café chain or retail brand, per member per month ------------------------
ACTIVE_SHARE = 0.30  # members who buy at least once in a month
PURCHASES_PER_ACTIVE = 2.0
BY_PHONE_SHARE = 0.20  # the till types the phone; the rest scan the member's code (by member id)
MONTHS_FIRST_SHARE = min(1.0, 1 / PURCHASES_PER_ACTIVE)  # a known member's first purchase of the month: opens its lot
UNKNOWN_PHONE_SHARE = 0.02  # purchases by a phone the programme does not know: enrols a pending member, one invite SMS
REFUND_SHARE = 0.03  # of purchases
NEW_MEMBER_SHARE = 0.02  # of members, a month: sign up and verify (first sign-in)
SIGN_INS_PER_ACTIVE = 1.5  # returning sign-ins (a code by SMS and its verification): access tokens last 15 minutes
ME_READS_PER_SIGN_IN = 3.0  # GET /v1/me
LEDGER_READS_PER_SIGN_IN = 1.0  # GET /v1/me/ledger
REWARDS_READS_PER_SIGN_IN = 1.0  # GET /v1/rewards
REDEMPTIONS_PER_ACTIVE = 0.15
WALLET_SHARE = 0.10  # of active members: one top-up and three payments a month
WALLET_PAYMENTS_PER_WALLET = 3.0
OPERATOR_LOOKUPS_PER_MEMBER = 0.01  # an operator finds a member by phone (support)
EXPORTS_PER_MEMBER = 0.001  # a member downloads their data (GET /v1/me/export)
WEB_SHARE_OF_SIGN_INS = 0.5  # member requests through the web app (CloudFront); the rest from an app, straight to the API
WEB_FIRST_LOAD_BYTES = 200_000  # what a phone downloads on a cold visit (the JS budget plus HTML, CSS, fonts): an assumption
# Scheduled jobs, members acted on a month (each of its kind's measured cost per member acted on):
BIRTHDAY_KNOWN_SHARE = 0.6  # members who gave a birthday: one in twelve of them a month
EXPIRING_SHARE = ACTIVE_SHARE  # a month's earnings expire together twelve months later (one lot a month)
EXPIRY_ACTIONS = 3  # the 30- and 7-day reminders and the expiry itself
IDLE_NUDGE_SHARE = 0.10  # members reaching 30, 60 or 90 idle days in a month
MARKETING_CONSENT_SHARE = 0.5  # members who accept marketing SMS (birthday greetings, reminders, nudges, campaigns)
CAMPAIGN_SMS_PER_CONSENTING_MEMBER = 1.0  # a brand's own campaign a month (promotions themselves ride on purchases)
JOB_UNITS_PER_DAY = 120  # queue messages a day, every job's units (8 index shards x buckets, 16 reconcile segments): an upper bound
# Storage and logs:
HISTORY_MONTHS = 12  # priced after a year of the profile's history
ITEM_OVERHEAD_BYTES = 100  # DynamoDB's per-item storage overhead
LOG_COMPRESSION = 0.15  # archived log bytes / ingested bytes: an assumption
LAMBDA_PLATFORM_LOG_BYTES = 330  # START, END and REPORT lines per invocation
API_ACCESS_LOG_BYTES = 450  # one access-log line per API request (infra/stack.py's format, no bodies)
ASSUMED_APP_MS = 20.0  # the app's own CPU time per request when the purchase's is not measured in this run
ASSUMED_LOG_BYTES = 1_200  # the app's log and metrics lines per request when not measured in this run

# --- SaaS programmes a brand would otherwise buy (list prices as published; checked offline) --------
SAAS_PRICES: tuple[tuple[str, str, str, str], ...] = (
    ("Smile.io", "Free", "USD 0 a month, up to 200 orders a month", "smile.io help centre, 2025-2026"),
    ("Smile.io", "Standard", "USD 79 a month (order-limited)", "smile.io pricing as reported by botapolis.com, verified 2026-06-04"),
    ("Smile.io", "Growth", "USD 199 a month and up (billed by order volume)", "smile.io pricing as reported by botapolis.com, verified 2026-06-04"),
    ("Smile.io", "Plus, Enterprise", "billed by order volume; not published beyond", "smile.io help centre, 2025-2026"),
    ("有赞 Youzan 微商城", "基础版 basic", "CNY 6,800 a year (about USD 79 a month)", "list price as remembered from 2021-2023: NOT verified here"),
    ("Antavo, Capillary, Comarch", "enterprise loyalty", "price on request (annual contracts)", "not published"),
)


# --- what was measured ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestUse:
    """What one request of a kind costs in AWS calls, as measured."""

    label: str
    rru: float
    wru: float
    round_trips: int
    sms: int = 0  # SNS publishes (SMS)
    bytes_stored: int = 0  # bytes of the items it created (their size, plus DynamoDB's overhead per item)


@dataclass(frozen=True)
class JobUse:
    """A job's request units and round trips per member acted on (a whole run over the acted)."""

    job: str
    rru: float
    wru: float
    round_trips: float
    measured_members: int
    acted: int


@dataclass(frozen=True)
class Fixed:
    """What a synthesized stage template holds that costs money whatever the traffic."""

    dashboards: int = 0
    alarms: int = 0
    alarm_metrics: int = 0  # the metrics the alarms evaluate (a metric-math alarm pays for each)
    web_acls: int = 0
    waf_rules: int = 0
    secrets: int = 0
    kms_keys: int = 0
    log_groups: int = 0
    log_retention_days: int = 0
    distributions: int = 0
    pitr: bool = False
    app_metrics: int = 0  # business metrics the API emits as its requests happen
    daily_metrics: int = 0  # the jobs' metrics and the reconcile's ledger metrics: published once a day


@dataclass
class Line:
    component: str
    usd: float
    basis: str
    fixed: bool = False


@dataclass
class Bill:
    members: int
    lines: list[Line] = field(default_factory=list)
    sms_messages: float = 0.0
    requests: float = 0.0

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)

    @property
    def fixed(self) -> float:
        return sum(line.usd for line in self.lines if line.fixed)

    @property
    def sms_sns_usd(self) -> float:
        return self.sms_messages * SNS_SMS_USD_CHINA

    @property
    def sms_china_usd(self) -> float:
        return self.sms_messages * CHINA_SMS_CNY / CNY_PER_USD


# --- the monthly volumes --------------------------------------------------------------------------


def monthly_requests(members: int) -> dict[str, float]:
    """Requests of each measured kind a month for a brand of `members`, under the usage profile."""
    active = members * ACTIVE_SHARE
    purchases = active * PURCHASES_PER_ACTIVE
    sign_ins = active * SIGN_INS_PER_ACTIVE
    new = members * NEW_MEMBER_SHARE
    sessions = sign_ins + new
    wallets = active * WALLET_SHARE
    known = purchases * (1 - UNKNOWN_PHONE_SHARE)
    # A member's first purchase of a month also opens the month's lot (store/ledger.open_lot); it is
    # measured by phone and priced so whichever way the member is named (by id it reads 0.5 RRU more).
    firsts = known * MONTHS_FIRST_SHARE
    return {
        "POST /v1/purchases (by phone)": (known - firsts) * BY_PHONE_SHARE,
        "POST /v1/purchases (by phone, the month's first)": firsts,
        "POST /v1/purchases (by member id)": (known - firsts) * (1 - BY_PHONE_SHARE),
        "POST /v1/purchases (unknown phone)": purchases * UNKNOWN_PHONE_SHARE,
        "POST /v1/purchases/{order_id}/refunds": purchases * REFUND_SHARE,
        "POST /v1/signup": new,
        "POST /v1/auth/verify (first sign-in)": new,
        "POST /v1/auth/code": sign_ins,
        "POST /v1/auth/verify (returning)": sign_ins,
        "GET /v1/me": sessions * ME_READS_PER_SIGN_IN,
        "GET /v1/me/ledger": sessions * LEDGER_READS_PER_SIGN_IN,
        "GET /v1/rewards": sessions * REWARDS_READS_PER_SIGN_IN,
        "POST /v1/me/redemptions": active * REDEMPTIONS_PER_ACTIVE,
        "POST /v1/wallet/topups": wallets,
        "POST /v1/wallet/payments": wallets * WALLET_PAYMENTS_PER_WALLET,
        "GET /v1/admin/members?phone=": members * OPERATOR_LOOKUPS_PER_MEMBER,
        "GET /v1/me/export": members * EXPORTS_PER_MEMBER,
    }


def monthly_orders(members: int) -> float:
    """Purchases a month, what order-billed SaaS programmes count."""
    return members * ACTIVE_SHARE * PURCHASES_PER_ACTIVE


def monthly_job_members(members: int) -> dict[str, float]:
    """Members each job acts on in a month."""
    return {
        "birthday-bonus": members * BIRTHDAY_KNOWN_SHARE / 12,
        "expire-points": members * EXPIRING_SHARE * EXPIRY_ACTIONS,
        "reengagement": members * IDLE_NUDGE_SHARE,
        "tier-review": members / 12,
    }


def monthly_job_messages(members: int) -> float:
    """Marketing SMS the jobs send a month (to consenting members), and the brand's campaigns."""
    acted = monthly_job_members(members)
    by_jobs = acted["birthday-bonus"] + acted["reengagement"] + acted["expire-points"] * 2 / EXPIRY_ACTIONS  # the two reminders
    return (by_jobs + members * CAMPAIGN_SMS_PER_CONSENTING_MEMBER) * MARKETING_CONSENT_SHARE


def table_bytes(members: int, uses: Mapping[str, RequestUse], member_item_bytes: int) -> float:
    """The table's size after HISTORY_MONTHS of the profile: the members and what their requests created."""
    monthly = sum(uses[kind].bytes_stored * n for kind, n in monthly_requests(members).items() if kind in uses)
    return members * (member_item_bytes + ITEM_OVERHEAD_BYTES) + monthly * HISTORY_MONTHS


# --- the bill ---------------------------------------------------------------------------------------


def lambda_usd(requests: float, round_trips: float, app_ms: float, memory_mb: int) -> float:
    """Lambda duration for `requests` of `round_trips` each (as cost.py assumes it), in USD."""
    cpu_factor = max(1.0, LAMBDA_MB_PER_VCPU / memory_mb)
    billed_ms = math.ceil(app_ms * cpu_factor + round_trips * ASSUMED_DYNAMODB_MS)
    return requests * memory_mb / 1024 * billed_ms / 1000 * LAMBDA_USD_PER_GB_SECOND


def fixed_lines(fixed: Fixed) -> list[Line]:
    """A stage's monthly costs whatever its traffic."""
    lines = [
        Line(
            "CloudWatch dashboard",
            fixed.dashboards * CLOUDWATCH_DASHBOARD_USD_MONTH,
            f"{fixed.dashboards} x ${CLOUDWATCH_DASHBOARD_USD_MONTH:.2f}",
            True,
        ),
        Line(
            "CloudWatch alarms",
            fixed.alarm_metrics * CLOUDWATCH_ALARM_METRIC_USD_MONTH,
            f"{fixed.alarms} alarms evaluating {fixed.alarm_metrics} metrics x ${CLOUDWATCH_ALARM_METRIC_USD_MONTH:.2f}",
            True,
        ),
        Line(
            "WAF web ACL and rules",
            fixed.web_acls * WAF_WEB_ACL_USD_MONTH + fixed.waf_rules * WAF_RULE_USD_MONTH,
            f"{fixed.web_acls} web ACL x ${WAF_WEB_ACL_USD_MONTH:.2f} + {fixed.waf_rules} rules x ${WAF_RULE_USD_MONTH:.2f}",
            True,
        ),
        Line(
            "Secrets Manager",
            fixed.secrets * SECRETS_MANAGER_USD_PER_SECRET_MONTH,
            f"{fixed.secrets} secret x ${SECRETS_MANAGER_USD_PER_SECRET_MONTH:.2f}",
            True,
        ),
        Line("KMS keys", fixed.kms_keys * KMS_KEY_USD_MONTH, f"{fixed.kms_keys} customer-managed key x ${KMS_KEY_USD_MONTH:.2f}", True),
    ]
    return [line for line in lines if line.usd]


def monthly_bill(
    members: int,
    uses: Mapping[str, RequestUse],
    jobs: Mapping[str, JobUse],
    fixed: Fixed,
    *,
    memory_mb: int,
    member_item_bytes: int,
    app_ms: float = ASSUMED_APP_MS,
    log_bytes: float = ASSUMED_LOG_BYTES,
) -> Bill:
    """A month of the usage profile for a brand of `members`, component by component (USD)."""
    bill = Bill(members)
    volumes = {kind: n for kind, n in monthly_requests(members).items() if kind in uses}
    requests = sum(volumes.values())
    bill.requests = requests
    rru = sum(uses[k].rru * n for k, n in volumes.items())
    wru = sum(uses[k].wru * n for k, n in volumes.items())
    round_trips = {k: uses[k].round_trips for k in volumes}
    bill.sms_messages = sum(uses[k].sms * n for k, n in volumes.items()) + monthly_job_messages(members)

    # Jobs: request units per member acted on; the daily reconcile reads the whole table.
    size = table_bytes(members, uses, member_item_bytes)
    job_rru = sum(jobs[j].rru * n for j, n in monthly_job_members(members).items() if j in jobs)
    job_wru = sum(jobs[j].wru * n for j, n in monthly_job_members(members).items() if j in jobs)
    scan_rru = math.ceil(size / 4096) * 0.5 * DAYS_PER_MONTH  # eventually consistent Scan, every day
    units = JOB_UNITS_PER_DAY * DAYS_PER_MONTH

    bill.lines += [
        Line(
            "API Gateway (REST)",
            requests / MILLION * API_GATEWAY_REST_USD_PER_MILLION,
            f"{requests:,.0f} requests x ${API_GATEWAY_REST_USD_PER_MILLION}/M",
        ),
        Line(
            "WAF requests",
            requests / MILLION * WAF_USD_PER_MILLION_REQUESTS * (1 if fixed.web_acls else 0),
            f"{requests:,.0f} inspected x ${WAF_USD_PER_MILLION_REQUESTS}/M" if fixed.web_acls else "no web ACL",
        ),
        Line(
            "Lambda requests",
            (requests + units) / MILLION * LAMBDA_USD_PER_MILLION_REQUESTS,
            f"{requests:,.0f} API + {units:,.0f} job invocations (at most one a unit) x ${LAMBDA_USD_PER_MILLION_REQUESTS}/M",
        ),
        Line(
            "Lambda duration",
            sum(lambda_usd(n, round_trips[k], app_ms, memory_mb) for k, n in volumes.items()),
            f"{memory_mb} MB; the app's {app_ms:.1f} ms of CPU per request scaled to {memory_mb} MB, "
            f"plus {ASSUMED_DYNAMODB_MS:g} ms per DynamoDB round trip (cost.py)",
        ),
        Line(
            "DynamoDB requests (API)",
            rru / MILLION * USD_PER_MILLION_RRU + wru / MILLION * USD_PER_MILLION_WRU,
            f"{rru:,.0f} RRU + {wru:,.0f} WRU (computed from item sizes, per kind of request)",
        ),
        Line(
            "DynamoDB requests (jobs)",
            (job_rru + scan_rru) / MILLION * USD_PER_MILLION_RRU + job_wru / MILLION * USD_PER_MILLION_WRU,
            f"{job_rru:,.0f} RRU + {job_wru:,.0f} WRU for members acted on, {scan_rru:,.0f} RRU for the daily reconcile Scan",
        ),
        Line("SQS (job units)", units * 3 / MILLION * SQS_USD_PER_MILLION, f"{units:,.0f} units x 3 requests (send, receive, delete)"),
        Line(
            "DynamoDB storage",
            size / GB * DYNAMODB_STORAGE_USD_PER_GB_MONTH,
            f"{size / GB:,.3f} GB after {HISTORY_MONTHS} months x ${DYNAMODB_STORAGE_USD_PER_GB_MONTH}/GB (first 25 GB free, not deducted)",
        ),
        Line(
            "Point-in-time recovery",
            size / GB * DYNAMODB_PITR_USD_PER_GB_MONTH * fixed.pitr,
            f"{size / GB:,.3f} GB x ${DYNAMODB_PITR_USD_PER_GB_MONTH}/GB" if fixed.pitr else "off",
        ),
    ]
    ingested = requests * (log_bytes + LAMBDA_PLATFORM_LOG_BYTES + API_ACCESS_LOG_BYTES)
    kept_months = min(fixed.log_retention_days / 30.4, HISTORY_MONTHS) if fixed.log_retention_days else HISTORY_MONTHS
    bill.lines += [
        Line("CloudWatch Logs ingestion", ingested / GB * CLOUDWATCH_LOGS_USD_PER_GB, f"{ingested / GB:,.3f} GB a month"),
        Line(
            "CloudWatch Logs storage",
            ingested * kept_months * LOG_COMPRESSION / GB * CLOUDWATCH_LOGS_STORAGE_USD_PER_GB_MONTH,
            f"{kept_months:.0f} months kept x {LOG_COMPRESSION:.0%} compressed",
        ),
    ]
    web_requests = sum(
        volumes.get(k, 0.0) for k in volumes if k.startswith(("GET /v1/me", "GET /v1/rewards", "POST /v1/me", "POST /v1/auth", "POST /v1/signup"))
    )
    web_requests *= WEB_SHARE_OF_SIGN_INS
    web_visits = (monthly_requests(members)["POST /v1/auth/code"] + monthly_requests(members)["POST /v1/signup"]) * WEB_SHARE_OF_SIGN_INS
    cdn_requests = web_requests + web_visits * 10  # the page and its files
    cdn_gb = web_visits * WEB_FIRST_LOAD_BYTES / GB
    bill.lines.append(
        Line(
            "CloudFront",
            fixed.distributions
            * (
                max(0.0, cdn_requests - CLOUDFRONT_FREE_REQUESTS) / 10_000 * CLOUDFRONT_USD_PER_10K_REQUESTS
                + max(0.0, cdn_gb - CLOUDFRONT_FREE_GB) * CLOUDFRONT_USD_PER_GB
            ),
            f"{cdn_requests:,.0f} requests, {cdn_gb:,.1f} GB (free: {CLOUDFRONT_FREE_REQUESTS / MILLION:.0f} M requests, {CLOUDFRONT_FREE_GB:,} GB)",
        )
    )
    # A custom metric is billed for the hours it is published in: an app metric in at most as many hours as
    # its events, taken as an equal share of the requests; a job's once a day.
    app_hours = min(HOURS_PER_MONTH, requests / fixed.app_metrics) if fixed.app_metrics else 0.0
    metric_hours = fixed.app_metrics * app_hours + fixed.daily_metrics * DAYS_PER_MONTH
    bill.lines.append(
        Line(
            "CloudWatch custom metrics",
            metric_hours / HOURS_PER_MONTH * CLOUDWATCH_CUSTOM_METRIC_USD_MONTH,
            f"{fixed.app_metrics} app metrics published {app_hours:,.0f} hours each, {fixed.daily_metrics} job metrics once a day; "
            f"${CLOUDWATCH_CUSTOM_METRIC_USD_MONTH:.2f} a metric-month, by the hour",
        )
    )
    bill.lines += fixed_lines(fixed)
    return bill


# --- counting what a stage deploys ------------------------------------------------------------------


def count_fixed(template: Mapping[str, Any], app_metrics: int = 0, daily_metrics: int = 0) -> Fixed:
    """The billable fixed resources of a synthesized template."""
    resources = template.get("Resources", {})

    def of(kind: str) -> list[dict[str, Any]]:
        return [r for r in resources.values() if r.get("Type") == kind]

    alarm_metrics = 0
    for alarm in of("AWS::CloudWatch::Alarm"):
        metrics = alarm.get("Properties", {}).get("Metrics")
        alarm_metrics += sum(1 for m in metrics if "MetricStat" in m) if metrics else 1
    acls = of("AWS::WAFv2::WebACL")
    retention = [int(g.get("Properties", {}).get("RetentionInDays", 0)) for g in of("AWS::Logs::LogGroup")]
    return Fixed(
        dashboards=len(of("AWS::CloudWatch::Dashboard")),
        alarms=len(of("AWS::CloudWatch::Alarm")),
        alarm_metrics=alarm_metrics,
        web_acls=len(acls),
        waf_rules=sum(len(a.get("Properties", {}).get("Rules", [])) for a in acls),
        secrets=len(of("AWS::SecretsManager::Secret")),
        kms_keys=len(of("AWS::KMS::Key")),
        log_groups=len(retention),
        log_retention_days=max(retention, default=0),
        distributions=len(of("AWS::CloudFront::Distribution")),
        pitr=any(
            t.get("Properties", {}).get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") for t in of("AWS::DynamoDB::Table")
        ),
        app_metrics=app_metrics,
        daily_metrics=daily_metrics,
    )


def app_metric_names() -> set[str]:
    """The business metrics the app emits (`observability.count("<name>")` in chalicelib)."""
    names: set[str] = set()
    for path in (ROOT / "chalicelib").rglob("*.py"):
        names.update(re.findall(r"\bcount\(\s*\"([A-Za-z]+)\"", path.read_text(encoding="utf-8")))
    return names


def custom_metric_counts() -> tuple[int, int]:
    """Distinct custom metrics a stage pays for: the app's business metrics (dimensions service and
    stage), and the daily ones: each job's metrics (one more dimension, the job) and the reconcile
    job's ledger metrics."""
    from chalicelib.jobs.specs import JOBS
    from infra.monitoring import JOB_METRICS

    ledger = ("OutstandingPoints", "OutstandingStoredValue", "LedgerDrift")
    return len(app_metric_names()), len(JOB_METRICS) * len(JOBS) + len(ledger)


def synthesize(stage_name: str = "prod", **changes: Any) -> dict[str, Any]:
    """One stage's CloudFormation template (as `make synth` makes it, without cdk-nag), with `changes` to its settings."""
    import dataclasses
    import os
    import tempfile

    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import aws_cdk as cdk

    import app as _app  # noqa: F401  (as the infra tests do: the stage is packaged from its own import)
    from infra.chalice_app import clean_packages
    from infra.stack import HuiyuanStack
    from infra.stages import STAGES

    stage = dataclasses.replace(STAGES[stage_name], **changes)
    with tempfile.TemporaryDirectory(prefix="huiyuan-cost-synth-") as out:
        cdk_app = cdk.App(outdir=out, builtin_cloud_formation_validation=False)
        stack = HuiyuanStack(cdk_app, stage)
        try:
            assembly = cdk_app.synth()
        finally:
            clean_packages()
        template: dict[str, Any] = json.loads((Path(assembly.directory) / stack.template_file).read_text())
    return template


# --- measuring the requests the round-trip bench does not ---------------------------------------


def request_use(m: Any) -> RequestUse:
    """A `roundtrips.Measured` as the bill needs it."""
    stored = sum(i.size + ITEM_OVERHEAD_BYTES for c in m.dynamodb if not c.error for i in c.items if i.action == "Put" and i.size)
    sms = sum(1 for c in m.others if c.service == "sns" and c.operation == "Publish")
    return RequestUse(m.label, m.rru, m.wru, m.round_trips, sms, stored)


def measure_other_requests(recorder: Any) -> list[Any]:
    """The kinds of request the usage profile has and `roundtrips.measure_round_trips` does not measure,
    the same way (in process over moto, one warm-up of each kind first)."""
    from chalicelib.store import keys

    from .roundtrips import MERCHANT, in_process_app

    results = []
    with in_process_app(recorder) as d:

        def member() -> tuple[str, str, str]:
            phone = d.phone()
            d.signup(phone)
            body = d.expect(d.verify(phone), 200).json()
            return phone, body["member"]["member_id"], body["access_token"]

        def twice(label: str, expected: int, request: Callable[[], Any]) -> Any:
            d.expect(request(), expected)  # warm-up
            measured = d.measure(label, None, expected, request)
            d.expect(measured.reply, expected)
            results.append(measured)
            return measured

        phone, member_id, token = member()
        twice("POST /v1/signup", 202, lambda: d.api.post("/v1/signup", {"phone": d.phone(), "name": "李娜"}))

        def code() -> Any:
            d.session.client("dynamodb").delete_item(TableName=d.table_name, Key={"pk": {"S": keys.phone_pk(phone)}, "sk": {"S": keys.SENT}})
            return d.api.post("/v1/auth/code", {"phone": phone})

        d.expect(code(), 202)  # warm-up
        d.session.client("dynamodb").delete_item(TableName=d.table_name, Key={"pk": {"S": keys.phone_pk(phone)}, "sk": {"S": keys.SENT}})
        results.append(d.measure("POST /v1/auth/code", None, 202, lambda: d.api.post("/v1/auth/code", {"phone": phone})))

        def purchase(amount: int = 12_850) -> Any:
            body = {"order_id": f"ord-{uuid.uuid4().hex[:12]}", "member_id": member_id, "amount": amount, "currency": "CNY", "store_id": "store-001"}
            return d.api.post("/v1/purchases", body, headers=MERCHANT)

        twice("POST /v1/purchases (by member id)", 201, purchase)

        def refund() -> Any:
            order_id = f"ord-{uuid.uuid4().hex[:12]}"
            body = {"order_id": order_id, "member_id": member_id, "amount": 10_000, "currency": "CNY", "store_id": "store-001"}
            d.expect(d.api.post("/v1/purchases", body, headers=MERCHANT), 201)
            return lambda: d.api.post(
                f"/v1/purchases/{order_id}/refunds", {"refund_id": f"rf-{uuid.uuid4().hex[:12]}", "amount": 4_000}, headers=MERCHANT
            )

        d.expect(refund()(), 201)  # warm-up
        results.append(d.measure("POST /v1/purchases/{order_id}/refunds", None, 201, refund()))

        def topup() -> Any:
            body = {"topup_id": f"tu-{uuid.uuid4().hex[:12]}", "member_id": member_id, "amount": 50_000, "currency": "CNY", "store_id": "store-001"}
            return d.api.post("/v1/wallet/topups", body, headers=MERCHANT)

        twice("POST /v1/wallet/topups", 201, topup)

        def pay() -> Any:
            body = {"payment_id": f"pay-{uuid.uuid4().hex[:12]}", "member_id": member_id, "amount": 2_000, "currency": "CNY", "store_id": "store-001"}
            return d.api.post("/v1/wallet/payments", body, headers=MERCHANT)

        twice("POST /v1/wallet/payments", 201, pay)
        twice("GET /v1/rewards", 200, lambda: d.api.get("/v1/rewards"))
        twice("GET /v1/admin/members?phone=", 200, lambda: d.api.get(f"/v1/admin/members?phone=%2B{phone.lstrip('+')}"))
        twice("GET /v1/me/export", 200, lambda: d.get("/v1/me/export", token))
    return results


# --- the whole estimate -------------------------------------------------------------------------------


@dataclass
class Estimate:
    uses: dict[str, RequestUse]
    jobs: dict[str, JobUse]
    fixed: Fixed
    lean: Fixed
    memory_mb: int
    region: str
    member_item_bytes: int
    app_ms: float
    log_bytes: float
    measured_app: bool  # app_ms and log_bytes measured in this run (else the ASSUMED_ constants)
    seconds: float = 0.0

    def bills(self, fixed: Fixed | None = None) -> list[Bill]:
        return [
            monthly_bill(
                n,
                self.uses,
                self.jobs,
                fixed or self.fixed,
                memory_mb=self.memory_mb,
                member_item_bytes=self.member_item_bytes,
                app_ms=self.app_ms,
                log_bytes=self.log_bytes,
            )
            for n in BRAND_SIZES
        ]


def job_uses(job_runs: list[Any]) -> dict[str, JobUse]:
    """Per member acted on, from the largest table the jobs bench measured (the whole run's units and
    round trips divided by the members acted on: the fixed part of a run is spread over them)."""
    if not job_runs:
        return {}
    largest = max(job_runs, key=lambda r: r.size)
    found = {}
    for m in largest.results:
        if m.error or not m.acted:
            continue
        found[m.job] = JobUse(m.job, m.rru / m.acted, m.wru / m.acted, m.round_trips / m.acted, m.size, m.acted)
    return found


def estimate(
    measured: list[Any],
    job_runs: list[Any],
    *,
    app_ms: float | None = None,
    log_bytes: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> Estimate:
    """Everything the bill needs, from the bench's measurements (round trips, jobs) and the synthesized prod template."""
    from infra.stages import STAGES

    say = progress or (lambda _m: None)
    started = time.perf_counter()
    uses = {m.label: request_use(m) for m in measured}
    member_item_bytes = max(
        (i.size for m in measured for c in m.dynamodb for i in c.items if i.entity == "Member"),
        default=650,
    )
    say("cost: synthesizing prod, and prod with the cheaper setting (web_acl=False, dashboard=False)")
    app_metrics, daily_metrics = custom_metric_counts()
    fixed = count_fixed(synthesize("prod"), app_metrics, daily_metrics)
    lean = count_fixed(synthesize("prod", web_acl=False, dashboard=False), app_metrics, daily_metrics)
    prod = STAGES["prod"]
    return Estimate(
        uses=uses,
        jobs=job_uses(job_runs),
        fixed=fixed,
        lean=lean,
        memory_mb=prod.memory_mb,
        region=prod.region,
        member_item_bytes=member_item_bytes,
        app_ms=app_ms if app_ms is not None else ASSUMED_APP_MS,
        log_bytes=log_bytes if log_bytes is not None else ASSUMED_LOG_BYTES,
        measured_app=app_ms is not None,
        seconds=time.perf_counter() - started,
    )


# --- the document ---------------------------------------------------------------------------------------


def _usd(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:,.2f}"
    return f"{value:.2f}" if value >= 0.005 else "0.00"


def _monthly_rows[M](header: str, monthly: Mapping[str, float], measured: Mapping[str, M], cells: Callable[[M], str], left_out: str) -> list[str]:
    """A Markdown table of what each request (or job) costs, one row a name in `monthly` (with
    how many a month): its measured `cells`, or "not measured" and `left_out` where it was not."""
    columns = header.count("|") - 1
    rows = [header, "|" + " --- |" * columns]
    for name, n in monthly.items():
        m = measured.get(name)
        if m is None:
            rows.append(f"| {name} | not measured |" + " |" * (columns - 3) + f" {n:,.0f} ({left_out}) |")
        else:
            rows.append(f"| {name} | {cells(m)} | {n:,.0f} |")
    return rows


def markdown(e: Estimate) -> str:
    bills, lean_bills = e.bills(), e.bills(e.lean)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    sizes = [f"{n:,} members" for n in BRAND_SIZES]
    components = [line.component for line in bills[0].lines]
    rows = ["| Component | " + " | ".join(sizes) + " | Basis (largest brand) |", "| --- | " + " | ".join("---:" for _ in sizes) + " | --- |"]
    for n, component in enumerate(components):
        cells = [_usd(b.lines[n].usd) for b in bills]
        rows.append(f"| {component}{' (fixed)' if bills[0].lines[n].fixed else ''} | " + " | ".join(cells) + f" | {bills[-1].lines[n].basis} |")
    rows.append("| **AWS, a month** | " + " | ".join(f"**{_usd(b.total)}**" for b in bills) + " | |")
    rows.append("| of which fixed | " + " | ".join(f"{_usd(b.fixed)} ({b.fixed / b.total:.0%})" for b in bills) + " | |")
    rows.append("| per 1,000 members | " + " | ".join(_usd(b.total / b.members * 1000) for b in bills) + " | |")
    sms = [
        "| SMS a month | " + " | ".join(sizes) + " |",
        "| --- | " + " | ".join("---:" for _ in sizes) + " |",
        "| messages | " + " | ".join(f"{b.sms_messages:,.0f}" for b in bills) + " |",
        f"| Amazon SNS at ${SNS_SMS_USD_CHINA} (assumed) | " + " | ".join(_usd(b.sms_sns_usd) for b in bills) + " |",
        f"| China provider at CNY {CHINA_SMS_CNY} (${CHINA_SMS_CNY / CNY_PER_USD:.4f}) | " + " | ".join(_usd(b.sms_china_usd) for b in bills) + " |",
    ]
    per_request = _monthly_rows(
        "| Request | RRU | WRU | Round trips | SMS | Bytes stored | A month (100,000 members) |",
        monthly_requests(100_000),
        e.uses,
        lambda u: f"{u.rru:g} | {u.wru:g} | {u.round_trips} | {u.sms} | {u.bytes_stored:,}",
        "left out of the bill",
    )
    job_rows = _monthly_rows(
        "| Job | RRU per member acted on | WRU per member acted on | Round trips per member | Measured on | A month (100,000 members) |",
        monthly_job_members(100_000),
        e.jobs,
        lambda j: f"{j.rru:.2f} | {j.wru:.2f} | {j.round_trips:.2f} | {j.acted:,} acted of {j.measured_members:,} members",
        "left out",
    )
    small, lean_small = bills[0], lean_bills[0]
    saved = small.total - lean_small.total
    f, lf = e.fixed, e.lean
    saas = ["| Programme | Plan | Published price | As of / source |", "| --- | --- | --- | --- |"]
    saas += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in SAAS_PRICES]
    app_basis = (
        f"the app's own CPU time per purchase measured in process in this run, {e.app_ms:.1f} ms, and its log output, {e.log_bytes:.0f} bytes"
        if e.measured_app
        else f"ASSUMED_APP_MS = {e.app_ms:g} ms of the app's CPU and ASSUMED_LOG_BYTES = {e.log_bytes:g} bytes of log per request "
        "(not measured in this run)"
    )
    parts = [
        "# What a brand pays",
        "",
        "Generated by `make bench` (`tests/bench/brand_cost.py`; alone: `.venv/bin/python -m tests.bench.brand_cost`); do not edit "
        "by hand, run it again. Every price and usage figure is a named constant in that file.",
        "",
        f"- Date: {today} (UTC). AWS list prices: {PRICE_REGION}, as published in {PRICES_AS_OF} (constants, not fetched); the "
        f"stages deploy to {e.region} (`infra/stages.py`), where most prices are 10-25% higher. No network here: check the "
        "price pages before quoting.",
        f"- Measured: the DynamoDB calls, request units and SMS of every kind of request (the app in process over moto, as "
        f"docs/performance.md's round trips), and of every job per member acted on (the jobs bench); what a stage deploys, "
        f"counted in the synthesized prod template. Lambda's duration is assumed from {app_basis}, as `tests/bench/cost.py` does.",
        "",
        "## The usage profile",
        "",
        f"A month, per member: {ACTIVE_SHARE:.0%} of members buy, {PURCHASES_PER_ACTIVE:g} purchases each ({BY_PHONE_SHARE:.0%} "
        f"reported by phone, the rest by member id; {UNKNOWN_PHONE_SHARE:.0%} by a phone the programme does not know, which enrols a "
        f"pending member and sends an invite; a known member's first purchase of the month, {MONTHS_FIRST_SHARE:.0%} of theirs, "
        "also opens that month's points lot: priced as measured by phone), "
        f"{REFUND_SHARE:.0%} of purchases refunded; {NEW_MEMBER_SHARE:.0%} of members join "
        f"(sign-up and first sign-in, one SMS each); active members sign in {SIGN_INS_PER_ACTIVE:g} times (a code by SMS: access "
        f"tokens last 15 minutes) and read their balance {ME_READS_PER_SIGN_IN:g} times, their ledger {LEDGER_READS_PER_SIGN_IN:g}, "
        f"the rewards {REWARDS_READS_PER_SIGN_IN:g} per sign-in; {REDEMPTIONS_PER_ACTIVE:g} redemptions per active member; "
        f"{WALLET_SHARE:.0%} of active members top up a wallet once and pay from it {WALLET_PAYMENTS_PER_WALLET:g} times; "
        f"operators look up {OPERATOR_LOOKUPS_PER_MEMBER:.0%} of members; {EXPORTS_PER_MEMBER:.1%} export their data. Jobs: "
        f"birthday bonuses for the {BIRTHDAY_KNOWN_SHARE:.0%} who gave a birthday (one in twelve a month), the expiry of a "
        f"month's lots with its two reminders ({EXPIRING_SHARE:.0%} of members, {EXPIRY_ACTIONS} actions each), re-engagement "
        f"nudges for {IDLE_NUDGE_SHARE:.0%}, the tier review on each member's anniversary, the daily reconcile Scan of the whole "
        f"table. Messages: {MARKETING_CONSENT_SHARE:.0%} of members accept marketing SMS; they get the jobs' greetings, "
        f"reminders and nudges and {CAMPAIGN_SMS_PER_CONSENTING_MEMBER:g} campaign message a month (a promotion itself, an earn "
        f"multiplier, costs nothing beyond the purchases it rewards). Storage after {HISTORY_MONTHS} months of that history. "
        f"{WEB_SHARE_OF_SIGN_INS:.0%} of member sessions use the web app through CloudFront.",
        "",
        "## The monthly AWS bill (SMS apart)",
        "",
        *rows,
        "",
        "Fixed means whatever the traffic: what the stage template deploys "
        f"({f.dashboards} dashboard, {f.alarms} alarms on {f.alarm_metrics} metrics, {f.web_acls} WAF web ACL with {f.waf_rules} rules, "
        f"{f.secrets} secret, {f.kms_keys} customer-managed KMS key (the stage key: it encrypts the alarm topic and the job "
        f"queues), {f.log_groups} log groups kept {f.log_retention_days} days, {f.distributions} CloudFront distribution, "
        f"point-in-time recovery {'on' if f.pitr else 'off'}). Custom metrics ({f.app_metrics} the API emits, "
        f"{f.daily_metrics} the jobs emit once a day) are billed by the hours they are published in, so they grow with "
        "the traffic until every metric is published every hour. With "
        "`customer_managed_data_key` (infra/stages.py) the same key also encrypts the table, logs and secret: no second key, "
        "only its requests (DynamoDB caches data keys, so a few per table a day). Free tiers are not deducted, except "
        "CloudFront's always-free 1 TB and 10 million requests; the first 25 GB of table storage, the first million SQS "
        "requests and three dashboards are free in a fresh account and would lower the smallest bills further.",
        "",
        "## SMS, a month, apart",
        "",
        *sms,
        "",
        "Every sign-up and sign-in sends a code; a purchase by an unknown phone sends an invite; the jobs and the campaign send "
        "marketing messages to those who accepted them. SMS is the largest cost of a programme at every size here: "
        f"for {BRAND_SIZES[1]:,} members {_usd(bills[1].sms_china_usd)} USD through a China provider against "
        f"{_usd(bills[1].total)} USD for all of AWS. Amazon SNS's price for China mainland is an assumption (`SNS_SMS_USD_CHINA`); "
        f"Alibaba Cloud's CNY {CHINA_SMS_CNY} is its published pay-as-you-go price for domestic messages (as of the end of 2023; "
        "packages are cheaper). Huiyuan sends through SNS (`chalicelib/notify`); a China provider needs an adapter there.",
        "",
        "## A cheaper setting for a small brand",
        "",
        f"For {BRAND_SIZES[0]:,} members the fixed costs are {small.fixed / small.total:.0%} of the bill "
        f"({_usd(small.fixed)} of {_usd(small.total)} USD): "
        + ", ".join(f"{line.component} {_usd(line.usd)}" for line in sorted((x for x in small.lines if x.fixed), key=lambda x: -x.usd))
        + f". The WAF web ACL is ${WAF_WEB_ACL_USD_MONTH:.0f} and ${WAF_RULE_USD_MONTH:.0f} for each of its {f.waf_rules} rules. "
        f"`web_acl=False, dashboard=False` in a stage (`infra/stages.py`) drops the web ACL, its association and "
        f"its log group, and the dashboard: the bill becomes {_usd(lean_small.total)} USD ({_usd(saved)} USD a month less); "
        f"{_usd(lean_bills[1].total)} instead of {_usd(bills[1].total)} USD for {BRAND_SIZES[1]:,} members. "
        f"What it gives up: the WAF's per-address rate rules (the code-sending routes at {_waf_code_limit()} requests per "
        "address per window, every route at a looser limit) and AWS's managed IP-reputation and known-bad-input rules. "
        "What remains: API Gateway's stage throttle and the app's own code-sending limits per client, per phone and in all "
        "(program rules), and the SMS spend limit and alarms; so SMS pumping still meets the app's limits and the spend alarm, "
        f"but an attacker's requests reach (and are paid for in) Lambda and DynamoDB. The {lf.alarms} alarms stay, and the "
        "metrics can still be graphed in the CloudWatch console. A brand that runs campaigns or has a public sign-up page "
        "should keep the web ACL; `tests/infra/test_hardening.py` synthesizes the setting with cdk-nag, and checkov scans it.",
        "",
        "## Beside a SaaS programme",
        "",
        *saas,
        "",
        "The profile's brands report "
        + ", ".join(f"{monthly_orders(n):,.0f} orders a month ({n:,} members)" for n in BRAND_SIZES)
        + ": all beyond the free plans' order limits, the largest in enterprise territory. "
        f"Self-hosted, the AWS bill for {BRAND_SIZES[0]:,} members is about {_usd(small.total)} USD a month "
        f"({_usd(lean_small.total)} with the cheaper setting) and {_usd(bills[1].total)} USD for {BRAND_SIZES[1]:,}, before "
        "SMS, which a SaaS programme also bills (or leaves to the brand). What the comparison leaves out: the people who run and "
        "change a self-hosted programme, support, and the SaaS programmes' integrations (Shopify, POS) and email tools. Prices "
        "above are as published by the vendors at the dates given and could not be checked again offline; the Youzan figure is "
        "from memory and marked so.",
        "",
        "## What each request and job costs (measured)",
        "",
        *per_request,
        "",
        "Bytes stored: the items a request creates (their size plus DynamoDB's 100 bytes each), which grow the table and its "
        "backups. A request kind the bench did not measure is listed and left out of the bill rather than guessed.",
        "",
        *job_rows,
        "",
        f"Per member acted on, from the largest table the jobs bench ran (the whole run's units over the members it acted on). "
        f"The daily reconcile Scans the whole table, eventually consistent: half an RRU per 4 KB. The job queue: "
        f"JOB_UNITS_PER_DAY = {JOB_UNITS_PER_DAY} units a day, each a Lambda invocation at most and three SQS requests.",
        "",
        "## Reproduce",
        "",
        "```",
        "make bench                                  # everything, docs/cost.md included",
        ".venv/bin/python -m tests.bench.brand_cost  # docs/cost.md alone (round trips, jobs at 2,000 members, two synths)",
        "```",
        "",
    ]
    return "\n".join(parts)


def _waf_code_limit() -> str:
    from infra.stages import STAGES

    prod = STAGES["prod"]
    return f"{prod.waf_code_requests_per_ip}"


def write(path: Path, e: Estimate) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown(e), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    import tests.conftest  # noqa: F401  (the test environment: fake credentials, names, outbox)

    from . import jobs
    from .recorder import Recorder
    from .roundtrips import measure_round_trips

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT))
    parser.add_argument("--job-sizes", type=jobs.parse_sizes, default=(2_000,), help="members per table for the jobs (default 2000)")
    args = parser.parse_args(argv)
    progress = stderr_progress("cost")

    recorder = Recorder()
    recorder.install()
    try:
        progress("round trips of every kind of request (in process, moto)")
        with jobs.quiet():
            measured = measure_round_trips(recorder) + measure_other_requests(recorder)
        progress(f"jobs at {', '.join(f'{n:,}' for n in args.job_sizes)} members")
        job_runs, _as_of = jobs.measure_jobs(recorder, args.job_sizes, progress)
    finally:
        recorder.uninstall()
    e = estimate(measured, job_runs, progress=progress)
    write(Path(args.output), e)
    for b in e.bills():
        print(f"{b.members:>12,} members: AWS {b.total:10,.2f} USD a month (fixed {b.fixed:,.2f}); SMS {b.sms_messages:,.0f} messages")
    progress(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
