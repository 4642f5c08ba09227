"""A member's pending points as the member item keeps them (domain/pending.py decides them):
`pending_points` (the total), `pending` (ISO release day -> points), `released_through`, and the
sparse `members_by_release` index key `RELEASE#<earliest release day>#<shard>` (keys.py), present
only while points are held: the `release-pending-points` job reads the day's buckets, so its cost
follows the members whose points come due, not the table."""

from __future__ import annotations

from pynamodb.expressions.update import Action

from ..domain.pending import PendingState
from . import keys
from .members import as_dict, member_shard
from .models import Member


def pending_state(member: Member) -> PendingState:
    return PendingState(
        total=int(member.pending_points or 0),
        by_day={k: int(v) for k, v in as_dict(member.pending).items()},
        released_through=member.released_through,
    )


def _bucket(member_id: str, state: PendingState) -> str | None:
    day = state.next_release
    return keys.release_bucket(day, member_shard(member_id)) if day else None


def pending_update(member_id: str, state: PendingState) -> list[Action]:
    """The member writes for a new pending state, its index key moved to the earliest day held
    (removed when nothing is)."""
    bucket = _bucket(member_id, state)
    actions: list[Action] = [
        Member.pending_points.set(state.total),
        Member.pending.set(state.by_day),
        Member.release_bucket.set(bucket) if bucket else Member.release_bucket.remove(),
    ]
    if state.released_through:
        actions.append(Member.released_through.set(state.released_through))
    return actions


def apply_pending(member: Member, state: PendingState) -> None:
    """The same, on an unsaved Member (for a Put)."""
    member.pending_points = state.total
    member.pending = state.by_day
    member.released_through = state.released_through
    member.release_bucket = _bucket(member.member_id, state)
