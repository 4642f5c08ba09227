"""The jobs, one spec each: when it runs, the units of work it plans, what a unit does.

Schedules are EventBridge crons in UTC for the default program time zone
(Asia/Shanghai, UTC+8), kept in schedules.py (the app's import needs only
them); `local_time` is the time of day the job stands for, used for "now"
(quiet hours) when it runs for a given date.

`plan` cuts a run into units (one per index shard and day; reconcile: one per
Scan segment); `work` says what a unit of each kind does, by calling one use
case; `report` and `metrics` add what only that job counts. The runner
(runner.py) fans units out, keeps the run's record and knows no job by name.
"""

from __future__ import annotations

import time as clock
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import TYPE_CHECKING, Any

from ..domain.calendar import celebrated_month_days
from ..domain.clock import today_in, utcnow
from ..domain.errors import RefreshRunning
from ..lazy import lazy_module
from ..store import job_index
from .schedules import SCHEDULES

if TYPE_CHECKING:
    from ..domain.rules import ProgramRules
    from ..store.models import Member
    from ..usecases import (
        analytics,
        birthday_gifts,
        campaigns,
        closure,
        deferred_messages,
        member_changes,
        pending_points,
        plans,
        points_expiry,
        reconcile,
        reengagement,
        surveys,
        tier_review,
        wechat_pay_sweep,
    )
    from ..usecases.member_changes import JobContext, MemberResult
    from ..usecases.operations import bulk_exports, bulk_grants, member_imports, product_codes, segments
    from . import member_units
else:
    # What the jobs do is loaded when a job runs, not with every function of the app.
    analytics = lazy_module("chalicelib.usecases.analytics")
    birthday_gifts = lazy_module("chalicelib.usecases.birthday_gifts")
    campaigns = lazy_module("chalicelib.usecases.campaigns")
    closure = lazy_module("chalicelib.usecases.closure")
    deferred_messages = lazy_module("chalicelib.usecases.deferred_messages")
    member_changes = lazy_module("chalicelib.usecases.member_changes")
    pending_points = lazy_module("chalicelib.usecases.pending_points")
    plans = lazy_module("chalicelib.usecases.plans")
    points_expiry = lazy_module("chalicelib.usecases.points_expiry")
    reconcile = lazy_module("chalicelib.usecases.reconcile")
    reengagement = lazy_module("chalicelib.usecases.reengagement")
    surveys = lazy_module("chalicelib.usecases.surveys")
    tier_review = lazy_module("chalicelib.usecases.tier_review")
    wechat_pay_sweep = lazy_module("chalicelib.usecases.wechat_pay_sweep")
    member_units = lazy_module("chalicelib.jobs.member_units")
    segments = lazy_module("chalicelib.usecases.operations.segments")
    product_codes = lazy_module("chalicelib.usecases.operations.product_codes")
    member_imports = lazy_module("chalicelib.usecases.operations.member_imports")
    bulk_grants = lazy_module("chalicelib.usecases.operations.bulk_grants")
    bulk_exports = lazy_module("chalicelib.usecases.operations.bulk_exports")

Unit = dict[str, Any]


@dataclass
class Done:
    """What one unit did: its counters (added to the run's record) and the units it adds to the run."""

    tally: Counter[str] = field(default_factory=Counter)
    follow_ups: list[Unit] = field(default_factory=list)


Work = Callable[[Unit, "JobContext"], Done]


@dataclass(frozen=True)
class JobSpec:
    name: str
    local_time: time
    plan: Callable[[date, ProgramRules, int], list[Unit]]
    work: Callable[[], Mapping[str, Work]]  # by unit kind; a function, so nothing loads until a job runs
    report: Callable[[Counter[str]], dict[str, Any]] | None = None  # the run summary's own section
    metrics: Callable[[Counter[str]], dict[str, int]] | None = None  # emitted per unit, once it is on the record
    # Its units are done in the job's own function, never by the queue worker: they need a secret
    # only that function is given (infra/stack.py: wechat-pay-sweep and the WeChat Pay keys).
    inline: bool = False
    # What a unit that failed its last delivery leaves for operators to see before SQS
    # dead-letters it (the runner calls it; it must not raise): most jobs need none, their run
    # record simply never completes and the DLQ alarm says so.
    gave_up: Callable[[Unit, BaseException], None] | None = None

    @property
    def cron(self) -> str:
        """EventBridge cron (UTC): schedules.py."""
        return SCHEDULES[self.name].cron

    @property
    def description(self) -> str:
        return SCHEDULES[self.name].description


