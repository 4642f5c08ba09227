"""`make bench`: DynamoDB round trips and capacity per request, the purchase
path's time in process and its throughput through the local stack
(tests/bench/purchase_time.py, load.py), cold start, deployment package size;
then the scheduled jobs at 2,000 and 20,000 members (tests/bench/jobs.py).
Prints two tables and writes docs/performance.md.

    .venv/bin/python -m tests.bench.run [--output docs/performance.md] [--skip-package]
        [--job-sizes 2000,20000] [--skip-jobs] [--skip-load] [--load-seconds 30] ...
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

# The same environment as the test suite (fake credentials, table and parameter
# names, outbox file), fixed before anything imports the app.
import tests.conftest  # noqa: F401  (sets os.environ)
from infra.stages import stage_environment

from . import analytics, brand_cost, campaigns, cost, earn_rules_cpu, events, grants, imports, jobs, load, purchase_time, soak, webapp
from .capacity import USD_PER_MILLION_RRU, USD_PER_MILLION_WRU, usd_per_million
from .coldstart import ColdStart, measure_cold_start
from .markdown import markdown_table
from .package import Package, environment_for_chalice, measure_package
from .progress import stderr_progress
from .purchase_time import PurchaseTime, measure_purchase_time
from .recorder import Recorder
from .roundtrips import FIRST_OF_MONTH, Measured, measure_round_trips

ROOT = Path(__file__).resolve().parents[2]
COLD_START_TARGET = 1.25  # import app at most 1.25x import boto3 (was 1.75x)
ZIP_LIMIT_MB = 15.0  # issue 12: the zip the stack deploys (Lambda's own limit for a direct upload is 50 MB)
UNZIPPED_LIMIT_MB = 250.0  # Lambda: function and layers, unzipped
RUNTIME = "python3.13"
MB = 1_000_000

Row = tuple[str, str, str, str, str, str, str, str]
HEADER: Row = ("Check", "Budget", "Measured", "Verdict", "DynamoDB calls (in order) / detail", "RRU", "WRU", "$ per 1M")


def _units(value: float) -> str:
    return f"{value:g}"


def _round_trip_row(m: Measured) -> Row:
    calls = " + ".join(c.label() for c in m.dynamodb) or "none"
    if m.others:
        calls += "; other AWS: " + ", ".join(c.label() for c in m.others)
    budget = f"<= {m.budget}" if m.budget is not None else "(report)"
    return (
        m.label,
        budget,
        f"{m.round_trips} round trip{'s' if m.round_trips != 1 else ''}",
        m.verdict,
        calls,
        _units(m.rru),
        _units(m.wru),
        f"{usd_per_million(m.rru, m.wru):.2f}",
    )


def _cold_start_row(c: ColdStart) -> Row:
    check = "Cold start: import app vs import boto3"
    budget = f"<= {COLD_START_TARGET}x"
    if c.error:
        return (check, budget, "not measured", "ERROR", c.error, "", "", "")
    verdict = "PASS" if c.ratio <= COLD_START_TARGET else "OVER"
    heaviest = ", ".join(f"{name} {ms:.0f}" for name, ms in c.heaviest())
    deferred = ", ".join(f"{kind} +{ms:.0f}" for kind, ms in c.deferred_ms.items())
    detail = (
        f"median of {len(c.app_ms)}: app {c.app_median:.0f} ms, boto3 {c.boto3_median:.0f} ms; app import self-time by package (ms): {heaviest}; "
        f"loaded on first use (ms): {deferred}"
    )
    return (check, budget, f"{c.ratio:.2f}x", verdict, detail, "", "", "")


def _package_rows(p: Package | None) -> list[Row]:
    size_check, runtime_check = "Deployment package (chalice package --stage dev)", "Lambda runtime in sam.json"
    size_budget = f"<= {ZIP_LIMIT_MB:.0f} MB zip, <= {UNZIPPED_LIMIT_MB:.0f} MB unzipped"
    if p is None:
        return [(size_check, size_budget, "skipped", "SKIPPED", "--skip-package", "", "", "")]
    if p.error:
        return [
            (size_check, size_budget, "not built", "ERROR", p.error, "", "", ""),
            (runtime_check, RUNTIME, "unknown", "ERROR", "no sam.json (package failed)", "", "", ""),
        ]
    fits = p.zip_bytes / MB <= ZIP_LIMIT_MB and p.unzipped_bytes / MB <= UNZIPPED_LIMIT_MB
    largest = ", ".join(f"{name} {size / MB:.1f}" for name, size in p.largest)
    runtimes = ", ".join(p.runtimes) or "none found"
    return [
        (
            size_check,
            size_budget,
            f"{p.zip_bytes / MB:.1f} MB zip",
            "PASS" if fits else "OVER",
            f"deployment.zip {p.zip_bytes / MB:.1f} MB ({p.zip_bytes / 2**20:.1f} MiB), {p.unzipped_bytes / MB:.1f} MB unzipped, "
            f"{p.files} files; largest (MB unzipped): {largest}; botocore's unused service models pruned: {p.pruned_files} files, "
            f"{p.pruned_unzipped_bytes / MB:.1f} MB unzipped ({p.unpruned_zip_bytes / MB:.1f} MB zip before); built in {p.seconds:.0f} s",
            "",
            "",
            "",
        ),
        (runtime_check, RUNTIME, runtimes, "PASS" if p.runtimes == [RUNTIME] else "FAIL", "every AWS::Serverless::Function", "", "", ""),
    ]


def _breakdown(results: list[Measured]) -> str:
    lines = [
        "| Request | # | Call | Item | Size (bytes) | RRU | WRU | GSI WRU |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for m in results:
        for n, call in enumerate(m.dynamodb, start=1):
            name = call.operation + (f"[{call.index}]" if call.index else "") + (f" -> {call.error}" if call.error else "")
            if call.operation in ("Query", "Scan"):  # one read: item sizes are summed, then rounded
                found = [i for i in call.items if i.size]
                kinds = ", ".join(sorted({i.entity for i in found})) or "no item"
                what = f"{len(found)} item{'' if len(found) == 1 else 's'} ({kinds})"
                lines.append(f"| {m.label} | {n} | {name} | {what} | {sum(i.size for i in found)} | {_units(call.rru)} | 0 | 0 |")
                continue
            for item in call.items:
                gsi = _units(item.gsi_wru) + (f" ({item.gsi_detail})" if item.gsi_detail else "")
                cells = (m.label, str(n), name, f"{item.action} {item.entity}", str(item.size), _units(item.rru), _units(item.wru), gsi)
                lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _versions() -> str:
    names = ("boto3", "botocore", "moto", "pynamodb", "chalice", "aws-lambda-powertools", "pydantic")
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def _cost_paragraph(results: list[Measured]) -> str:
    by_label = {m.label: m for m in results}
    purchase = by_label.get("POST /v1/purchases (by phone)")
    if purchase is None:
        return ""
    usd = usd_per_million(purchase.rru, purchase.wru)
    gsi = sum(c.gsi_wru for c in purchase.dynamodb)
    table_w = purchase.wru - gsi
    transactional = sum(c.wru for c in purchase.dynamodb if c.operation == "TransactWriteItems")
    written = [i for c in purchase.dynamodb for i in c.items if i.wru]
    indexed = [f"the {i.entity} in `{i.gsi_detail.split()[0]}`" for i in written if i.gsi_detail]
    write_share = purchase.wru * USD_PER_MILLION_WRU / usd if usd else 0.0
    text = (
        f"A purchase reported by phone for a known member reads {_units(purchase.rru)} RRU and writes "
        f"{_units(purchase.wru)} WRU ({_units(table_w)} on the table, {_units(gsi)} on the indexes). On demand in us-east-1 "
        f"(${USD_PER_MILLION_WRU} per million WRU, ${USD_PER_MILLION_RRU} per million RRU) that is about "
        f"**${usd:.2f} per million purchases** in DynamoDB request charges (storage, streams, backups, Lambda and "
        f"API Gateway not included); writes are {write_share:.0%} of it. "
    )
    if transactional:
        text += (
            f"The transaction writes {len([i for c in purchase.dynamodb if c.operation == 'TransactWriteItems' for i in c.items])} "
            f"items at the transactional rate (x2: {_units(transactional)} WRU)"
        )
        text += (
            f", and the change also rewrites {' and '.join(indexed)} (ALL projections: any change to a projected item is an index write). "
            if indexed
            else ". "
        )
    if written and max(i.size for i in written) < 1024:
        text += (
            f"Every item written is under 1 KB (largest {max(i.size for i in written)} bytes), so the number of items "
            "written, not their size, sets the bill: one item fewer per purchase saves 2 WRU "
            f"(${2 * USD_PER_MILLION_WRU:.2f} per million purchases)."
        )
    first = by_label.get(FIRST_OF_MONTH)
    if first is not None and first.wru:
        text += (
            f" A member's first purchase of a month writes {_units(first.wru)} WRU: it also opens the month's points lot, "
            "the Lot item the expiry job finds on `lots_by_expiry` (store/ledger.py `open_lot`). The month's later purchases "
            "do not write the lot: what is left of it is on the member (`lots`, rewritten anyway), what went into it is in "
            "the ledger entries, which name their lot (`lot`), and the data export adds them up per lot. That is one "
            "transactional write (2 WRU) less per purchase than a running total on the lot, with the same expiry, ledger "
            "and export."
        )
    extras = []
    for label, what in (
        ("POST /v1/purchases (replay)", "a replayed purchase"),
        ("POST /v1/purchases (unknown phone)", "a purchase that enrols a new phone"),
        ("POST /v1/me/redemptions", "a redemption"),
        ("POST /v1/auth/verify (returning)", "a sign-in"),
        ("GET /v1/me", "a `GET /v1/me`"),
    ):
        m = by_label.get(label)
        if m:
            extras.append(f"{what} ~${usd_per_million(m.rru, m.wru):.2f}")
    if extras:
        text += " Per million requests of each other kind: " + ", ".join(extras) + "."
    replay = by_label.get("POST /v1/purchases (replay)")
    if replay and any(c.error for c in replay.dynamodb):
        text += (
            " A replay is answered from the cancelled transaction's `ALL_OLD` order item; it is priced here as if "
            "the cancelled transaction were billed in full (an upper bound)."
        )
    return text


PURCHASE_LABEL = "POST /v1/purchases (by phone)"
LOAD_CHECK = "POST /v1/purchases through the local stack"
LOAD_BUDGET = "no non-2xx; each order awarded once"
HOT_P99_MS = 1500.0  # issue 12 item 4: eight clients buying for one member
HOT_BUDGET = f"p99 <= {HOT_P99_MS / 1000:g} s, no non-2xx, each order awarded once"
PURCHASE_WRU_BUDGET = 8  # issue 12 item 6: a known member's purchase by phone


def _write_units_row(results: list[Measured]) -> Row | None:
    """The purchase by phone's write units against their budget (items written x2 in a transaction, plus index writes)."""
    m = next((r for r in results if r.label == PURCHASE_LABEL), None)
    if m is None:
        return None
    check = f"{PURCHASE_LABEL}: write units"
    budget = f"<= {PURCHASE_WRU_BUDGET} WRU"
    if m.verdict.startswith("ERROR"):
        return (check, budget, "not measured", m.verdict, "", "", "", "")
    parts = "; ".join(f"{c.label()}: {_units(c.wru)} + {_units(c.gsi_wru)} index" for c in m.dynamodb if c.wru or c.gsi_wru)
    verdict = "PASS" if m.wru <= PURCHASE_WRU_BUDGET else "OVER"
    price = f"{usd_per_million(m.rru, m.wru):.2f}"
    return (check, budget, f"{_units(m.wru)} WRU", verdict, parts or "no writes", _units(m.rru), _units(m.wru), price)


