"""Run a job's spec: plan, fan out, and do its units; keep the run's record.

`start_job` checks the request (the AS_OF guard), plans the run's units
(`JobSpec.plan`), records a JobRun and sends the units to the jobs queue (or,
inline, does them itself). `do_unit` is what the queue worker runs for one
message: the spec's work for the unit's kind (specs.py), then the unit's
counters added to the run's record once, however often SQS delivers it, and
the units it adds to the run queued. A unit whose work fails goes back to SQS,
which delivers it again and, after its last delivery, dead-letters it; on that
last delivery the spec's `gave_up` (if any) first leaves the failure where
operators see it. The runner knows no job by name and reads nothing of the
table itself (store/job_runs.py keeps the records).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ..domain.clock import utcnow
from ..observability import count, count_for_job, logger
from ..settings import get_settings
from ..store import job_runs
from ..store.job_queue import MAX_RECEIVES, enqueue, new_run_id
from ..store.job_queue import queue_url as queue_url  # read here by tests and localstage
from ..store.parameters import load_rules
from ..usecases.member_changes import JobContext
from .specs import JOBS, JobSpec, Unit

MAX_PAST_DAYS = 400
MAX_FUTURE_DAYS = 31
# Counters reported under their own metric names (or not metrics at all), not as Job<Name>.
_NOT_JOB_METRICS = ("skipped.", "drift", "outstanding_", "figure.")


class BadJobRequest(ValueError):
    pass


@dataclass(frozen=True)
class JobRequest:
    job: str
    as_of: date
    dry_run: bool


def parse_request(job: str, payload: dict[str, Any], today: date) -> JobRequest:
    """Validate a console or command-line request; the schedule passes no `as_of`."""
    if job not in JOBS:
        raise BadJobRequest(f"unknown job {job!r}; jobs: {', '.join(JOBS)}")
    raw = payload.get("as_of")
    try:
        as_of = date.fromisoformat(raw) if raw is not None else today
    except (TypeError, ValueError):
        raise BadJobRequest("as_of must be a date YYYY-MM-DD") from None
    # Deployed, the schedule runs every day and a far date is a slip of the hand. The local
    # stage has no schedule: `make job` moves it through time, so any date goes (../shared/API.md).
    if not get_settings().is_local and not today - timedelta(days=MAX_PAST_DAYS) <= as_of <= today + timedelta(days=MAX_FUTURE_DAYS):
        raise BadJobRequest(f"as_of must be within {MAX_PAST_DAYS} days before and {MAX_FUTURE_DAYS} days after today")
    dry_run = payload.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise BadJobRequest("dry_run must be true or false")
    return JobRequest(job, as_of, dry_run)


def context(job: str, as_of: date, dry_run: bool) -> JobContext:
    """The job's day, the time of day it stands for there (its `local_time`), the rules."""
    rules = load_rules()
    now_local = datetime.combine(as_of, JOBS[job].local_time, tzinfo=rules.zone)
    return JobContext(as_of=as_of, now_local=now_local, rules=rules, dry_run=dry_run)


def start_job(request: JobRequest, *, inline: bool = False) -> dict[str, Any]:
    """Plan the run and send its units to the queue (or do them now, `inline`)."""
    units = JOBS[request.job].plan(request.as_of, load_rules(), get_settings().index_shards)
    run_id = new_run_id(utcnow())
    messages = [{**u, "job": request.job, "as_of": request.as_of.isoformat(), "dry_run": request.dry_run, "run_id": run_id} for u in units]
    logger.info("job started", extra={"job": request.job, "as_of": request.as_of.isoformat(), "run_id": run_id, "units": len(units)})
    if request.dry_run:
        # A dry run writes nothing at all, not even its run record: it runs here.
        total: Counter[str] = Counter()
        for message in messages:
            total.update(do_unit(message))  # update keeps negative counts (a negative balance outstanding)
        return summarise(request.job, request.as_of.isoformat(), run_id, True, len(units), len(units), total)
    job_runs.start_run(request.job, request.as_of.isoformat(), run_id, dry_run=request.dry_run, units_planned=len(units), now=utcnow())
    if inline or JOBS[request.job].inline:
        for message in messages:
            do_unit({**message, "inline": True})
        return summary(request.job, request.as_of.isoformat(), run_id)
    enqueue(messages)
    return {
        "job": request.job,
        "as_of": request.as_of.isoformat(),
        "run_id": run_id,
        "dry_run": request.dry_run,
        "units_enqueued": len(messages),
    }