# --- expire-points -------------------------------------------------------------------


def _expire_units(as_of: date, rules: ProgramRules, shards: int) -> list[Unit]:
    index = job_index.LOTS_BY_EXPIRY
    units: list[Unit] = [{"kind": "expire", "index": index, "bucket": job_index.expiry_bucket(as_of, s)} for s in range(shards)]
    for days in rules.expiry_reminder_days:
        day = as_of + timedelta(days=days)
        units += [{"kind": "remind", "days": days, "index": index, "bucket": job_index.expiry_bucket(day, s)} for s in range(shards)]
    return units


def _expire(member: Member, ctx: JobContext, unit: Unit) -> MemberResult:
    return points_expiry.expire_due_lots(member, ctx)


def _remind(member: Member, ctx: JobContext, unit: Unit) -> MemberResult:
    return points_expiry.remind_expiring_points(member, ctx, int(unit["days"]))


# --- birthday-bonus ------------------------------------------------------------------


def _celebration_units(kind: str, index: str, bucket: Callable[[str, int], str]) -> Callable[[date, ProgramRules, int], list[Unit]]:
    """The plan of a job for the members whose day (a birthday, a membership anniversary) is
    celebrated on the run's date: one `kind` unit per month-day and index shard."""

    def plan(as_of: date, rules: ProgramRules, shards: int) -> list[Unit]:
        return [{"kind": kind, "index": index, "bucket": bucket(md, s)} for md in celebrated_month_days(as_of) for s in range(shards)]

    return plan


_birthday_units = _celebration_units("gift", job_index.MEMBERS_BY_BIRTHDAY, job_index.birthday_bucket)


def _gift(member: Member, ctx: JobContext, unit: Unit) -> MemberResult:
    return birthday_gifts.give_birthday_gift(member, ctx)


# --- reengagement --------------------------------------------------------------------


def _reengagement_units(as_of: date, rules: ProgramRules, shards: int) -> list[Unit]:
    return [
        {
            "kind": "reengage",
            "window": window,
            "index": job_index.MEMBERS_BY_ACTIVITY,
            "bucket": job_index.activity_bucket(as_of - timedelta(days=window), s),
        }
        for window in rules.reengagement_windows
        for s in range(shards)
    ]


def _reengage(member: Member, ctx: JobContext, unit: Unit) -> MemberResult:
    return reengagement.reengage_idle_member(member, ctx, int(unit["window"]))


# --- tier-review ---------------------------------------------------------------------


_tier_review_units = _celebration_units("review", job_index.MEMBERS_BY_ANNIVERSARY, job_index.anniversary_bucket)


def _review(member: Member, ctx: JobContext, unit: Unit) -> MemberResult:
    return tier_review.review_tier(member, ctx)


# --- send-deferred -------------------------------------------------------------------


def _send_deferred_units(as_of: date, rules: ProgramRules, shards: int) -> list[Unit]:
    return [{"kind": "send", "shard": s} for s in range(shards)]


def _send(unit: Unit, ctx: JobContext) -> Done:
    """Send what quiet hours held back in one shard, up to the job's time."""
    dispatch = deferred_messages.send_due_messages(int(unit["shard"]), ctx.now_local, dry_run=ctx.dry_run)
    done = Done()
    done.tally["index_round_trips"] += dispatch.round_trips
    done.tally["examined"] += dispatch.examined
    done.tally["messages_sent"] += dispatch.sent
    done.tally["affected"] += dispatch.delivered
    for reason, n in dispatch.skipped.items():
        done.tally[f"skipped.{reason}"] += n
    return done


# --- catching up: erase-closed, release-pending-points, membership-plans ------------------