def _purchase_time_row(t: PurchaseTime | None) -> Row:
    check = "POST /v1/purchases in process: app vs DynamoDB calls"
    if t is None:
        return (check, "(report)", "skipped", "SKIPPED", "--skip-load", "", "", "")
    if t.error or not t.total_ms:
        return (check, "(report)", "not measured", "ERROR", t.error or "no purchase was timed", "", "", "")
    heaviest = ", ".join(f"{name} {share:.0%}" for name, share in t.heaviest(6))
    detail = (
        f"median of {len(t.total_ms)} purchases one at a time, CPU time (wall clock): {t.median_total_cpu:.1f} ms whole "
        f"({t.median_total:.1f}), {t.median_dynamodb_cpu:.1f} ms in its {t.median_round_trips} DynamoDB calls, moto "
        f"({t.median_dynamodb:.1f}), {t.median_app_cpu:.1f} ms outside them, the app ({t.median_app:.1f}); self time under "
        f"cProfile ({t.profiled} more purchases): {heaviest}"
    )
    return (check, "(report)", f"app {t.median_app_cpu:.1f} ms of {t.median_total_cpu:.1f} ms CPU", "report", detail, "", "", "")


def _audit_text(a: load.Audit) -> str:
    if a.passed:
        return (
            f"audit: all {a.answered:,} orders answered 2xx awarded exactly once ({a.orders:,} sent, both phases), "
            f"{a.members_checked} balances = opening + ledger = opening + orders"
        )
    return f"audit FAILED, {len(a.problems)} problem(s): {'; '.join(a.problems[:3])}"