def run_now(job: str, as_of: date, *, dry_run: bool = False) -> dict[str, Any]:
    """A whole run in this invocation, no queue (as a console run with `"inline": true`): its summary."""
    return start_job(JobRequest(job, as_of, dry_run), inline=True)


def do_unit(unit: Unit, *, delivery: int = 1) -> Counter[str]:
    """One unit of work (one queue message, delivered for the `delivery`-th time): the spec's
    work for its kind. Raises only if the work does (a member that fails alone): the queue
    retries the unit, and after MAX_RECEIVES deliveries dead-letters it."""
    ctx = context(unit["job"], date.fromisoformat(unit["as_of"]), bool(unit["dry_run"]))
    spec = JOBS[unit["job"]]
    try:
        done = spec.work()[unit["kind"]](unit, ctx)
    except Exception as exc:
        if delivery >= MAX_RECEIVES and not ctx.dry_run:
            _give_up(spec, unit, exc)
        raise
    if not ctx.dry_run:
        if _record(unit, done.tally):
            _emit_metrics(spec, done.tally)
        # Queued once the unit is on the record, and again when a redelivered unit finds it
        # there already (the first try may have failed to queue them): a unit already on the
        # record adds nothing to it, so a follow-up queued twice is counted once.
        enqueue(done.follow_ups)
    return done.tally


def _give_up(spec: JobSpec, unit: Unit, error: Exception) -> None:
    """The unit's last delivery failed: SQS dead-letters it next (the DLQ alarm fires). What the
    spec leaves visible of it first; its own failure is logged, never raised over the unit's."""
    logger.error("job unit failed its last delivery", extra={"job": unit["job"], "kind": unit.get("kind"), "error": type(error).__name__})
    if spec.gave_up is None:
        return
    try:
        spec.gave_up(unit, error)
    except Exception:
        logger.exception("job unit failure not recorded", extra={"job": unit["job"]})


def unit_id(unit: Unit) -> str:
    """The same for every delivery of one unit, different for any other unit of the run."""
    return hashlib.sha256(json.dumps(unit, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:24]


def _record(unit: Unit, tally: Counter[str]) -> bool:
    """Add the unit's counters to its run's record, once: False if a delivery before
    this one (SQS delivers at least once) already did."""
    uid = unit_id(unit)
    if job_runs.add_unit(unit["job"], unit["as_of"], unit["run_id"], uid, tally, units_added=tally["units_added"]):
        return True
    logger.info("job unit already on the record: a redelivery", extra={"job": unit["job"], "unit": uid})
    return False


def _emit_metrics(spec: JobSpec, tally: Counter[str]) -> None:
    """The unit's metrics, once it is on the record (so a redelivery never counts twice)."""
    count_for_job(
        spec.name,
        {f"Job{name.title().replace('_', '')}": value for name, value in tally.items() if value and not name.startswith(_NOT_JOB_METRICS)},
    )
    for name, value in (spec.metrics(tally) if spec.metrics else {}).items():
        count(name, value)


def summary(job: str, as_of: str, run_id: str) -> dict[str, Any]:
    """The summary of a run, from its record (every unit added to it)."""
    run = job_runs.read_run(job, as_of, run_id)
    return summarise(job, as_of, run_id, run.dry_run, run.units_planned, run.units_done, run.counters)


def summarise(job: str, as_of: str, run_id: str, dry_run: bool, planned: int, done: int, counters: Counter[str]) -> dict[str, Any]:
    skipped = {k.removeprefix("skipped."): v for k, v in sorted(counters.items()) if k.startswith("skipped.")}
    report = JOBS[job].report
    return {
        "job": job,
        "as_of": as_of,
        "run_id": run_id,
        "dry_run": dry_run,
        "units": {"planned": planned, "done": done},
        "members_examined": counters.get("examined", 0),
        "members_affected": counters.get("affected", 0),
        "points_moved": counters.get("points_moved", 0),
        "messages_sent": counters.get("messages_sent", 0),
        "messages_deferred": counters.get("messages_deferred", 0),
        "messages_skipped": skipped,
        "index_entries_read": counters.get("index_entries", 0),
        "round_trips": counters.get("index_round_trips", 0) + counters.get("member_round_trips", 0) + counters.get("scan_round_trips", 0),
        "retried_alone": counters.get("retried_alone", 0),
        "failed": counters.get("failed", 0),
        **(report(counters) if report else {}),
    }
