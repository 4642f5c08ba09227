"""Segments (docs/analytics.md): operators save a definition (domain/segments.py), see its size and a
sample, and materialise its members as an audience (store/audiences.py) that campaigns, surveys and
bulk tag changes read. Who is in a segment is always computed by the analytics engine over the
latest build of member_facts, never by reading the live table.

Counting never runs inside a request (an Athena query may take minutes; API Gateway answers within
29 s): saving a segment (or asking for its audience again) queues one `audience` unit of the
`segment-audiences` job on the jobs queue and answers 202 with the segment `computing`; the unit
computes its size, a sample and its audience for the segment's current version
(`compute_audience`). A preview reads what the last unit wrote, never the engine. Every analytics
refresh writes every saved segment's audience again (`write_every_audience`, in the refresh's
job). Before the first refresh there is nothing to count: preview, audiences and bulk tags answer
409 analytics_not_ready, while the definition itself can be saved.

A unit that fails is delivered again by SQS; one that fails its last delivery (then dead-lettered
as any job's unit) leaves the segment `failed` with the reason (`count_gave_up`, called by the
runner), as does a refresh that cannot count it, or a count still not written long after it was
queued (domain/segments.count_status). Counting again (POST .../audiences) or a replacement
queues a new count: `computing` again.

Campaigns, surveys, bulk tag changes and exports by segment take `audience_to_use`: the latest
audience only if it counts the segment's current version, else 409 (segment_computing,
segment_failed), so nothing reaches an audience a replaced definition left behind.

A bulk tag change (`start_tag_change`) is a run of the `segment-tags` job: one unit per part of
the segment's latest audience on the jobs queue, each member changed in its own unit of work
with its audit entry and a marker put only if absent (store/segments.mark_tags_applied), so a
redelivered unit changes and audits nobody twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ...domain.clock import iso, today_in, utcnow
from ...domain.errors import AnalyticsNotReady, HuiyuanError, NotFound, SegmentComputing, SegmentCountFailed, SegmentNotReady
from ...domain.membership import is_closed
from ...domain.segments import Compiled, CountFailure, SegmentDefinition, SegmentStatus, check_against_rules, compile_segment, count_status
from ...domain.tags import changed_tags
from ...observability import logger
from ...store import analytics_engine, audiences, job_queue, job_runs
from ...store import segments as stored
from ...store.analytics_engine import Snapshot
from ...store.audiences import Manifest
from ...store.members import get_member, operator_tags_update
from ...store.models_segments import Segment
from ...store.parameters import load_rules
from ...store.unit_of_work import Cancelled, UnitOfWork, run
from ..audit import Change, add_audit

TAGS_JOB, TAGS_UNIT = "segment-tags", "tags"
AUDIENCES_JOB, AUDIENCE_UNIT = "segment-audiences", "audience"


def _not_ready() -> AnalyticsNotReady:
    return AnalyticsNotReady("Segments are counted from the analytics build: run a refresh first (POST /v1/admin/analytics/refreshes)")


def _segment_or_404(segment_id: str) -> Segment:
    found = stored.segment(segment_id)
    if found is None:
        raise NotFound(f"No segment {segment_id}")
    return found


def definition_of(segment: Segment) -> SegmentDefinition:
    return SegmentDefinition.model_validate_json(segment.definition)


def audience_view(manifest: Manifest | None) -> dict[str, Any] | None:
    if manifest is None:
        return None
    return {
        "audience_id": manifest.audience_id,
        "size": manifest.count,
        "parts": len(manifest.parts),
        "data_as_of": iso(manifest.data_as_of),
        "computed_at": iso(manifest.computed_at),
    }


def counts_version(segment: Segment, manifest: Manifest | None) -> bool:
    """Whether the audience counts the segment's current definition (None: written before versions were kept)."""
    return manifest is not None and manifest.segment_version in (None, int(segment.version))


def segment_status(segment: Segment, manifest: Manifest | None) -> tuple[SegmentStatus, CountFailure | None]:
    """`ready`: the latest audience counts this version; `computing`: a unit is counting it (or the
    next refresh will); `failed`: its count gave up (with why); `awaiting_analytics`: nothing to
    count from before the first refresh (domain/segments.count_status)."""
    counted = counts_version(segment, manifest)
    return count_status(
        int(segment.version),
        counted=counted,
        built=counted or analytics_engine.latest() is not None,
        queued_at=segment.count_queued_at,
        failure=stored.count_failure(segment),
        now=utcnow(),
    )


