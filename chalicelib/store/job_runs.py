"""Job runs (JobRun): one record per run, `JOBRUN#<job>#<as_of>` / `RUN#<run_id>` (keys.py),
added to by every unit of work the run fanned out.

Each unit adds its counters once: the record keeps the ids of the units already added, and the
update is conditioned on the unit's id not being among them, so a unit SQS delivers twice counts
once. The record lives 90 days.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from . import keys
from .members import as_dict
from .models import JobRun

KEPT_FOR = timedelta(days=90)


def new_run(job: str, as_of: str, run_id: str, *, dry_run: bool, units_planned: int, now: datetime, kept_for: timedelta = KEPT_FOR) -> JobRun:
    """A run's record before any unit has added to it (kept `kept_for`)."""
    return JobRun(
        keys.jobrun_pk(job, as_of),
        keys.jobrun_sk(run_id),
        job=job,
        as_of=as_of,
        run_id=run_id,
        dry_run=dry_run,
        units_planned=units_planned,
        counters={},
        started_at=now,
        ttl=now + kept_for,
    )


def start_run(job: str, as_of: str, run_id: str, *, dry_run: bool, units_planned: int, now: datetime) -> None:
    new_run(job, as_of, run_id, dry_run=dry_run, units_planned=units_planned, now=now).save()


def add_unit(job: str, as_of: str, run_id: str, unit_id: str, counters: Mapping[str, int], *, units_added: int = 0) -> bool:
    """Add one unit's counters (and the units it added to the run) to the run's record, once:
    False if a delivery before this one already did."""
    run = JobRun(keys.jobrun_pk(job, as_of), keys.jobrun_sk(run_id))
    actions: list[Action] = [JobRun.units_done.add(1), JobRun.units_recorded.add({unit_id})]
    actions += [JobRun.counters[name].add(value) for name, value in counters.items() if value]
    if units_added:
        actions.append(JobRun.units_planned.add(units_added))
    try:
        run.update(actions=actions, condition=JobRun.units_recorded.does_not_exist() | ~JobRun.units_recorded.contains(unit_id))
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False
    return True


@dataclass(frozen=True)
class RunRecord:
    dry_run: bool
    units_planned: int
    units_done: int
    counters: Counter[str]


def read_run(job: str, as_of: str, run_id: str) -> RunRecord:
    """The run's record as its units left it, strongly consistent."""
    run = JobRun.get(keys.jobrun_pk(job, as_of), keys.jobrun_sk(run_id), consistent_read=True)
    counters = Counter({k: int(v) for k, v in as_dict(run.counters).items()})
    return RunRecord(bool(run.dry_run), int(run.units_planned), int(run.units_done), counters)
