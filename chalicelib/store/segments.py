"""Saved segments and their bulk tag changes as the table keeps them (keys.py).

| pk                   | sk                   | item              | access pattern                          |
|----------------------|----------------------|-------------------|-----------------------------------------|
| SEGMENTS             | SEGMENT#<segment_id> | Segment           | every saved segment, one query          |
| SEGMENT#<segment_id> | TAGCHANGE#<run_id>   | SegmentTagChange  | a bulk tag change and its job run       |
| MEMBER#<member_id>   | SEGTAGS#<run_id>     | SegmentTagApplied | a member's share of a change done, once |

Who is in a segment is not kept here: the analytics engine computes it and store/audiences.py keeps
it in the analytics bucket.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta

from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.update import Action

from ..domain.segments import CountFailure
from . import keys
from .models_segments import Segment, SegmentTagApplied, SegmentTagChange
from .paging import Page, query_page
from .unit_of_work import UnitOfWork

APPLIED_KEPT_FOR = timedelta(days=90)


def new_segment_id() -> str:
    return f"seg_{secrets.token_hex(6)}"


def segment(segment_id: str) -> Segment | None:
    try:
        return Segment.get(keys.SEGMENTS_PK, keys.segment_sk(segment_id), consistent_read=True)
    except DoesNotExist:
        return None


def segments_page(limit: int, cursor: str | None) -> Page[Segment]:
    return query_page(Segment, keys.SEGMENTS_PK, keys.SEGMENT_PREFIX, limit, cursor)


def every_segment() -> Iterator[Segment]:
    """Every saved segment (the refresh writes each one's audience)."""
    yield from Segment.query(keys.SEGMENTS_PK, Segment.sk.startswith(keys.SEGMENT_PREFIX), consistent_read=True)


def add_segment(
    uow: UnitOfWork, segment_id: str, name: str, definition: str, actor: str, now: datetime, *, count_queued_at: datetime | None
) -> Segment:
    """Put a new segment (part `segment`, only if absent: a failure is an id collision);
    `count_queued_at`: when its count is queued (None: no build to count from yet)."""
    item = Segment(
        keys.SEGMENTS_PK,
        keys.segment_sk(segment_id),
        segment_id=segment_id,
        name=name,
        definition=definition,
        version=1,
        created_at=now,
        created_by=actor,
        updated_at=now,
        updated_by=actor,
        count_queued_at=count_queued_at,
    )
    uow.put("segment", item, Segment.pk.does_not_exist())
    return item


def replace_segment(
    uow: UnitOfWork, current: Segment, name: str, definition: str, actor: str, now: datetime, *, count_queued_at: datetime | None
) -> None:
    """Its name and definition (part `segment`), only if nobody changed it since `current` was read."""
    actions = [
        Segment.name.set(name),
        Segment.definition.set(definition),
        Segment.version.set(int(current.version) + 1),
        Segment.updated_at.set(now),
        Segment.updated_by.set(actor),
    ]
    if count_queued_at is not None:
        actions.append(Segment.count_queued_at.set(count_queued_at))
    uow.update("segment", current, actions, Segment.version == int(current.version))


def note_count_queued(uow: UnitOfWork, current: Segment, now: datetime) -> None:
    """A count of its current version is queued at `now` (part `segment`, only if its version is
    still the one read: a replacement queues its own)."""
    uow.update("segment", current, [Segment.count_queued_at.set(now)], Segment.version == int(current.version))


def note_count_failed(segment_id: str, version: int, queued_at: datetime | None, reason: str, now: datetime) -> bool:
    """The count of `version` queued at `queued_at` (None: a refresh's) gave up: kept on the segment
    if it still has that version (False: deleted or replaced meanwhile, nothing written)."""
    item = Segment(keys.SEGMENTS_PK, keys.segment_sk(segment_id))
    actions: list[Action] = [
        Segment.count_failed_version.set(version),
        Segment.count_failed_queued_at.set(queued_at) if queued_at is not None else Segment.count_failed_queued_at.remove(),
        Segment.count_failure.set(reason),
        Segment.count_failed_at.set(now),
    ]
    try:
        item.update(actions=actions, condition=Segment.pk.exists() & (Segment.version == version))
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def count_failure(segment: Segment) -> CountFailure | None:
    """The last count of the segment that gave up, if any (of whichever version)."""
    if segment.count_failed_version is None or segment.count_failure is None or segment.count_failed_at is None:
        return None
    return CountFailure(int(segment.count_failed_version), segment.count_failed_queued_at, str(segment.count_failure), segment.count_failed_at)


def check_version(uow: UnitOfWork, segment_id: str, version: int) -> None:
    """Part `segment`: the transaction fails unless the segment is still at `version` (an audience
    used for a campaign or a survey still counts its current definition)."""
    uow.condition_check("segment", Segment, keys.SEGMENTS_PK, keys.segment_sk(segment_id), Segment.version == version)


def remove_segment(uow: UnitOfWork, current: Segment) -> None:
    uow.delete("segment", current, Segment.version == int(current.version))


def add_tag_change(uow: UnitOfWork, change: SegmentTagChange) -> None:
    uow.put("tag_change", change, SegmentTagChange.pk.does_not_exist())


def tag_change(segment_id: str, run_id: str) -> SegmentTagChange | None:
    try:
        return SegmentTagChange.get(keys.segment_pk(segment_id), keys.tag_change_sk(run_id), consistent_read=True)
    except DoesNotExist:
        return None


def new_tag_change(
    segment_id: str, run_id: str, as_of: str, audience_id: str, members: int, parts: int, add: list[str], remove: list[str], actor: str, now: datetime
) -> SegmentTagChange:
    return SegmentTagChange(
        keys.segment_pk(segment_id),
        keys.tag_change_sk(run_id),
        segment_id=segment_id,
        run_id=run_id,
        as_of=as_of,
        audience_id=audience_id,
        members=members,
        parts=parts,
        add=add,
        remove=remove,
        actor=actor,
        created_at=now,
    )


def mark_tags_applied(uow: UnitOfWork, member_id: str, run_id: str, now: datetime) -> None:
    """The member's share of bulk change `run_id` (part `applied`, only if absent: done before)."""
    item = SegmentTagApplied(keys.member_pk(member_id), keys.tag_applied_sk(run_id), run_id=run_id, ttl=now + APPLIED_KEPT_FOR)
    uow.put("applied", item, SegmentTagApplied.pk.does_not_exist())