def _load_rows(result: load.LoadResult | None) -> list[Row]:
    if result is None:
        return [(LOAD_CHECK, LOAD_BUDGET, "skipped", "SKIPPED", "--skip-load", "", "", "")]
    if result.error:
        return [(LOAD_CHECK, LOAD_BUDGET, "not measured", "ERROR", result.error, "", "", "")]
    rows = []
    for phase in result.phases:
        hot = phase.label == load.HOT
        who = "one hot member" if hot else f"{phase.members:,} members"
        verdict = "PASS" if not phase.errors and result.audit.passed else "FAIL"
        if verdict == "PASS" and hot and not phase.latency_ms(0.99) <= HOT_P99_MS:
            verdict = "OVER"
        measured = f"{phase.rate:.1f}/s, p50 {phase.latency_ms(0.5):.0f} ms, p99 {phase.latency_ms(0.99):.0f} ms"
        detail = f"{load.describe(phase)}; {_audit_text(result.audit)}"
        rows.append((f"{LOAD_CHECK} ({phase.clients} clients, {who})", HOT_BUDGET if hot else LOAD_BUDGET, measured, verdict, detail, "", "", ""))
    return rows


def _stack_section(result: load.LoadResult | None, timing: PurchaseTime | None) -> list[str]:
    """What the local purchase rate means, and what it does not."""
    if result is None or result.error:
        return []
    spread, hot = result.phase(load.SPREAD), result.phase(load.HOT)
    if spread is None or not spread.measured:
        return []
    from infra.stages import STAGES

    slices = spread.rate_by_slice()
    parts = [
        "## Purchases through the local stack",
        "",
        f"**What the number means.** {spread.rate:.1f} purchases per second is what one Python process on this machine "
        "sustains while it is both the API (the Chalice app behind the local gateway emulation, a thread per connection) "
        "and DynamoDB (moto's server in the same process, one request at a time). ",
    ]
    text = parts[-1]
    if spread.stack_cpu is not None and spread.cpu_ms_per_purchase is not None and spread.rate:
        used = spread.stack_cpu / spread.window
        text += (
            f"The stack process used {used:.0%} of one core, {spread.cpu_ms_per_purchase:.1f} ms of CPU per purchase. With "
            "the GIL it can use no more than about one core, "
            + (
                "so it is the bottleneck"
                if used >= 0.85
                else f"and it got less here: other work on the machine took the rest (load average {spread.load_average:.1f})"
            )
            + f"; more clients only queue in front of it (with {spread.clients} clients, clients / rate = "
            f"{spread.clients / spread.rate * 1000:.0f} ms, against a p50 of {spread.latency_ms(0.5):.0f} ms). "
        )
    if timing is not None and timing.total_ms and not timing.error:
        moto_share = dict(timing.heaviest(50)).get("moto", 0.0)
        text += (
            f"In process, one at a time, a purchase takes {timing.median_total_cpu:.1f} ms of CPU, of which "
            f"{timing.median_dynamodb_cpu:.1f} ms is inside its {timing.median_round_trips} DynamoDB calls (moto) and "
            f"{timing.median_app_cpu:.1f} ms is the app's own; "
            f"under cProfile {moto_share:.0%} of the time is moto's. The by_phone Query took {timing.median_call_cpu('Query'):.1f} ms of CPU "
            "(moto answers every Query by first sorting all the table's items, `Table.all_items`, then filtering, so it slows "
            f"as the table fills), the TransactWriteItems {timing.median_call_cpu('TransactWriteItems'):.1f} ms (parsing and "
            "validating the update expressions, copying the items it touches to roll back). "
        )
        if spread.cpu_ms_per_purchase is not None and spread.cpu_ms_per_purchase > timing.median_total_cpu:
            text += (
                f"The stack spends {spread.cpu_ms_per_purchase - timing.median_total_cpu:.0f} ms more CPU per purchase than "
                "that, not broken down here; what differs is the two HTTP hops the in-process run does not make (client to "
                "the API server, app to moto's server, both parsed in Python), threads contending for the GIL, and a table of "
                f"{spread.items_after:,} items by the end against {timing.table_items:,} in process. "
            )
    text += (
        f"During the run the table grew from {spread.items_before:,} to {spread.items_after:,} items and the rate went "
        f"{' -> '.join(f'{r:.1f}' for r in slices)} purchases/s over thirds of the window."
    )
    parts[-1] = text
    prod = STAGES["prod"]
    parts += [
        "",
        "**What it does not mean.** Nothing here is Lambda: in AWS each request gets a container to itself, containers are "
        "added as requests arrive (up to the account's concurrency and the stage's API Gateway throttle, "
        f"{prod.throttle_rate:g} requests/s with bursts of {prod.throttle_burst:,} in prod), DynamoDB answers in milliseconds "
        "whatever the table size, and a request waits on the network instead of burning moto's CPU. The local rate says "
        "nothing about production throughput, and the local latency is queueing in one process. "
        + (
            "What carries over: the purchase path holds up under concurrent clients, with no error, every order awarded "
            "exactly once and every balance equal to its opening balance plus its ledger (checked after the run)."
            if result.audit.passed and not any(p.errors for p in result.phases)
            else "What should carry over, that the purchase path holds up under concurrent clients, did not hold in this run: "
            "see *Over budget or failed* above."
        ),
    ]
    if hot is not None and hot.measured:
        parts += [
            "",
            f"**One hot member.** All {hot.clients} clients buying for the same member: each purchase's transaction is "
            "conditioned on the member's version. In one process (the local stack's threads) purchases for the same member take "
            "turns (`run(..., one_at_a_time=...)`, store/unit_of_work.py); between processes (Lambda containers) a cancelled "
            "one retries from the member DynamoDB returned with the cancellation (one round trip), with jittered backoff "
            f"scaled to the attempt's duration (up to {_retry_attempts()} attempts or {_retry_budget():g} s, then a retryable 503). "
            f"{hot.rate:.1f} purchases/s, p50 {hot.latency_ms(0.5):.0f} ms, p99 "
            f"{hot.latency_ms(0.99):.0f} ms, max {hot.latency_ms(1.0):.0f} ms; errors: "
            f"{', '.join(f'{n} x {status}' for status, n in hot.errors.most_common()) or 'none'}"
            + (f"; {hot.cpu_ms_per_purchase:.0f} ms of stack CPU per purchase." if hot.cpu_ms_per_purchase else "."),
        ]
    return [*parts, ""]


