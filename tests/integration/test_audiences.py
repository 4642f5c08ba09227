"""Audiences: what the analytics engine hands campaigns and surveys (store/audiences.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.settings import get_settings
from chalicelib.store import audiences

AS_OF = datetime(2026, 11, 29, 16, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def test_an_audience_reads_back_every_member_once_in_parts_and_is_the_segments_latest(aws: Any) -> None:
    ids = [f"m{n:06d}" for n in range(audiences.PART_SIZE + 7)]
    written = audiences.write("seg_vip", iter(ids), data_as_of=AS_OF, computed_at=NOW)
    assert written.count == len(ids) and len(written.parts) == 2
    assert audiences.latest("seg_vip") == written
    assert audiences.read("seg_vip", written.audience_id) == written
    assert list(audiences.members(written)) == ids
    assert len(audiences.part(written.parts[1])) == 7


def test_a_newer_audience_replaces_latest_and_the_older_one_stays_readable(aws: Any) -> None:
    first = audiences.write("seg_vip", ["a", "b"], data_as_of=AS_OF, computed_at=NOW)
    second = audiences.write("seg_vip", ["c"], data_as_of=AS_OF.replace(day=30), computed_at=NOW.replace(hour=3))
    assert audiences.latest("seg_vip") == second
    assert list(audiences.members(audiences.read("seg_vip", first.audience_id) or first)) == ["a", "b"]


def test_an_empty_audience_has_no_parts_and_an_unknown_segment_has_none(aws: Any) -> None:
    empty = audiences.write("seg_none", [], data_as_of=AS_OF, computed_at=NOW)
    assert empty.count == 0 and empty.parts == () and list(audiences.members(empty)) == []
    assert audiences.latest("seg_unknown") is None
    assert audiences.read("seg_vip", "nope") is None


def test_audience_files_are_encrypted_at_rest(aws: Any) -> None:
    written = audiences.write("seg_vip", ["a"], data_as_of=AS_OF, computed_at=NOW)
    head = aws.client("s3").head_object(Bucket=get_settings().analytics_bucket, Key=written.parts[0])
    assert head["ServerSideEncryption"] == "AES256"
