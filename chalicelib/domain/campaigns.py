"""Campaigns to a segment: what a campaign does and to whom. Pure.

A campaign sends a message (a text per channel), grants points and/or issues a coupon to the
members of a segment's audience (store/audiences.py), now or at `send_at`. Marketing rules apply
to its message only (consent per channel, the frequency cap, quiet hours: domain/messaging.py);
a points grant or a coupon without a message is not marketing.

An invitation (`kind: invite`) goes to the members a bulk import brought in who are still
`pending` and have not proven their phone: a transactional SMS (kind `invite`) that needs no
marketing consent, yet counts against the frequency cap, waits out quiet hours, and is paced at
`members_per_minute` (one unit of that many members a minute, each unit queueing the next).
Everyone else in the segment is skipped (`status_active`, `not_imported`, `phone_proven`). A held-out control group, chosen
by a hash of the campaign and the member, gets nothing and is recorded as control, so results
can compare recipients with members who were not reached.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

Status = Literal["scheduled", "running", "cancelled", "failed"]
ACTIVE_STATUSES: tuple[Status, ...] = ("scheduled", "running")
# What happened to one member of a campaign (its delivery record, store/campaigns.py).
# `unconfirmed`: a message sent at once whose hand-over to its channel is not known (the worker
# stopped between the send and noting it): it may or may not have gone; never counted as sent.
Outcome = Literal["sent", "deferred", "unconfirmed", "granted", "control", "skipped"]

# A due campaign whose segment has no audience counting its current definition (being counted,
# its count failed) waits, retried by every run of the `campaigns` job, at most this long past
# its `send_at`; then it fails, visibly, and nothing is sent: never to an audience a replaced
# definition left behind, nor hours late.
START_WAIT = timedelta(hours=6)

HOLDOUT_SCALE = 10_000  # the hash is read as a number below this: holdouts to 0.01 %


def in_control_group(campaign_id: str, member_id: str, holdout_percent: int) -> bool:
    """Whether the member is held out of the campaign: the same answer in every process, every
    rerun and every redelivery, and about `holdout_percent` of any large audience."""
    if holdout_percent <= 0:
        return False
    digest = hashlib.sha256(f"{campaign_id}:{member_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % HOLDOUT_SCALE < holdout_percent * (HOLDOUT_SCALE // 100)


INVITE = "invite"
RATE_PERIOD_SECONDS = 60  # an invitation's units, `members_per_minute` each, one a minute


def invitation_refusal(*, status: str, imported: bool, phone_proven: bool) -> str | None:
    """Why a member is not invited (None: invite them): only pending imported members who have
    not proven their phone, so a member who signed up since the audience was counted is skipped."""
    if status != "pending":
        return f"status_{status}"
    if not imported:
        return "not_imported"
    if phone_proven:
        return "phone_proven"
    return None


@dataclass(frozen=True)
class CampaignActions:
    """What each member reached gets: a message (text by channel), points, a coupon."""

    message: Mapping[str, str] | None
    points: int
    coupon_reward_id: str | None
    invite: bool = False

    @property
    def is_marketing(self) -> bool:
        """Only a message is marketing: a grant without one ignores consent, cap and quiet hours."""
        return bool(self.message)


@dataclass(frozen=True)
class MemberOutcome:
    """One member's outcome, as its delivery record keeps it and the results count it."""

    outcome: Outcome
    reason: str | None = None  # why skipped, or why the message was not sent with a grant
    channel: str | None = None
    points: int = 0
    coupon: bool = False


def tally_keys(outcome: MemberOutcome) -> dict[str, int]:
    """The counters one member adds to a campaign's results."""
    counts: dict[str, int] = {"examined": 1}
    if outcome.outcome == "control":
        counts["control"] = 1
        return counts
    if outcome.outcome in ("sent", "deferred", "unconfirmed"):
        counts[f"messages_{outcome.outcome}"] = 1
    if outcome.reason:
        counts[f"skipped.{outcome.reason}"] = 1
    if outcome.points:
        counts["points_granted"] = outcome.points
    if outcome.coupon:
        counts["coupons_issued"] = 1
    if outcome.outcome != "skipped":
        counts["reached"] = 1
    return counts