# What these jobs do must not be missed: each run also reads the buckets of the days before, so
# runs that failed or were skipped are caught up (a member acted on has left its bucket).
CATCH_UP_DAYS = 7


def _catch_up_units(kind: str, index: str, bucket: Callable[[date, int], str], last_day: date, shards: int) -> list[Unit]:
    """Units of `kind` over `index`'s buckets of `last_day` and the CATCH_UP_DAYS - 1 days before."""
    return [
        {"kind": kind, "index": index, "bucket": bucket(last_day - timedelta(days=back), s)} for back in range(CATCH_UP_DAYS) for s in range(shards)
    ]


# --- erase-closed --------------------------------------------------------------------


def _erase_units(as_of: date, rules: ProgramRules, shards: int) -> list[Unit]:
    return _catch_up_units("erase", job_index.MEMBERS_BY_ERASURE, job_index.erasure_bucket, as_of, shards)


def _erase(member: Member, ctx: JobContext, unit: Unit) -> MemberResult:
    """Erase a member found in an erasure bucket if its grace period ended by the job's time
    (members closed later that day are erased the next day)."""
    erasure = closure.erase_member(member.member_id, ctx.now_local, dry_run=ctx.dry_run)
    if erasure.outcome != "erased":
        return member_changes.MemberResult().skip(erasure.outcome)
    return member_changes.MemberResult(affected=True, points=erasure.points_forfeited)


# --- release-pending-points ----------------------------------------------------------


def _release_units(as_of: date, rules: ProgramRules, shards: int) -> list[Unit]:
    # A member sits in the bucket of its earliest pending day until it is released.
    return _catch_up_units("release", job_index.MEMBERS_BY_RELEASE, job_index.release_bucket, as_of, shards)


def _release(member: Member, ctx: JobContext, unit: Unit) -> MemberResult:
    return pending_points.release_pending_points(member, ctx)


# --- membership-plans ----------------------------------------------------------------


def _plan_units(as_of: date, rules: ProgramRules, shards: int) -> list[Unit]:
    """Lapse: the plans whose last day was yesterday (and the days before, to catch up: a plan
    not lapsed keeps its tier). Remind: the plans ending `reminder_days_before_end` days from
    now, for each such number of days."""
    index = job_index.MEMBERS_BY_PLAN_END
    units = _catch_up_units("lapse", index, job_index.plan_end_bucket, as_of - timedelta(days=1), shards)
    for days in sorted({p.reminder_days_before_end for p in rules.plans if p.reminder_days_before_end > 0}):
        day = as_of + timedelta(days=days)
        units += [{"kind": "plan_reminder", "days": days, "index": index, "bucket": job_index.plan_end_bucket(day, s)} for s in range(shards)]
    return units


def _lapse_plan(member: Member, ctx: JobContext, unit: Unit) -> MemberResult:
    return plans.lapse_ended_plan(member, ctx)


def _remind_plan(member: Member, ctx: JobContext, unit: Unit) -> MemberResult:
    return plans.remind_plan_end(member, ctx, int(unit["days"]))


# --- campaigns -----------------------------------------------------------------------
# Every 5 minutes: start the campaigns whose `send_at` has come (one query of the CAMPAIGNDUE
# partition), and settle the hand-overs workers left `pending` (one query of the HANDOVERS
# partition, usually empty). A started campaign's units (`deliver`, one per slice of an audience
# part) are queued by usecases/campaigns.launch, under the campaign's own run record (run_id =
# campaign id).


def _campaign_units(as_of: date, rules: ProgramRules, shards: int) -> list[Unit]:
    return [{"kind": "start_due"}, {"kind": "settle_handovers"}]


def _start_due(unit: Unit, ctx: JobContext) -> Done:
    """Due by now; run for a later day (the local stage's `make job`), due by the end of that day."""
    now = utcnow()
    cutoff = now if ctx.as_of <= today_in(ctx.rules.zone, now) else ctx.now_local
    return Done(tally=campaigns.start_due(cutoff, dry_run=ctx.dry_run))


