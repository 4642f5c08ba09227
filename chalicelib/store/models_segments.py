"""PynamoDB models for segments (store/segments.py; key formats in keys.py)."""

from __future__ import annotations

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute

from .models import BaseItem


class Segment(BaseItem, discriminator="Segment"):
    """`SEGMENTS` / `SEGMENT#<id>`: a saved segment definition (domain/segments.py), as JSON text.
    Every change is conditioned on the version read, so two operators never overwrite each other.
    It also keeps when its latest count was queued and the last count that gave up (its version,
    the queued time of that count, why, when): what `status` says besides the audience itself."""

    segment_id = UnicodeAttribute()
    name = UnicodeAttribute()
    definition = UnicodeAttribute()  # the SegmentDefinition as JSON
    version = NumberAttribute(default=1)
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()
    updated_at = UTCDateTimeAttribute()
    updated_by = UnicodeAttribute()
    count_queued_at = UTCDateTimeAttribute(null=True)  # the latest `audience` unit queued for it
    count_failed_version = NumberAttribute(null=True)
    count_failed_queued_at = UTCDateTimeAttribute(null=True)  # None: a refresh's count failed
    count_failure = UnicodeAttribute(null=True)  # why, in the program's words: no personal data
    count_failed_at = UTCDateTimeAttribute(null=True)


class SegmentTagChange(BaseItem, discriminator="SegmentTagChange"):
    """`SEGMENT#<id>` / `TAGCHANGE#<run_id>`: a bulk tag change over a segment's audience, fanned
    out as the units of the job run `run_id` (the run's record counts its progress)."""

    segment_id = UnicodeAttribute()
    run_id = UnicodeAttribute()
    as_of = UnicodeAttribute()  # the run record's day (JOBRUN#segment-tags#<as_of>)
    audience_id = UnicodeAttribute()
    members = NumberAttribute()
    parts = NumberAttribute()
    add = ListAttribute[str](default=list)
    remove = ListAttribute[str](default=list)
    actor = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()


class SegmentTagApplied(BaseItem, discriminator="SegmentTagApplied"):
    """`MEMBER#<id>` / `SEGTAGS#<run_id>`: this member's share of the bulk change `run_id` is done,
    put only if absent in the transaction that changes the member's tags and audits it, so a
    redelivered unit never changes or audits a member twice. Kept 90 days (TTL)."""

    run_id = UnicodeAttribute()
