"""Plan, fan out and do a job's work.

`start_job` plans one unit of work per index shard (and day), records a
JobRun, and sends the units to the jobs queue (or, inline, does them itself).
`do_unit` is what the queue worker runs for one message: it reads the bucket
through its KEYS_ONLY index, the members in batches, and acts on each one.
A member that fails is retried alone (a unit of its own), so one bad member
never repeats or blocks the others. A `reconcile` unit reads one Scan segment
instead (usecases/reconcile.py); one that runs out of time sends the rest of
its segment as a new unit.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from pynamodb.exceptions import DeleteError, UpdateError
from pynamodb.expressions.update import Action

from ..domain.clock import utcnow
from ..domain.messaging import is_channel
from ..notify.sender import DeliveryFailed, Message, send
from ..observability import count, count_for_job, logger
from ..settings import get_settings
from ..store import keys, table
from ..store.members import as_dict
from ..store.models import DeferredMessage, JobRun, Member
from ..store.parameters import load_rules
from ..store.unit_of_work import connection
from ..usecases.reconcile import reconcile_segment
from ..usecases.scheduled import JobContext, act_on_member
from .specs import JOBS, Unit

MAX_PAST_DAYS = 400
MAX_FUTURE_DAYS = 31
BATCH_GET = 100
# A reconcile unit scans until this many seconds have passed, then hands the rest
# of its segment to a new unit: well inside the worker's timeout (120 s).
RECONCILE_UNIT_SECONDS = 60
# Drifting member ids kept in the run record per unit (the log has every one).
MAX_DRIFT_IDS = 100
# Counters reported under their own metric names (or not metrics at all), not as Job<Name>.
_NOT_JOB_METRICS = ("skipped.", "drift", "outstanding_")


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
    rules = load_rules()
    now_local = datetime.combine(as_of, JOBS[job].local_time, tzinfo=rules.zone)
    return JobContext(job=job, as_of=as_of, now_local=now_local, rules=rules, dry_run=dry_run)


@cache
def _sqs() -> Any:
    import boto3

    return boto3.client("sqs")


@cache
def queue_url() -> str:
    return str(_sqs().get_queue_url(QueueName=get_settings().jobs_queue_name)["QueueUrl"])


def start_job(request: JobRequest, *, inline: bool = False) -> dict[str, Any]:
    """Plan the run and send its units to the queue (or do them now, `inline`)."""
    ctx = context(request.job, request.as_of, request.dry_run)
    units = JOBS[request.job].plan(request.as_of, ctx.rules, get_settings().index_shards)
    run_id = f"{utcnow().strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    messages = [{**u, "job": request.job, "as_of": request.as_of.isoformat(), "dry_run": request.dry_run, "run_id": run_id} for u in units]
    logger.info("job started", extra={"job": request.job, "as_of": request.as_of.isoformat(), "run_id": run_id, "units": len(units)})
    if request.dry_run:
        # A dry run writes nothing at all, not even its run record: it runs here.
        total: Counter[str] = Counter()
        for message in messages:
            total.update(do_unit(message))  # update keeps negative counts (a negative balance outstanding)
        return summarise(request.job, request.as_of.isoformat(), run_id, True, len(units), len(units), total)
    JobRun(
        keys.jobrun_pk(request.job, request.as_of.isoformat()),
        keys.jobrun_sk(run_id),
        job=request.job,
        as_of=request.as_of.isoformat(),
        run_id=run_id,
        dry_run=request.dry_run,
        units_planned=len(units),
        counters={},
        started_at=utcnow(),
        ttl=utcnow() + timedelta(days=90),
    ).save()
    if inline:
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


def enqueue(messages: list[dict[str, Any]]) -> None:
    for start in range(0, len(messages), 10):
        batch = messages[start : start + 10]
        entries = [{"Id": str(i), "MessageBody": json.dumps(m)} for i, m in enumerate(batch)]
        result = _sqs().send_message_batch(QueueUrl=queue_url(), Entries=entries)
        if result.get("Failed"):
            raise RuntimeError(f"{len(result['Failed'])} job units could not be queued")


def _index_member_ids(index: str, bucket: str, tally: Counter[str]) -> list[str]:
    """The member ids in one index bucket (KEYS_ONLY: cheap to read)."""
    definition = next(i for i in table.INDEXES if i.name == index)
    request: dict[str, Any] = {
        "TableName": get_settings().table_name,
        "IndexName": index,
        "KeyConditionExpression": "#bucket = :bucket",
        "ExpressionAttributeNames": {"#bucket": definition.hash_key},
        "ExpressionAttributeValues": {":bucket": {"S": bucket}},
    }
    ids: dict[str, None] = {}
    start = None
    while True:
        page = connection().client.query(**request, **({"ExclusiveStartKey": start} if start else {}))
        tally["index_round_trips"] += 1
        for item in page.get("Items", []):
            tally["index_entries"] += 1
            ids[keys.member_id_of(item["pk"]["S"])] = None
        start = page.get("LastEvaluatedKey")
        if not start:
            return list(ids)


def _members(member_ids: list[str], tally: Counter[str]) -> list[Member]:
    found: list[Member] = []
    for start in range(0, len(member_ids), BATCH_GET):
        wanted = [(keys.member_pk(m), keys.PROFILE) for m in member_ids[start : start + BATCH_GET]]
        batch = list(Member.batch_get(wanted, consistent_read=True))
        tally["member_round_trips"] += 1
        found += batch
    tally["examined"] += len(found)
    tally["skipped.member_gone"] += len(member_ids) - len(found)
    return found


def do_unit(unit: Unit) -> Counter[str]:
    """One unit of work (one queue message). Raises only if a lone member fails."""
    ctx = context(unit["job"], date.fromisoformat(unit["as_of"]), bool(unit["dry_run"]))
    tally: Counter[str] = Counter()
    follow_ups: list[Unit] = []
    if unit["kind"] == "send":
        _send_deferred(unit, ctx.now_local, ctx.dry_run, tally)
    elif unit["kind"] == "reconcile":
        _reconcile(unit, ctx.dry_run, tally, follow_ups)
    else:
        action = JOBS[unit["job"]].actions()[unit["kind"]]
        member_ids = unit.get("members") or _index_member_ids(unit["index"], unit["bucket"], tally)
        failed: list[str] = []
        now = utcnow()
        for member in _members(member_ids, tally):
            try:
                result = act_on_member(member, ctx, unit, action, now)
            except Exception:
                if unit.get("members") and not ctx.dry_run:
                    raise  # alone already: let the queue retry it, then dead-letter it
                logger.exception("job failed for a member", extra={"job": unit["job"], "member_id": member.member_id})
                failed.append(member.member_id)
                continue
            tally["affected"] += int(result.affected)
            tally["points_moved"] += result.points
            tally["messages_sent"] += result.sent
            tally["messages_deferred"] += result.deferred
            for reason, n in result.skipped.items():
                tally[f"skipped.{reason}"] += n
        if failed and ctx.dry_run:
            tally["failed"] += len(failed)
        elif failed:
            tally["retried_alone"] += len(failed)
            retry = {**{k: v for k, v in unit.items() if k not in ("bucket",)}, "members": failed}
            follow_ups += [{**retry, "members": [m]} for m in failed]
    if not ctx.dry_run:
        if _record(unit, tally):
            _emit_metrics(unit, tally)
        # Queued once the unit is on the record, and again when a redelivered unit finds it
        # there already (the first try may have failed to queue them): a unit already on the
        # record adds nothing to it, so a follow-up queued twice is counted once.
        enqueue(follow_ups)
    return tally


def _send_deferred(unit: Unit, now_local: datetime, dry_run: bool, tally: Counter[str]) -> None:
    """Send what quiet hours held back, up to now: delete first, then send (at most once)."""
    now = now_local.astimezone(UTC)
    hour = now.replace(minute=0, second=0, microsecond=0)
    for back in range(48):
        bucket = keys.send_bucket((hour - timedelta(hours=back)).strftime("%Y-%m-%dT%H"), int(unit["shard"]))
        tally["index_round_trips"] += 1
        for item in DeferredMessage.query(bucket, consistent_read=True):
            tally["examined"] += 1
            if item.send_after > now:
                tally["skipped.not_yet"] += 1
                continue
            if dry_run:
                tally["messages_sent"] += 1
                continue
            try:
                item.delete(condition=DeferredMessage.pk.exists())
            except DeleteError:
                tally["skipped.already_sent"] += 1
                continue
            if not is_channel(item.channel):  # a stored string: written from a Message, so never in practice
                tally["skipped.unknown_channel"] += 1
                continue
            try:
                send(Message(channel=item.channel, to=item.recipient, kind=item.kind, body=item.body))
            except DeliveryFailed:
                tally["skipped.delivery_failed"] += 1
                continue
            tally["messages_sent"] += 1
            tally["affected"] += 1


def _reconcile(unit: Unit, dry_run: bool, tally: Counter[str], follow_ups: list[Unit]) -> None:
    """Check the members of one Scan segment (from where the unit before stopped). Reads only."""
    deadline = None if dry_run or unit.get("inline") else time.monotonic() + RECONCILE_UNIT_SECONDS
    report = reconcile_segment(
        connection().client,
        get_settings().table_name,
        int(unit["segment"]),
        int(unit["segments"]),
        start_key=unit.get("start_key"),
        deadline=deadline,
    )
    tally["examined"] += report.members_checked
    tally["drift"] += len(report.drifting)
    tally["unsettled"] += len(report.unsettled)
    tally["rechecked"] += report.rechecked
    tally["outstanding_points"] += report.outstanding_points
    tally["outstanding_stored_value"] += report.outstanding_stored_value
    tally["items_read"] += report.items_read
    tally["scan_round_trips"] += report.round_trips
    for member_id in sorted(report.drifting)[:MAX_DRIFT_IDS]:
        tally[f"drift.{member_id}"] += 1
    if report.resume_from is not None:
        tally["units_added"] += 1
        follow_ups.append({**unit, "start_key": report.resume_from})


def unit_id(unit: Unit) -> str:
    """The same for every delivery of one unit, different for any other unit of the run."""
    return hashlib.sha256(json.dumps(unit, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:24]


def _record(unit: Unit, tally: Counter[str]) -> bool:
    """Add the unit's counters to its run's record, once: False if a delivery before
    this one (SQS delivers at least once) already did."""
    uid = unit_id(unit)
    run = JobRun(keys.jobrun_pk(unit["job"], unit["as_of"]), keys.jobrun_sk(unit["run_id"]))
    actions: list[Action] = [JobRun.units_done.add(1), JobRun.units_recorded.add({uid})]
    actions += [JobRun.counters[name].add(value) for name, value in tally.items() if value]
    if tally["units_added"]:
        actions.append(JobRun.units_planned.add(tally["units_added"]))
    try:
        run.update(actions=actions, condition=JobRun.units_recorded.does_not_exist() | ~JobRun.units_recorded.contains(uid))
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        logger.info("job unit already on the record: a redelivery", extra={"job": unit["job"], "unit": uid})
        return False
    return True


def _emit_metrics(unit: Unit, tally: Counter[str]) -> None:
    """The unit's metrics, once it is on the record (so a redelivery never counts twice)."""
    count_for_job(
        unit["job"],
        {f"Job{name.title().replace('_', '')}": value for name, value in tally.items() if value and not name.startswith(_NOT_JOB_METRICS)},
    )
    if unit["kind"] == "reconcile":
        # Summed over a run's units: the program's liabilities, and the alarm's input (0 included).
        count("OutstandingPoints", tally["outstanding_points"])
        count("OutstandingStoredValue", tally["outstanding_stored_value"])
        count("LedgerDrift", tally["drift"])