def _settle_handovers(unit: Unit, ctx: JobContext) -> Done:
    """Hand-overs no worker will settle any more (their worker stopped): by real time, whatever `as_of`."""
    return Done(tally=campaigns.settle_handovers(utcnow(), dry_run=ctx.dry_run))


def _deliver(unit: Unit, ctx: JobContext) -> Done:
    """A slice of the audience; an invitation's unit then queues the next slice a minute on."""
    tally = campaigns.deliver_unit(unit, ctx.rules, dry_run=ctx.dry_run)
    return Done(tally=tally, follow_ups=[] if ctx.dry_run else campaigns.next_units(unit))


def _outcomes(unit: Unit, ctx: JobContext) -> Done:
    return Done(tally=campaigns.outcomes_unit(unit))


def _campaign_report(counters: Counter[str]) -> dict[str, Any]:
    return {
        "campaigns": {
            "due": counters.get("campaigns_due", 0),
            "started": counters.get("campaigns_started", 0),
            # due, not started: their segment has no audience counting its current definition yet
            "waiting": counters.get("campaigns_waiting", 0),
            "failed": counters.get("campaigns_failed", 0),  # waited past START_WAIT (or the segment was deleted)
        },
        "handovers_settled": {"accepted": counters.get("handovers_accepted", 0), "unknown": counters.get("handovers_unknown", 0)},
    }


# --- wechat-pay-sweep ----------------------------------------------------------------
# Every 10 minutes: the top-ups and refunds WeChat Pay has not settled by notification, asked
# again (usecases/wechat_pay_sweep.py), one unit per shard of the `wechat_pay_open` index.


def _sweep_units(as_of: date, rules: ProgramRules, shards: int) -> list[Unit]:
    return [{"kind": "sweep", "shard": s} for s in range(shards)]


def _sweep(unit: Unit, ctx: JobContext) -> Done:
    """Open before now (a run for a later day, the local stage's `make job`: before the end of it)."""
    now = utcnow()
    until = now if ctx.as_of <= today_in(ctx.rules.zone, now) else ctx.now_local
    return Done(tally=wechat_pay_sweep.sweep_open(int(unit["shard"]), until, dry_run=ctx.dry_run))


def _sweep_report(counters: Counter[str]) -> dict[str, Any]:
    """What the run found: orders credited, closed or waiting; refunds asked, settled or waiting."""
    outcomes = wechat_pay_sweep.OUTCOMES
    return {"wechat_pay": {name: counters.get(name, 0) for name in outcomes if counters.get(name, 0)}}


# --- reconcile -----------------------------------------------------------------------

# The reconcile job reads the whole table by a parallel Scan: one unit per segment.
# More segments, more parallel (and smaller) units; a unit that runs out of time
# goes on in a new unit, so this is about speed, not about limits.
RECONCILE_SEGMENTS = 16
# A reconcile unit scans until this many seconds have passed, then hands the rest
# of its segment to a new unit: well inside the worker's timeout (120 s).
RECONCILE_UNIT_SECONDS = 60
# Drifting member ids kept in the run record per unit (the log has every one).
MAX_DRIFT_IDS = 100


def _reconcile_units(as_of: date, rules: ProgramRules, shards: int) -> list[Unit]:
    return [{"kind": "reconcile", "segment": s, "segments": RECONCILE_SEGMENTS} for s in range(RECONCILE_SEGMENTS)]


def _reconcile(unit: Unit, ctx: JobContext) -> Done:
    """Check the members of one Scan segment (from where the unit before stopped). Reads only."""
    deadline = None if ctx.dry_run or unit.get("inline") else clock.monotonic() + RECONCILE_UNIT_SECONDS
    report = reconcile.reconcile_app_segment(int(unit["segment"]), int(unit["segments"]), start_key=unit.get("start_key"), deadline=deadline)
    done = Done()
    tally = done.tally
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
        done.follow_ups.append({**unit, "start_key": report.resume_from})
    return done