def _soak_section() -> list[str]:
    """The last `make soak`'s figures (docs/soak.json), when a soak wrote them: `make bench` does not soak."""
    result = soak.load_result()
    return soak.markdown(result) if result is not None else []


def _retry_budget() -> float:
    from chalicelib.store.unit_of_work import RETRY_BUDGET_SECONDS

    return RETRY_BUDGET_SECONDS


def _retry_attempts() -> int:
    import inspect

    from chalicelib.store.unit_of_work import run

    return int(inspect.signature(run).parameters["attempts"].default)


def _cost_table(c: cost.PurchaseCost) -> list[str]:
    lines = ["| Per million purchases | USD | Basis |", "| --- | --- | --- |"]
    for line in c.lines:
        usd = f"{line.usd:.2f}" if line.usd is not None else "not priced"
        lines.append(f"| {line.component} | {usd} | {line.basis} |")
    lines.append(f"| **Total** | **{c.total:.2f}** | |")
    return lines


def purchase_cost(results: list[Measured], timing: PurchaseTime | None) -> cost.PurchaseCost | None:
    purchase = next((m for m in results if m.label == PURCHASE_LABEL), None)
    if purchase is None or timing is None or timing.error or not timing.total_ms:
        return None
    return cost.purchase_cost(
        rru=purchase.rru,
        wru=purchase.wru,
        round_trips=purchase.round_trips,
        app_ms=timing.median_app_cpu,
        sns_publishes=sum(1 for c in purchase.others if c.service == "sns"),
        log_bytes=timing.output_bytes,
        log_lines=timing.output_lines,
    )


