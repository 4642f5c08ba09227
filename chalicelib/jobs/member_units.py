"""Units that act on the members of one index bucket, one member at a time.

A unit reads its bucket through the KEYS_ONLY index, the members in batches
(store/job_index.py), and calls the job's use case for each member. A member
that fails is retried alone (a unit of its own), so one bad member never
repeats or blocks the others; a member that fails alone fails its unit, which
the queue retries, then dead-letters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..observability import logger
from ..store import job_index
from .specs import Done, Unit, Work

if TYPE_CHECKING:
    from ..store.models import Member
    from ..usecases.member_changes import JobContext, MemberResult

MemberAction = Callable[["Member", "JobContext", Unit], "MemberResult"]


def for_each_member(action: MemberAction) -> Work:
    """The work of a unit whose members `action` acts on, one by one."""

    def work(unit: Unit, ctx: JobContext) -> Done:
        return _each_member(unit, ctx, action)

    return work


def _each_member(unit: Unit, ctx: JobContext, action: MemberAction) -> Done:
    done = Done()
    tally = done.tally
    member_ids: list[str] = unit.get("members") or []
    if not member_ids:
        bucket = job_index.member_ids_in(unit["index"], unit["bucket"])
        tally["index_round_trips"] += bucket.round_trips
        tally["index_entries"] += bucket.entries
        member_ids = bucket.member_ids
    found = job_index.read_members(member_ids)
    tally["member_round_trips"] += found.round_trips
    tally["examined"] += len(found.members)
    tally["skipped.member_gone"] += len(member_ids) - len(found.members)
    failed: list[str] = []
    for member in found.members:
        try:
            result = action(member, ctx, unit)
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
        retry = {k: v for k, v in unit.items() if k != "bucket"}
        done.follow_ups += [{**retry, "members": [m]} for m in failed]
    return done