def _ledger_report(counters: Counter[str]) -> dict[str, Any]:
    """What a reconcile run found: member ids only, never personal data."""
    return {
        "ledger": {
            "members_checked": counters.get("examined", 0),
            "members_with_drift": counters.get("drift", 0),
            "drift_member_ids": sorted(k.removeprefix("drift.") for k in counters if k.startswith("drift.")),
            "members_unsettled": counters.get("unsettled", 0),
            "members_rechecked": counters.get("rechecked", 0),
            "outstanding_points": counters.get("outstanding_points", 0),
            "outstanding_stored_value": counters.get("outstanding_stored_value", 0),
            "items_read": counters.get("items_read", 0),
        }
    }


def _ledger_metrics(tally: Counter[str]) -> dict[str, int]:
    """Summed over a run's units: the program's liabilities, and the alarm's input (0 included)."""
    return {
        "OutstandingPoints": tally["outstanding_points"],
        "OutstandingStoredValue": tally["outstanding_stored_value"],
        "LedgerDrift": tally["drift"],
    }


# --- survey-invitations ----------------------------------------------------------------


def _invitation_units(as_of: date, rules: ProgramRules, shards: int) -> list[Unit]:
    """Publishing a segment survey queues its units itself (usecases/surveys.publish_survey);
    a run of the job queues every open segment survey's again (invitations are idempotent)."""
    return surveys.invitation_units()


def _invite(unit: Unit, ctx: JobContext) -> Done:
    done = Done()
    in_part, written = surveys.invite_part(unit["survey_id"], unit["audience_id"], unit["part"], dry_run=ctx.dry_run)
    done.tally["examined"] += in_part
    done.tally["affected"] += written if not ctx.dry_run else in_part
    return done


# --- analytics-refresh -----------------------------------------------------------------

# The export takes minutes in AWS: a unit that finds it running comes back later (a delayed
# message on the jobs queue), a bounded number of times before the refresh is given up; in the
# local stage (moto exports at once) the unit waits instead. The timings are usecases/analytics.py's.


def _analytics_units(as_of: date, rules: ProgramRules, shards: int) -> list[Unit]:
    return [{"kind": analytics.REFRESH_UNIT}]


def _refresh(unit: Unit, ctx: JobContext) -> Done:
    """Start a refresh (or take over the one an operator started), then move it on: build when the
    export is complete, else come back later. A dry run starts nothing and builds nothing."""
    from ..settings import get_settings

    done = Done()
    if ctx.dry_run:
        return done
    refresh_id = unit.get("refresh_id")
    if refresh_id is None:
        try:
            refresh_id = analytics.start_refresh("schedule", audited=False).refresh_id
            done.tally["exports_started"] += 1
        except RefreshRunning:
            refresh_id = None  # an operator's refresh runs: this run sees it through
    wait = analytics.LOCAL_WAIT_SECONDS if get_settings().is_local or unit.get("inline") else 0.0
    progress = analytics.advance_refresh(wait_seconds=wait, refresh_id=refresh_id)
    done.tally[progress.status] += 1
    if progress.status == "running":
        checks = int(unit.get("checks", 0)) + 1
        if checks > analytics.MAX_CHECKS:
            analytics.give_up(progress.refresh_id)
            done.tally["failed"] += 1
        else:
            done.tally["units_added"] += 1
            follow_up = {
                "kind": analytics.REFRESH_UNIT,
                "refresh_id": progress.refresh_id,
                "checks": checks,
                "delay_seconds": analytics.CHECK_DELAY_SECONDS,
            }
            done.follow_ups.append({**{k: v for k, v in unit.items() if k not in ("refresh_id", "checks", "delay_seconds")}, **follow_up})
    for name, value in progress.figures.items():
        done.tally[f"figure.{name}"] += value
    return done


def _analytics_report(counters: Counter[str]) -> dict[str, Any]:
    return {
        "analytics": {
            "completed": counters.get("completed", 0) > 0,
            "failed": counters.get("failed", 0) > 0,
            "checks": counters.get("running", 0),
            "figures": {k.removeprefix("figure."): v for k, v in sorted(counters.items()) if k.startswith("figure.")},
        }
    }