def _failure_view(failure: CountFailure | None) -> dict[str, Any] | None:
    return {"reason": failure.reason, "at": iso(failure.at)} if failure is not None else None


def segment_view(segment: Segment, manifest: Manifest | None = None, *, with_audience: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {
        "segment_id": segment.segment_id,
        "name": segment.name,
        "definition": definition_of(segment).model_dump(mode="json", exclude_defaults=True),
        "version": int(segment.version),
        "created_at": iso(segment.created_at),
        "created_by": segment.created_by,
        "updated_at": iso(segment.updated_at),
        "updated_by": segment.updated_by,
    }
    if with_audience:
        manifest = manifest if manifest is not None else audiences.latest(segment.segment_id)
        status, failure = segment_status(segment, manifest)
        view["status"] = status
        view["failure"] = _failure_view(failure)
        view["audience"] = audience_view(manifest)
    return view


def _definition_json(definition: SegmentDefinition) -> str:
    return definition.model_dump_json(exclude_defaults=True)


def create_segment(name: str, definition: SegmentDefinition, actor: str) -> dict[str, Any]:
    """Save (audited `segment.create`), then queue the count of its audience if a build exists."""
    rules = load_rules()
    check_against_rules(definition, rules)
    text = _definition_json(definition)
    built = analytics_engine.latest() is not None

    def attempt(uow: UnitOfWork) -> Segment:
        now = utcnow()
        segment_id = stored.new_segment_id()
        item = stored.add_segment(uow, segment_id, name, text, actor, now, count_queued_at=now if built else None)
        add_audit(
            uow,
            Change(
                actor,
                "segment.create",
                "segment",
                segment_id,
                None,
                {"name": name, "definition": definition.model_dump(mode="json", exclude_defaults=True)},
            ),
            rules,
            now,
        )
        uow.commit()  # a failed condition: changed in between (or an id collision), read again
        return item

    segment = run(attempt)
    logger.info("segment created", extra={"segment_id": segment.segment_id})
    _queue_count(segment)
    return segment_view(segment)


def update_segment(segment_id: str, name: str, definition: SegmentDefinition, actor: str) -> dict[str, Any]:
    """Replace its name and definition (audited `segment.update`, before -> after), then queue the
    count of its audience again if a build exists."""
    rules = load_rules()
    check_against_rules(definition, rules)
    text = _definition_json(definition)
    built = analytics_engine.latest() is not None

    def attempt(uow: UnitOfWork) -> Segment:
        now = utcnow()
        current = _segment_or_404(segment_id)
        stored.replace_segment(uow, current, name, text, actor, now, count_queued_at=now if built else None)
        before = {"name": current.name, "definition": definition_of(current).model_dump(mode="json", exclude_defaults=True)}
        after = {"name": name, "definition": definition.model_dump(mode="json", exclude_defaults=True)}
        add_audit(uow, Change(actor, "segment.update", "segment", segment_id, before, after), rules, now)
        uow.commit()  # a failed condition: changed in between (or an id collision), read again
        return current

    run(attempt)
    segment = _segment_or_404(segment_id)
    _queue_count(segment)
    return segment_view(segment)


def delete_segment(segment_id: str, actor: str, reason: str | None) -> dict[str, Any]:
    """Delete the definition (audited `segment.delete`). Its audiences stay in the bucket for the
    campaigns and surveys already sent to them."""
    rules = load_rules()

    def attempt(uow: UnitOfWork) -> Segment:
        now = utcnow()
        current = _segment_or_404(segment_id)
        stored.remove_segment(uow, current)
        before = {"name": current.name, "definition": definition_of(current).model_dump(mode="json", exclude_defaults=True)}
        add_audit(uow, Change(actor, "segment.delete", "segment", segment_id, before, None, reason=reason), rules, now)
        uow.commit()  # a failed condition: changed in between (or an id collision), read again
        return current

    segment = run(attempt)
    return {**segment_view(segment, with_audience=False), "deleted": True}


def get_segment(segment_id: str) -> dict[str, Any]:
    return segment_view(_segment_or_404(segment_id))


def list_segments(limit: int, cursor: str | None) -> dict[str, Any]:
    page = stored.segments_page(limit, cursor)
    return page.view(lambda s: segment_view(s, with_audience=False))


# --- counting, with the analytics engine -----------------------------------------------------


def _snapshot() -> Snapshot:
    snapshot = analytics_engine.latest()
    if snapshot is None:
        raise _not_ready()
    return snapshot


def _compiled(segment: Segment, snapshot: Snapshot) -> Compiled:
    return compile_segment(definition_of(segment), snapshot.as_of)


def preview_segment(segment_id: str) -> dict[str, Any]:
    """Its size and a sample of up to 20 members (ids and analytics only: no phone, no name), as the
    last count of its current version wrote them, with the time of the data. Reads no engine:
    while the count runs, `SegmentComputing` (409 segment_computing; the segment's `status` says
    when it is ready); once it gave up, `SegmentCountFailed` (409 segment_failed)."""
    segment = _segment_or_404(segment_id)
    manifest = audiences.latest(segment_id)
    manifest = _counted(segment, manifest, _not_ready, "preview it")
    return {
        "segment_id": segment_id,
        "size": manifest.count,
        "empty": manifest.count == 0,
        "sample": list(manifest.sample),
        "data_as_of": iso(manifest.data_as_of),
        "as_of": (manifest.as_of or today_in(load_rules().zone, manifest.data_as_of)).isoformat(),
        "audience_id": manifest.audience_id,
    }


def _write_audience(segment: Segment, snapshot: Snapshot) -> Manifest:
    """Count the segment's current version in `snapshot` and write its audience with a sample: two
    queries of the engine, in a job (never inside a request)."""
    compiled = _compiled(segment, snapshot)
    rows = analytics_engine.query(compiled.members_sql(), compiled.params, snapshot=snapshot)
    sample = analytics_engine.query(compiled.sample_sql(), compiled.params, snapshot=snapshot) if rows else []
    manifest = audiences.write(
        segment.segment_id,
        (str(r["member_id"]) for r in rows),
        data_as_of=snapshot.data_as_of,
        computed_at=utcnow(),
        segment_version=int(segment.version),
        as_of=snapshot.as_of,
        sample=(
            {
                "member_id": row["member_id"],
                "tier": row["tier"],
                "lifecycle_stage": row["lifecycle_stage"],
                "value_segment": row["value_segment"],
                "last_purchase_on": row["last_purchase_on"].isoformat() if row["last_purchase_on"] else None,
            }
            for row in sample
        ),
    )
    logger.info("segment audience written", extra={"segment_id": segment.segment_id, "audience_id": manifest.audience_id, "size": manifest.count})
    return manifest


def _queue_count(segment: Segment) -> None:
    """One `audience` unit for the segment's current version on the jobs queue, if its count was
    noted as queued (a build exists): the unit carries that time, so its failure is told apart
    from a later count's."""
    if segment.count_queued_at is None:
        return
    now = utcnow()
    as_of = today_in(load_rules().zone, now).isoformat()
    unit = {
        "kind": AUDIENCE_UNIT,
        "segment_id": segment.segment_id,
        "version": int(segment.version),
        "queued_at": segment.count_queued_at.isoformat(),
    }
    job_queue.start_units(AUDIENCES_JOB, as_of, [unit], now=now)


def write_audience(segment_id: str) -> dict[str, Any]:
    """POST /v1/admin/segments/{id}/audiences: its members in the latest build, counted again by a
    queued unit (202, the segment `computing`; a count that had failed starts over)."""
    _snapshot()  # 409 analytics_not_ready before the first refresh

    def attempt(uow: UnitOfWork) -> Segment:
        current = _segment_or_404(segment_id)
        now = utcnow()
        stored.note_count_queued(uow, current, now)
        uow.commit()  # replaced meanwhile: read again (and count the new version)
        current.count_queued_at = now
        return current

    segment = run(attempt)
    _queue_count(segment)
    return {"segment_id": segment_id, "status": "computing", "version": int(segment.version)}


def compute_audience(unit: dict[str, Any]) -> str:
    """The work of one `audience` unit: the segment's audience, size and sample in the latest
    build, written only if the unit counts the segment's current version (a replaced definition
    queued its own unit). Delivered twice, it writes a second identical audience: harmless."""
    segment = stored.segment(unit["segment_id"])
    if segment is None:
        return "gone"
    if int(segment.version) != int(unit["version"]):
        return "superseded"
    snapshot = analytics_engine.latest()
    if snapshot is None:
        return "no_build"
    _write_audience(segment, snapshot)
    return "written"


def write_every_audience(build: Snapshot) -> None:
    """After a refresh: every saved segment's audience from its new build. A segment that fails is
    logged and keeps its previous audience; the others are written. Never raises: the refresh it
    follows has completed whatever happens here."""
    try:
        saved = list(stored.every_segment())
    except Exception:
        logger.exception("segment audiences not written")
        return
    for segment in saved:
        try:
            _write_audience(segment, build)
        except Exception as exc:
            logger.exception("segment audience not written", extra={"segment_id": segment.segment_id})
            _note_failed(segment.segment_id, int(segment.version), None, f"the analytics refresh could not count it ({type(exc).__name__})")


def _note_failed(segment_id: str, version: int, queued_at: datetime | None, reason: str) -> None:
    """Keep a count's failure on the segment (its `status` shows it); never raises: it is what is
    left to do once the count has failed."""
    try:
        if stored.note_count_failed(segment_id, version, queued_at, reason, utcnow()):
            logger.warning("segment count failed", extra={"segment_id": segment_id, "version": version, "reason": reason})
    except Exception:
        logger.exception("segment count failure not kept", extra={"segment_id": segment_id})


def count_gave_up(unit: dict[str, Any], error: BaseException) -> None:
    """The `audience` unit failed its last delivery (SQS dead-letters it next): the segment shows
    `failed` with the reason (the error's kind, no member's data) until it is counted again."""
    queued_at = datetime.fromisoformat(unit["queued_at"]) if unit.get("queued_at") else None
    reason = f"the count failed on every delivery ({type(error).__name__})"
    _note_failed(str(unit["segment_id"]), int(unit["version"]), queued_at, reason)


# --- bulk tags ------------------------------------------------------------------------------


def _counted(segment: Segment, manifest: Manifest | None, not_counted: Callable[[], HuiyuanError], use: str) -> Manifest:
    """`manifest` if it counts the segment's current version; else the 409 that says why."""
    status, failure = segment_status(segment, manifest)
    if status == "ready" and manifest is not None:
        return manifest
    if status == "awaiting_analytics":
        raise not_counted()
    if status == "failed" and failure is not None:
        raise SegmentCountFailed(
            f"The segment's members could not be counted: {failure.reason}. Count them again "
            f"(POST /v1/admin/segments/{segment.segment_id}/audiences), then {use} when its status is ready"
        )
    raise SegmentComputing(f"The segment's members are being counted: {use} when its status is ready")


def current_audience(segment_id: str) -> Manifest:
    """The segment's counted audience, what a bulk tag change or an export of the segment acts on:
    404 for no such segment, 409 analytics_not_ready before the first refresh, 409
    segment_computing while its current version is being counted, 409 segment_failed once its
    count gave up."""
    segment = _segment_or_404(segment_id)
    return _counted(segment, audiences.latest(segment_id), _not_ready, "use it")


@dataclass(frozen=True)
class Usable:
    """An audience a campaign or a survey may go to, and the segment's version it counts (None: no
    saved definition to check, see `audience_to_use`)."""

    manifest: Manifest
    version: int | None


def audience_to_use(segment_id: str) -> Usable:
    """What a campaign or a survey goes to: the segment's latest audience, only if it counts the
    segment's current version. 404 for a segment nobody saved (or deleted); 409 segment_not_ready
    before its first count, segment_computing while its current version is counted, segment_failed
    once that count gave up. An audience written with no version and no saved definition (written
    straight to the bucket, as a migration or a test does) is used as it is. The caller checks the
    version again in the transaction that starts it (store/segments.check_version)."""
    segment = stored.segment(segment_id)
    manifest = audiences.latest(segment_id)
    if segment is None:
        if manifest is None or manifest.segment_version is not None:
            raise NotFound(f"No segment {segment_id}")
        return Usable(manifest, None)

    def never_counted() -> HuiyuanError:
        return SegmentNotReady(f"Segment {segment_id} has no computed members yet: compute it first")

    return Usable(_counted(segment, manifest, never_counted, "use it"), int(segment.version))


def segment_exists(segment_id: str) -> bool:
    """A saved segment, or an audience with no saved definition (`audience_to_use`): one a campaign may be scheduled for."""
    if stored.segment(segment_id) is not None:
        return True
    manifest = audiences.latest(segment_id)
    return manifest is not None and manifest.segment_version is None


def start_tag_change(segment_id: str, add: list[str], remove: list[str], reason: str, actor: str) -> dict[str, Any]:
    """Tags added and removed for every member of the segment's latest audience (written now if
    the segment has none yet): recorded and audited (`segment.tags`), then one unit per audience
    part on the jobs queue. 202 with the run id whose progress `tag_change_progress` reads."""
    rules = load_rules()
    changed_tags(rules, (), add, remove)  # 400 for an undeclared tag, before anything is written
    manifest = current_audience(segment_id)
    now = utcnow()
    as_of = today_in(rules.zone, now).isoformat()
    run_id = job_queue.new_run_id(now)
    change = stored.new_tag_change(segment_id, run_id, as_of, manifest.audience_id, manifest.count, len(manifest.parts), add, remove, actor, now)

    def attempt(uow: UnitOfWork) -> None:
        stored.add_tag_change(uow, change)
        if manifest.segment_version is not None:
            stored.check_version(uow, segment_id, manifest.segment_version)
        after = {"add": sorted(add), "remove": sorted(remove), "audience_id": manifest.audience_id, "members": manifest.count, "run_id": run_id}
        add_audit(uow, Change(actor, "segment.tags", "segment", segment_id, None, after, reason=reason, ref=run_id), rules, now)

        def explain(cancelled: Cancelled) -> None:
            if "segment" in cancelled.failed:
                raise SegmentComputing("The segment was changed meanwhile and is being counted: use it when its status is ready")

        uow.commit(explain)

    run(attempt)
    units = [
        {
            "kind": TAGS_UNIT,
            "segment_id": segment_id,
            "audience_id": manifest.audience_id,
            "part": key,
            "add": sorted(add),
            "remove": sorted(remove),
            "reason": reason,
            "actor": actor,
        }
        for key in manifest.parts
    ]
    job_queue.start_units(TAGS_JOB, as_of, units, now=now, run_id=run_id)
    logger.info("segment tag change started", extra={"segment_id": segment_id, "run_id": run_id, "members": manifest.count})
    return tag_change_progress(segment_id, run_id)


def tag_change_progress(segment_id: str, run_id: str) -> dict[str, Any]:
    change = stored.tag_change(segment_id, run_id)
    if change is None:
        raise NotFound(f"No tag change {run_id} for segment {segment_id}")
    record = job_runs.read_run(TAGS_JOB, change.as_of, run_id)
    counters = record.counters
    return {
        "run_id": run_id,
        "segment_id": segment_id,
        "audience_id": change.audience_id,
        "add": list(change.add),
        "remove": list(change.remove),
        "members": int(change.members),
        "status": "completed" if record.units_done >= record.units_planned else "running",
        "units": {"planned": record.units_planned, "done": record.units_done},
        "members_changed": counters.get("affected", 0),
        "members_unchanged": counters.get("unchanged", 0),
        "members_skipped": {k.removeprefix("skipped."): v for k, v in sorted(counters.items()) if k.startswith("skipped.") and v},
        "started_at": iso(change.created_at),
        "started_by": change.actor,
    }


def tag_member_once(member_id: str, run_id: str, segment_id: str, add: list[str], remove: list[str], actor: str, reason: str) -> str:
    """One member's share of a bulk change, once: the tags, the audit entry (`member.tags`, as the
    single-member route writes it) and the marker in one unit of work. Returns what happened."""
    rules = load_rules()

    def done_before(cancelled: Cancelled) -> str | None:
        return "already_done" if "applied" in cancelled.failed else None

    def attempt(uow: UnitOfWork) -> str:
        now = utcnow()
        member = get_member(member_id)
        if member is None or member.erased:
            return "gone"
        stored.mark_tags_applied(uow, member_id, run_id, now)
        if is_closed(member.status):
            outcome = "closed"  # a closed membership keeps the tags it had
        else:
            before = sorted(member.operator_tags or ())
            after = sorted(changed_tags(rules, before, add, remove))
            if after == before:
                outcome = "unchanged"
            else:
                uow.update("member", member, operator_tags_update(frozenset(after)))
                change = Change(
                    actor,
                    "member.tags",
                    "member",
                    member_id,
                    {"operator_tags": before},
                    {"operator_tags": after},
                    reason=reason,
                    member_id=member_id,
                    ref=f"segment:{segment_id}:{run_id}",
                )
                add_audit(uow, change, rules, now)
                outcome = "changed"
        return uow.commit(explain=done_before) or outcome

    return run(attempt)


def apply_tags_to_part(unit: dict[str, Any]) -> Counter[str]:
    """The work of one `segment-tags` unit: every member of one audience part."""
    tally: Counter[str] = Counter()
    member_ids = audiences.part(unit["part"])
    for member_id in member_ids:
        tally["examined"] += 1
        outcome = tag_member_once(member_id, unit["run_id"], unit["segment_id"], unit["add"], unit["remove"], unit["actor"], unit["reason"])
        if outcome == "changed":
            tally["affected"] += 1
        elif outcome == "unchanged":
            tally["unchanged"] += 1
        else:
            tally[f"skipped.{outcome}"] += 1
    return tally