def _all_services_paragraph(c: cost.PurchaseCost | None) -> list[str]:
    if c is None:
        return []
    biggest = max((line for line in c.lines if line.usd), key=lambda line: line.usd or 0.0)
    duration = next((line.usd or 0.0 for line in c.lines if line.component == "Lambda duration"), 0.0)
    return [
        "",
        f"**All services, per million purchases** (known member, by phone): about **${c.total:.2f}**; the largest part is "
        f"{biggest.component}, {(biggest.usd or 0.0) / c.total:.0%}.",
        "",
        *_cost_table(c),
        "",
        f"Assumptions: {cost.PRICE_REGION} list prices as published in {cost.PRICES_AS_OF} (constants in "
        f"`tests/bench/cost.py` and `capacity.py`, not fetched); the stages deploy to {c.deployed_region} (infra/stages.py), "
        "whose prices differ (DynamoDB's are higher there). Lambda duration is not measured (nothing here is Lambda): it is "
        f"taken as the app's own CPU time per purchase measured in process ({c.app_ms:.1f} ms, the median above, moto's "
        f"time left out) x {c.cpu_factor:.2f} for the CPU share of {c.memory_mb} MB (the API function's memory, infra/stages.py; Lambda "
        f"gives one vCPU at {cost.LAMBDA_MB_PER_VCPU:,} MB and proportionally less below), plus {cost.ASSUMED_DYNAMODB_MS:g} ms "
        f"for each of the {c.round_trips} DynamoDB round trips: {c.duration_ms:.1f} ms, {c.billed_ms} ms billed. This machine's "
        "core is not Lambda's and the latency is a guess: at twice that duration Lambda's duration charge would be "
        f"${2 * duration:.2f} of ${c.total + duration:.2f}. Not included: cold starts (their init time is billed, and how many a million "
        "purchases cause depends on the traffic), Lambda's own START/END/REPORT log lines, X-Ray traces (sampled), storage, "
        "streams, backups and data transfer.",
    ]


def _findings(results: list[Measured], cold: ColdStart, package: Package | None, load_result: load.LoadResult | None = None) -> list[str]:
    notes = []
    for m in results:
        if m.verdict == "OVER":
            calls = "; ".join(f"{n}. {c.label()}" for n, c in enumerate(m.dynamodb, start=1))
            notes.append(f"`{m.label}` makes {m.round_trips} DynamoDB round trips (budget {m.budget}): {calls}.")
        elif m.verdict.startswith("ERROR"):
            notes.append(f"`{m.label}` did not answer as expected: {m.verdict}.")
    write_units = _write_units_row(results)
    if write_units is not None and write_units[3] == "OVER":
        notes.append(f"`{write_units[0]}` writes {write_units[2]} (budget {PURCHASE_WRU_BUDGET}): {write_units[4]}.")
    if not cold.error and cold.ratio > COLD_START_TARGET:
        heaviest = ", ".join(f"{name} {ms:.0f} ms" for name, ms in cold.heaviest(8))
        note = (
            f"Cold start: `import app` takes {cold.app_median:.0f} ms, {cold.ratio:.2f}x `import boto3` "
            f"({cold.boto3_median:.0f} ms; target {COLD_START_TARGET}x). Self time of `import app` by package: {heaviest}."
        )
        extra = _not_shipped(cold, package)
        if extra:
            skipped = sum(ms for _n, ms in extra)
            adjusted = (cold.app_median - skipped) / cold.boto3_median
            note += (
                " Imported here but absent from the deployment package (the venv has them for moto and the tests; "
                f"on Lambda they are not there to import): {', '.join(f'{n} {ms:.0f} ms' for n, ms in extra)}; "
                f"without them the ratio would be about {adjusted:.2f}x."
            )
        notes.append(note)
    if package is not None and package.error:
        notes.append(f"The package could not be built: {package.error}")
    if load_result is not None:
        if load_result.error:
            notes.append(f"The load test did not run: {load_result.error}")
        for phase in load_result.phases:
            if phase.errors:
                errors = ", ".join(f"{n} x {status}" for status, n in phase.errors.most_common())
                notes.append(f"Load ({phase.label}): {sum(phase.errors.values())} requests without a 2xx answer: {errors}.")
            if phase.label == load.HOT and phase.measured and not phase.latency_ms(0.99) <= HOT_P99_MS:
                notes.append(
                    f"Load ({phase.label}): p99 {phase.latency_ms(0.99):.0f} ms (budget {HOT_P99_MS:.0f} ms); machine load average "
                    f"{phase.load_average:.1f} (other work on the machine stretches it)."
                )
        if not load_result.error and not load_result.audit.passed:
            notes.append(f"Load: {_audit_text(load_result.audit)}.")
    return notes


# Provided by the Lambda Python runtime, so absent from the zip but importable there.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six"})


def _not_shipped(cold: ColdStart, package: Package | None) -> list[tuple[str, float]]:
    """Packages `import app` loads locally that the deployment package does not contain."""
    if package is None or package.error or not package.top_level:
        return []
    first_party = {"app", "chalicelib"}
    found = [
        (name, ms)
        for name, ms in cold.self_ms.items()
        if name not in package.top_level
        and name not in sys.stdlib_module_names
        and name not in RUNTIME_PROVIDED
        and name not in first_party
        and ms >= 1
    ]
    return sorted(found, key=lambda kv: -kv[1])


