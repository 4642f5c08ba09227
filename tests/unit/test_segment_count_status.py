"""Where a segment's count stands (domain/segments.count_status): what its `status` shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.domain.segments import COUNT_GIVEN_UP_AFTER, CountFailure, count_status

QUEUED = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
SOON = QUEUED + timedelta(minutes=70)


def status(**given: object) -> str:
    arguments = {"counted": False, "built": True, "queued_at": QUEUED, "failure": None, "now": SOON} | given
    return count_status(2, **arguments)[0]  # type: ignore[arg-type]


def test_counted_is_ready_whatever_failed_before_and_no_build_is_awaiting_analytics() -> None:
    gave_up = CountFailure(2, QUEUED, "the count failed on every delivery (IOException)", SOON)
    assert status(counted=True, failure=gave_up) == "ready"
    assert status(built=False, queued_at=None) == "awaiting_analytics"
    assert status() == "computing"


def test_the_count_queued_last_giving_up_is_failed_with_its_reason() -> None:
    gave_up = CountFailure(2, QUEUED, "the count failed on every delivery (IOException)", SOON)
    assert count_status(2, counted=False, built=True, queued_at=QUEUED, failure=gave_up, now=SOON) == ("failed", gave_up)
    refresh_failed = CountFailure(2, None, "the analytics refresh could not count it (IOException)", SOON)
    assert status(failure=refresh_failed) == "failed"


def test_a_count_queued_after_the_failure_or_a_failure_of_another_version_is_computing() -> None:
    assert status(queued_at=SOON, now=SOON + timedelta(minutes=1), failure=CountFailure(2, QUEUED, "x", SOON - timedelta(seconds=1))) == "computing"
    assert status(failure=CountFailure(1, QUEUED, "x", SOON)) == "computing"  # the replaced definition's count


def test_a_count_still_not_written_long_after_it_was_queued_is_failed_without_waiting_for_a_report() -> None:
    assert status(now=QUEUED + COUNT_GIVEN_UP_AFTER) == "computing"
    state, failure = count_status(
        2, counted=False, built=True, queued_at=QUEUED, failure=None, now=QUEUED + COUNT_GIVEN_UP_AFTER + timedelta(seconds=1)
    )
    assert state == "failed" and failure is not None and "not counted within 6 hours" in failure.reason
    assert status(queued_at=None, now=QUEUED + timedelta(days=3)) == "computing"  # counted by the next refresh, never queued