def summary(job: str, as_of: str, run_id: str) -> dict[str, Any]:
    """The summary of a run, from its record (every unit added to it)."""
    run = JobRun.get(keys.jobrun_pk(job, as_of), keys.jobrun_sk(run_id), consistent_read=True)
    counters = Counter({k: int(v) for k, v in as_dict(run.counters).items()})
    return summarise(job, as_of, run_id, bool(run.dry_run), int(run.units_planned), int(run.units_done), counters)


def summarise(job: str, as_of: str, run_id: str, dry_run: bool, planned: int, done: int, counters: Counter[str]) -> dict[str, Any]:
    skipped = {k.removeprefix("skipped."): v for k, v in sorted(counters.items()) if k.startswith("skipped.")}
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
        **({"ledger": _ledger_summary(counters)} if job == "reconcile" else {}),
    }


def _ledger_summary(counters: Counter[str]) -> dict[str, Any]:
    """What a reconcile run found: member ids only, never personal data."""
    return {
        "members_checked": counters.get("examined", 0),
        "members_with_drift": counters.get("drift", 0),
        "drift_member_ids": sorted(k.removeprefix("drift.") for k in counters if k.startswith("drift.")),
        "members_unsettled": counters.get("unsettled", 0),
        "members_rechecked": counters.get("rechecked", 0),
        "outstanding_points": counters.get("outstanding_points", 0),
        "outstanding_stored_value": counters.get("outstanding_stored_value", 0),
        "items_read": counters.get("items_read", 0),
    }
