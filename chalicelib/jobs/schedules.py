"""When each job runs: its EventBridge cron (UTC) and description, by job name.

Apart from the specs (specs.py, which take theirs from here) because the app's
import registers every scheduled function (handlers.py) and needs only these:
the job machinery loads when a job runs, not with every API container.
"""

from __future__ import annotations

from typing import NamedTuple


class Schedule(NamedTuple):
    cron: str  # EventBridge cron (UTC), for the default program time zone (Asia/Shanghai, UTC+8)
    description: str


SCHEDULES: dict[str, Schedule] = {
    "expire-points": Schedule("cron(5 16 * * ? *)", "expires lots whose date has come; reminds 30 and 7 days before"),
    "birthday-bonus": Schedule("cron(0 1 * * ? *)", "birthday points once a calendar year, and a greeting"),
    "reengagement": Schedule("cron(0 2 * * ? *)", "a message to members idle exactly 30, 60 or 90 days; lifecycle stage"),
    "tier-review": Schedule("cron(0 17 * * ? *)", "yearly tier review on the membership anniversary"),
    "send-deferred": Schedule("cron(5 * * * ? *)", "sends messages held back by quiet hours once they may go"),
    "erase-closed": Schedule("cron(0 19 * * ? *)", "erases the personal data of memberships closed longer than the grace period"),
    "release-pending-points": Schedule("cron(10 16 * * ? *)", "makes purchase points held for a return window available on their release day"),
    "membership-plans": Schedule("cron(10 16 * * ? *)", "ends paid membership plans whose period is over; reminds members before the end"),
    "survey-invitations": Schedule("cron(30 19 * * ? *)", "invites the audience of each open segment survey again (idempotent)"),
    "campaigns": Schedule("cron(0/5 * * * ? *)", "starts the campaigns whose send_at has come; their units go through the jobs queue"),
    "wechat-pay-sweep": Schedule(
        "cron(0/10 * * * ? *)", "asks WeChat Pay about top-ups and refunds whose notification is late: credits, closes or settles them"
    ),
    "reconcile": Schedule("cron(30 20 * * ? *)", "read-only: every member's points ledger and wallet add up to their balances; reports drift"),
    "segment-tags": Schedule(
        "cron(30 21 * * ? *)", "bulk tag changes over a segment's audience: operators start them, their units ride the jobs queue"
    ),
    "segment-audiences": Schedule(
        "cron(20 21 * * ? *)", "counts segments (size, sample, audience) outside the request: saving one queues its unit on the jobs queue"
    ),
    "product-codes": Schedule(
        "cron(45 21 * * ? *)", "writes the parts of big product-code batches: operators start them, their units ride the jobs queue"
    ),
    "member-import": Schedule(
        "cron(50 21 * * ? *)",
        "imports operators' bulk member imports part by part: operators start them, their units ride the jobs queue",
    ),
    "bulk-grants": Schedule("cron(50 21 * * ? *)", "operators' bulk grants of points or coupons from a CSV file: their units ride the jobs queue"),
    "bulk-exports": Schedule("cron(55 21 * * ? *)", "operators' CSV exports of members, a segment or the ledger: their units ride the jobs queue"),
    "analytics-refresh": Schedule("cron(0 21 * * ? *)", "exports the table; builds member_facts (RFM, value, lifecycle) and the KPIs; daily figures"),
}