def write_markdown(
    path: Path,
    table: str,
    results: list[Measured],
    cold: ColdStart,
    package: Package | None,
    seconds: float,
    job_section: list[str] | None = None,
    timing: PurchaseTime | None = None,
    load_result: load.LoadResult | None = None,
) -> None:
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    cores = os.cpu_count() or 0
    findings = _findings(results, cold, package, load_result)
    parts = [
        "# Performance",
        "",
        "Generated by `make bench` (`tests/bench/run.py`); do not edit by hand, run it again.",
        "",
        f"- Date: {today} (UTC)",
        f"- Machine: {cores} cores ({platform.machine()}, {platform.system()}), Python {platform.python_version()}; the "
        "reference machine for these numbers has 2 cores. Round trips and capacity units do not depend on the machine; "
        "cold-start milliseconds do, the ratio much less.",
        f"- Versions: {_versions()}",
        f"- The whole run took {seconds:.0f} s; load average (1 min) {os.getloadavg()[0]:.1f} at the end: other work on the "
        "machine stretches the times (not the round trips, items or capacity units).",
        "",
        "## Results",
        "",
        table,
        "",
        "Verdicts: PASS within budget, OVER beyond it, (report) has no budget.",
        "",
    ]
    if findings:
        parts += ["### Over budget or failed", "", *[f"- {f}" for f in findings], ""]
    parts += [
        "## What the numbers mean for cost",
        "",
        _cost_paragraph(results),
        *_all_services_paragraph(purchase_cost(results, timing)),
        "",
        *_stack_section(load_result, timing),
        *_soak_section(),
        "## How it is measured",
        "",
        "**Round trips.** The app runs in process (`tests.support.client.ApiClient`, the local gateway emulation) over "
        "moto's `mock_aws`, bootstrapped with `localstage.bootstrap.bootstrap`, with the test suite's environment "
        "(`tests/conftest.py`). `botocore.session.Session.create_client` is wrapped so every client created afterwards "
        "(PynamoDB's own botocore client, boto3's for SSM/SNS) gets a `before-call`/`after-call` handler; one API call "
        "is one round trip (moto never throttles, so no retries hide in it). Only DynamoDB calls count; SSM and SNS "
        "calls are listed as other AWS. Members are made through the API (signup, then verify with the code read from "
        "the outbox file) and given points with purchases. Every measured request follows one warm-up request of the "
        "same kind, so the merchant-key cache, the SSM parameters and the clients are warm: a warm Lambda container's "
        "steady state. The purchase by phone is one of the member's later purchases in the month; for the month's "
        "first, the member's lot of this month is first made last month's (on the member and as its Lot item, written "
        "straight to moto's table: `turn_the_month` in `tests/bench/roundtrips.py`), as it stands on the first of a "
        "month, and the next purchase is measured (in the same day: a member's first purchase of a day also moves the "
        "`members_by_activity` key, 2 index writes more, whichever purchase of the month it is).",
        "",
        "**Capacity.** moto's `ConsumedCapacity` is wrong, so units are computed from item sizes "
        "(`tests/bench/capacity.py`), with DynamoDB's size rules (attribute names + values; numbers ~1 byte per 2 "
        "digits + 1; maps and lists 3 bytes + 1 per element). Writes: the larger of the item before and after the "
        "write, read from moto's table in process around each call, 1 WRU per started KB, x2 in a transaction. Reads: "
        "1 RRU per started 4 KB strongly consistent, 0.5 eventually consistent (index queries always); a Query sums "
        "its items before rounding, each item of a BatchGetItem rounds on its own and a missing one still costs the "
        "minimum. Index writes (standard rate, not x2): an item entering or leaving a GSI costs one write of its index "
        "entry (item + 100 bytes with an ALL projection), a changed index key two, any other change to a projected "
        "attribute one. A cancelled transaction is counted as billed for every item it tried to write. These are "
        "estimates of what AWS would bill, not measurements: the per-call breakdown is below.",
        "",
        "**Time per purchase, in process.** The round-trip setup again (`tests/bench/purchase_time.py`), with the local "
        f"stack's light transaction snapshots: {purchase_time.MEMBERS} members enrolled through the API, "
        f"{purchase_time.WARMUP} warm-up purchases, then purchases "
        "by phone one at a time, each timed whole, in CPU time of the thread (`time.thread_time()`, which other work on "
        "the machine does not stretch) and in wall-clock time; the recorder, in a timing-only mode, times each DynamoDB "
        "call the same two ways from botocore's `before-call` to `after-call` (signing, moto's work, parsing the answer). "
        "The rest is the app's own time: the gateway emulation, validation, the rules, serialising the requests (botocore "
        "does that before `before-call`), and the output Lambda would ship to CloudWatch Logs: the app's INFO line and "
        "the EMF metrics line, written into a buffer (metrics are disabled in tests; here they are flushed as deployed), "
        "whose bytes per purchase are the basis of the logs' cost. Medians are reported. Then half as many purchases again under "
        "cProfile, self time summed per top-level package (a C function's time charged to its caller's package); "
        "cProfile slows call-heavy code most, so the shares are rough.",
        "",
        f"**Load.** `tests/bench/load.py` starts the local stack as the e2e tests do (`python -m localstage.stack` "
        "on a free loopback port with a developer's environment, access log off, the app's own log lines on), seeds "
        "members straight into its table (the jobs bench's raw Member and Lot items, BatchWriteItem: enrolling through "
        "the API runs at a few members a second here), sends one purchase alone (the first through a fresh stack takes "
        "seconds), then drives `POST /v1/purchases` by phone (merchant key `local-dev-key`) from a fixed pool of client threads, each with its "
        "own keep-alive `requests.Session`, for a fixed time; every request has a new order id and a member drawn at "
        "random, so few requests meet on one member. Requests sent during the warm-up are left out; the window closes "
        "when the last client has its last answer, and every request sent in it counts. Rate = 2xx answers / window; "
        "latency percentiles (nearest rank) over every request in the window; any non-2xx, and any request without an "
        "answer, is an error. The stack's CPU time comes from `/proc/<pid>/stat` at the start and end of the window. A "
        "second phase sends every purchase to one member. Afterwards one Scan of the stack's table (over its AWS "
        "endpoint) checks every order sent: answered 2xx means one Order item and exactly one `earn` ledger entry with "
        "the points the answer gave, to the right member; no order has two entries; and each member's balance equals "
        "their opening balance plus the sum of their ledger, and plus the points of their recorded orders. The client threads "
        f"share the machine's {os.cpu_count() or 0} cores with the stack. "
        f"Defaults: {load.DEFAULT_CLIENTS} clients, {load.DEFAULT_MEMBERS} members, {load.DEFAULT_WARMUP:g} s warm-up + "
        f"{load.DEFAULT_SECONDS:g} s, hot member {load.DEFAULT_HOT_SECONDS:g} s (`--load-seconds`, `--load-warmup`, "
        "`--load-clients`, `--load-members`, `--hot-seconds`, `--skip-load`).",
        "",
        "**Cold start.** `import app` and `import boto3` each in a fresh `python -c` with the dev stage's environment "
        "from `.chalice/config.json` (what Lambda's import sees; it sets `PYDANTIC_DISABLE_PLUGINS`, which spares "
        "pydantic a scan of every installed package's entry points), timed "
        "by `time.perf_counter()` inside the child (interpreter start-up excluded), alternating, median of 7 each after "
        "one discarded run of each, which writes both sides' bytecode caches into a fresh folder of their own "
        "(`PYTHONPYCACHEPREFIX`, with `PYTHONDONTWRITEBYTECODE` lifted for the children), so no sample compiles source "
        "whatever caches the checkout holds; one extra `-X importtime` run attributes the app's import time to packages "
        "(self time, summed per top-level package). The route modules load their use cases and request models when "
        "first called (`chalicelib/lazy.py`), so `import app` holds only what every request needs (Chalice, botocore "
        "and PynamoDB, the logger, the settings; pydantic comes with the first body or rules read); *loaded on first use* "
        "is what the first request of each kind adds "
        "(its modules imported after `import app`, median of 3). A container serving only members never loads the "
        "operator API.",
        "",
        "**Package.** `chalice package --stage dev` (the venv's chalice, Python 3.13) on a temporary copy of `app.py`, "
        "`chalicelib/`, `requirements.txt` and `.chalice/config.json`, then pruned by `infra.lambda_package.prune_zip`, "
        "the step the CDK stack applies to the zip it deploys (botocore keeps only the models of the services the app "
        "makes clients for; docs/packaging.md); sizes of `deployment.zip` (MB = 10^6 bytes) and "
        "the `Runtime` of every function in `sam.json`.",
        "",
        "**Member web app.** The JavaScript a phone downloads to first show Home: from the build's manifest "
        "(`web/dist/.vite/manifest.json`, `make web`), the entry chunk and its static imports plus the Home page's chunk "
        "and its static imports, each gzipped at level 9 (CloudFront compresses with gzip or Brotli; Brotli is smaller). "
        "Pages and libraries loaded later (the QR code library, other pages) are not counted, nor is CSS "
        "(`tests/bench/webapp.py`; the browser test `tests/e2e/test_web_pages.py` checks the same budget on what Chromium "
        "downloads).",
        "",
        "## Capacity breakdown per DynamoDB call",
        "",
        _breakdown(results),
        "",
        *(job_section or []),
        "## Reproduce",
        "",
        "```",
        "make bench            # or: .venv/bin/python -m tests.bench.run",
        "make bench JOB_SIZES=200,2000     # other table sizes for the jobs (--job-sizes)",
        ".venv/bin/python -m tests.bench.jobs --job-sizes 2000        # the jobs alone",
        ".venv/bin/python -m tests.bench.load --load-seconds 30       # the load test alone",
        "```",
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default=str(ROOT / "docs" / "performance.md"))
    parser.add_argument("--skip-package", action="store_true", help="do not run chalice package")
    parser.add_argument(
        "--job-sizes",
        type=jobs.parse_sizes,
        default=jobs.DEFAULT_SIZES,
        help="members in the table for the jobs benchmark, comma-separated (default 2000,20000)",
    )
    parser.add_argument("--skip-jobs", action="store_true", help="do not run the jobs benchmark")
    parser.add_argument("--campaign-audience", type=int, default=campaigns.AUDIENCE, help="members a campaign goes to (tests/bench/campaigns.py)")
    parser.add_argument("--skip-campaign", action="store_true", help="do not run the campaign benchmark")
    parser.add_argument("--skip-analytics", action="store_true", help="do not run the analytics engine benchmark (tests/bench/analytics.py)")
    parser.add_argument("--skip-load", action="store_true", help="do not time the purchase path nor load the local stack")
    parser.add_argument("--import-rows", type=int, default=imports.ROWS, help="rows of the import benchmark (tests/bench/imports.py; 0 skips it)")
    parser.add_argument("--grant-rows", type=int, default=grants.ROWS, help="rows of the bulk-grant benchmark (tests/bench/grants.py; 0 skips it)")
    parser.add_argument("--cost-output", default=str(ROOT / "docs" / "cost.md"), help="what a brand pays ('' to skip; tests/bench/brand_cost.py)")
    load.add_arguments(parser)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    child_env = dict(os.environ)

    progress = stderr_progress("bench")

    recorder = Recorder()
    recorder.install()
    try:
        progress("DynamoDB round trips (in process, moto mock_aws)")
        results = measure_round_trips(recorder)
        other_requests = []
        if args.cost_output:
            progress("the other kinds of request a programme makes, for docs/cost.md (in process, moto mock_aws)")
            try:
                with jobs.quiet():
                    other_requests = brand_cost.measure_other_requests(recorder)
            except Exception as exc:  # the rest of the bench goes on; cost.md then leaves these kinds out
                progress(f"other requests not measured: {type(exc).__name__}: {exc}")
        timing = None
        if not args.skip_load:
            progress("purchase path in process: the app's time and moto's")
            try:
                with jobs.quiet():
                    timing = measure_purchase_time(recorder)
            except Exception as exc:  # report it in the table, keep measuring the rest
                timing = PurchaseTime(0, error=f"{type(exc).__name__}: {exc}")
        job_runs: list[jobs.SizeRun] = []
        as_of = ""
        if not args.skip_jobs:
            # The same recorder: the clients the app made above carry its handlers.
            progress(f"scheduled jobs at {', '.join(f'{n:,}' for n in args.job_sizes)} members (moto mock_aws)")
            job_runs, as_of = jobs.measure_jobs(recorder, args.job_sizes, progress)
        campaign_runs: list[campaigns.CampaignMeasured] = []
        if not args.skip_campaign:
            progress(f"a campaign to {args.campaign_audience:,} members, in a table of as many and of ten times as many (moto mock_aws)")
            try:
                campaign_runs = campaigns.measure(recorder, args.campaign_audience, progress)
            except Exception as exc:  # the rest of the bench goes on
                progress(f"campaign not measured: {type(exc).__name__}: {exc}")
    finally:
        recorder.uninstall()
    progress("cold start (fresh interpreters)")
    # Lambda imports the app with the deployed stage's environment (.chalice/config.json), not the tests'.
    cold = measure_cold_start(ROOT, {**child_env, **stage_environment("dev")})
    package = None
    if not args.skip_package:
        progress("chalice package --stage dev")
        package = measure_package(ROOT, environment_for_chalice(child_env))

    load_result = None
    if not args.skip_load:
        progress("purchases through the local stack (load generator on loopback)")
        try:
            load_result = load.measure_load_from(args, progress)
        except Exception as exc:  # report it in the table, keep the rest of the report
            load_result = load.LoadResult([], load.Audit(), args.load_members, 0.0, args.load_clients, f"{type(exc).__name__}: {exc}")

    rows = [_round_trip_row(m) for m in results]
    write_units = _write_units_row(results)
    if write_units is not None:
        rows.insert(1, write_units)
    if not args.skip_load:
        rows += [_purchase_time_row(timing), *_load_rows(load_result)]
    rows += [earn_rules_cpu.row(earn_rules_cpu.measure())]
    rows += campaigns.rows(campaign_runs)
    rows += events.rows(events.measure())  # issue 16: events per committed write, webhook latency
    if args.import_rows:
        rows += imports.rows(imports.measure(args.import_rows, recorder))  # issue 16: bulk import of members
    if args.grant_rows:
        rows += grants.rows(grants.measure(args.grant_rows, recorder))  # issue 16: bulk grants of points
    rows += [_cold_start_row(cold), *_package_rows(package), webapp.row(webapp.measure_first_load())]
    table = markdown_table(HEADER, rows)
    print(table)
    job_section = None
    if job_runs:
        print()
        print(f"Scheduled jobs ({as_of}; seeding: {jobs.seeding(job_runs)})")
        print(jobs.table(job_runs))
        for note in jobs.findings(job_runs):
            print(f"- {note}")
        job_section = jobs.markdown(job_runs, as_of)
    if not args.skip_analytics:
        progress("the analytics engine: DuckDB over an export of 100,000 members, a real export of 20,000 (tests/bench/analytics.py)")
        try:
            job_section = [*(job_section or []), *analytics.markdown(analytics.measure(progress=progress))]
        except Exception as exc:  # keep the rest of the report
            job_section = [*(job_section or []), "## Analytics engine", "", f"Not measured: {type(exc).__name__}: {exc}", ""]
    per_million = purchase_cost(results, timing)
    if per_million is not None:
        parts = ", ".join(f"{line.component} {line.usd:.2f}" for line in per_million.lines if line.usd is not None)
        print(f"\nPer million purchases (known member, by phone): ${per_million.total:.2f} ({parts})")
    if args.cost_output:
        progress("what a brand pays: synthesizing prod twice for its fixed costs")
        try:
            measured_app = timing is not None and not timing.error and bool(timing.total_ms)
            estimate = brand_cost.estimate(
                results + other_requests,
                job_runs,
                app_ms=timing.median_app_cpu if measured_app and timing else None,
                log_bytes=timing.output_bytes if measured_app and timing else None,
                progress=progress,
            )
            brand_cost.write(Path(args.cost_output), estimate)
            progress(f"wrote {args.cost_output}")
        except Exception as exc:  # keep the performance report
            progress(f"{args.cost_output} not written: {type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - started
    write_markdown(Path(args.output), table, results, cold, package, seconds, job_section, timing, load_result)
    progress(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