def _analytics_metrics(tally: Counter[str]) -> dict[str, int]:
    """The day's business figures, from the unit that completed the refresh only."""
    if not tally.get("completed"):
        return {}
    return {k.removeprefix("figure."): v for k, v in tally.items() if k.startswith("figure.")}


# --- segment-tags ----------------------------------------------------------------------
# An operator's bulk tag change (POST /v1/admin/segments/{id}/tags) is a run of this job with one
# `tags` unit per part of the segment's audience, queued by usecases/operations/segments.py. The
# schedule plans nothing of its own: its runs (and `make job JOB=segment-tags`) see the queue drained.


def _no_units(as_of: date, rules: ProgramRules, shards: int) -> list[Unit]:
    """A job whose units a use case queues (segment-tags, product-codes): its own runs plan none."""
    return []


def _tags(unit: Unit, ctx: JobContext) -> Done:
    """Every member of one audience part, each once however often the unit is delivered."""
    if ctx.dry_run:
        return Done()
    return Done(tally=segments.apply_tags_to_part(unit))


# --- segment-audiences -----------------------------------------------------------------
# Saving a segment (or POST /v1/admin/segments/{id}/audiences) queues one `audience` unit: its size,
# sample and audience counted by the analytics engine outside the request (usecases/operations/
# segments.py). The schedule plans nothing of its own: its runs (and `make job JOB=segment-audiences`)
# see the queue drained.


def _audience(unit: Unit, ctx: JobContext) -> Done:
    """One segment's audience in the latest build, for the version the unit was queued for."""
    if ctx.dry_run:
        return Done()
    return Done(tally=Counter({segments.compute_audience(unit): 1}))


def _audience_gave_up(unit: Unit, error: BaseException) -> None:
    """The count failed every delivery: the segment shows `failed` with why, not `computing` forever."""
    segments.count_gave_up(unit, error)


# --- product-codes ---------------------------------------------------------------------
# A batch of product codes over SYNC_MAX (POST /v1/admin/product-codes) is a run of this job with
# one `part` unit per PART_SIZE codes, queued by usecases/operations/product_codes.py. The schedule
# plans nothing of its own: its runs (and `make job JOB=product-codes`) see the queue drained.


def _code_part_gave_up(unit: Unit, error: BaseException) -> None:
    """A part failed every delivery: its batch shows it failed, not generating forever."""
    product_codes.part_gave_up(unit, error)


def _code_part(unit: Unit, ctx: JobContext) -> Done:
    """One part of a batch's codes, written once however often the unit is delivered."""
    if ctx.dry_run:
        return Done()
    return Done(tally=product_codes.generate_part(unit))


# --- member-import ---------------------------------------------------------------------
# An operator's bulk import of members (POST /v1/admin/imports/{id}/start) is a run of this job
# (run id = import id) with one `rows` unit per part of the file, each queueing the next,
# usecases/operations/member_imports.py. The schedule plans nothing of its own.


def _import_rows(unit: Unit, ctx: JobContext) -> Done:
    """One part of an import's file, imported once however often the unit is delivered."""
    if ctx.dry_run:
        return Done()
    part = member_imports.import_part(unit)
    return Done(tally=part.tally, follow_ups=[part.next_unit] if part.next_unit else [])


# --- bulk-grants, bulk-exports ----------------------------------------------------------
# An operator's bulk grant (POST /v1/admin/grants/{id}/start) or export (POST /v1/admin/exports)
# is a run of one of these jobs (run id = the batch's or export's id), its units queued by
# usecases/operations/bulk_grants.py and bulk_exports.py. Their schedules plan nothing.


def _grant_split(unit: Unit, ctx: JobContext) -> Done:
    if ctx.dry_run:
        return Done()
    tally, follow_ups = bulk_grants.split_file(unit)
    tally["units_added"] += len(follow_ups)
    return Done(tally=tally, follow_ups=[{**unit, **f} for f in follow_ups])


def _grant_rows(unit: Unit, ctx: JobContext) -> Done:
    if ctx.dry_run:
        return Done()
    return Done(tally=bulk_grants.grant_part(unit))


