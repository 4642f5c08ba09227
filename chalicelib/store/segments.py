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

from pynamodb.exceptions import DoesNotExist

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


def add_segment(uow: UnitOfWork, segment_id: str, name: str, definition: str, actor: str, now: datetime) -> Segment:
    """Put a new segment (part `segment`, only if absent: a failure is an id collision)."""
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
    )
    uow.put("segment", item, Segment.pk.does_not_exist())
    return item


def replace_segment(uow: UnitOfWork, current: Segment, name: str, definition: str, actor: str, now: datetime) -> None:
    """Its name and definition (part `segment`), only if nobody changed it since `current` was read."""
    actions = [
        Segment.name.set(name),
        Segment.definition.set(definition),
        Segment.version.set(int(current.version) + 1),
        Segment.updated_at.set(now),
        Segment.updated_by.set(actor),
    ]
    uow.update("segment", current, actions, Segment.version == int(current.version))


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