def _export_scan(unit: Unit, ctx: JobContext) -> Done:
    if ctx.dry_run:
        return Done()
    deadline = None if unit.get("inline") else clock.monotonic() + bulk_exports.UNIT_SECONDS
    tally, follow_ups = bulk_exports.scan_unit(unit, deadline=deadline)
    return Done(tally=tally, follow_ups=follow_ups)


def _export_audience(unit: Unit, ctx: JobContext) -> Done:
    if ctx.dry_run:
        return Done()
    return Done(tally=bulk_exports.audience_unit(unit))


JOBS: dict[str, JobSpec] = {
    spec.name: spec
    for spec in (
        JobSpec(
            "expire-points",
            time(0, 5),
            _expire_units,
            lambda: {"expire": member_units.for_each_member(_expire), "remind": member_units.for_each_member(_remind)},
        ),
        JobSpec(
            "birthday-bonus",
            time(9, 0),
            _birthday_units,
            lambda: {"gift": member_units.for_each_member(_gift)},
        ),
        JobSpec(
            "reengagement",
            time(10, 0),
            _reengagement_units,
            lambda: {"reengage": member_units.for_each_member(_reengage)},
        ),
        JobSpec(
            "tier-review",
            time(1, 0),
            _tier_review_units,
            lambda: {"review": member_units.for_each_member(_review)},
        ),
        JobSpec(
            "send-deferred",
            time(9, 5),
            _send_deferred_units,
            lambda: {"send": _send},
        ),
        JobSpec(
            "erase-closed",
            time(3, 0),
            _erase_units,
            lambda: {"erase": member_units.for_each_member(_erase)},
        ),
        JobSpec(
            "release-pending-points",
            time(0, 10),
            _release_units,
            lambda: {"release": member_units.for_each_member(_release)},
        ),
        JobSpec(
            "membership-plans",
            time(0, 10),
            _plan_units,
            lambda: {"lapse": member_units.for_each_member(_lapse_plan), "plan_reminder": member_units.for_each_member(_remind_plan)},
        ),
        JobSpec(
            "campaigns",
            time(23, 59, 59),
            _campaign_units,
            lambda: {"start_due": _start_due, "settle_handovers": _settle_handovers, "deliver": _deliver, "outcomes": _outcomes},
            report=_campaign_report,
        ),
        JobSpec("wechat-pay-sweep", time(23, 59, 59), _sweep_units, lambda: {"sweep": _sweep}, report=_sweep_report, inline=True),
        JobSpec(
            "reconcile",
            time(4, 30),
            _reconcile_units,
            lambda: {"reconcile": _reconcile},
            report=_ledger_report,
            metrics=_ledger_metrics,
        ),
        JobSpec(
            "survey-invitations",
            time(3, 30),
            _invitation_units,
            lambda: {"invite": _invite},
        ),
        JobSpec(
            "segment-tags",
            time(5, 30),
            _no_units,
            lambda: {"tags": _tags},
        ),
        JobSpec(
            "segment-audiences",
            time(5, 20),
            _no_units,
            lambda: {"audience": _audience},
            gave_up=_audience_gave_up,
        ),
        JobSpec(
            "product-codes",
            time(5, 45),
            _no_units,
            lambda: {"part": _code_part},
            gave_up=_code_part_gave_up,
        ),
        JobSpec("bulk-grants", time(5, 50), _no_units, lambda: {"split": _grant_split, "rows": _grant_rows}),
        JobSpec("bulk-exports", time(5, 55), _no_units, lambda: {"scan": _export_scan, "audience": _export_audience}),
        JobSpec(
            "member-import",
            time(5, 50),
            _no_units,
            lambda: {"rows": _import_rows},
        ),
        JobSpec(
            "analytics-refresh",
            time(5, 0),
            _analytics_units,
            lambda: {analytics.REFRESH_UNIT: _refresh},
            report=_analytics_report,
            metrics=_analytics_metrics,
        ),
    )
}
if set(JOBS) != set(SCHEDULES):  # one schedule per job, and no schedule without a job
    raise RuntimeError(f"jobs {sorted(JOBS)} and schedules {sorted(SCHEDULES)} differ")
