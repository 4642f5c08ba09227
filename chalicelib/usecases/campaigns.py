"""Campaigns to a segment: create (now or at `send_at`), dry run, launch, fan out, cancel, results.

Launch takes the segment's latest audience (store/audiences.py: member ids in parts of at most
10,000) only if it counts the segment's current definition (operations/segments.audience_to_use;
the transaction that starts the campaign checks the segment's version again), and cuts it into
units of at most `UNIT_MEMBERS` members, queued on the jobs queue and done by the job worker as
units of the `campaigns` job (jobs/specs.py); each unit's counters are added to the campaign's run
record once, however often SQS delivers it (jobs/runner.py). Started now, a segment being counted
(or whose count failed) is a 409 and nothing is made; a scheduled campaign due meanwhile waits,
retried by each run of the `campaigns` job and showing why, at most START_WAIT past its
`send_at`, then fails (`failed`, with the reason) having sent nothing.

A unit reads its members `MEMBERS_PER_READ` at a time, with the campaign's status in the same
BatchGetItem (and again before a member if the last read is older than `STATUS_FRESH_SECONDS`), so
a cancelled campaign's units stop without trying. For each member, ONE transaction: a condition
check that the campaign is still running (once a cancel has committed, no member transaction
does: the unit stops), the member's delivery record (only if absent: exactly once per member
and campaign, across reruns, redelivery and concurrent workers), the points with their ledger
entry and lot, the coupon, the marketing log and any message held back by quiet hours. The
message goes out only after that commit, so a worker that dies mid-batch sends nothing twice:
its redelivery finds the records and counts what they say. A record whose message goes at once
says so (`handover: pending`); once its channel took it the record says `accepted` (a batch's
members in one transaction), or what the member got instead if it refused: only then does the
change stream publish the member's `campaign.sent` (domain/events.py), so it never says "sent"
for a message that did not go. A record its worker could not mark (it stopped, or the table was
too busy) is settled by the `campaigns` job's sweep from the batch's hand-over note
(`settle_handovers`): `accepted` if the note says the channel took it, else `unknown`
(`campaign.delivery_unknown`, counted `unconfirmed`); it never sends.

A dry run decides the same for the first part of the audience (at most 10,000 members) and
writes nothing.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import batched
from typing import TYPE_CHECKING, Any

from ..api.schemas.campaigns import CampaignRequest
from ..domain.campaigns import (
    INVITE,
    RATE_PERIOD_SECONDS,
    START_WAIT,
    CampaignActions,
    MemberOutcome,
    in_control_group,
    invitation_refusal,
    tally_keys,
)
from ..domain.clock import iso, today_in, utcnow
from ..domain.coupons import gift_expires_at
from ..domain.errors import (
    InvalidState,
    NotFound,
    ScheduleNotPossible,
    SegmentComputing,
    SegmentCountFailed,
    SegmentNotReady,
    TemporarilyUnavailable,
    ValidationFailed,
)
from ..domain.identity import phone_is_proven
from ..domain.membership import Status
from ..domain.points import earn, lot_expires_on, month_key
from ..domain.rules import ProgramRules
from ..observability import count, logger
from ..store import audiences, segments
from ..store import campaigns as stored
from ..store.coupons import add_coupon, new_coupon
from ..store.job_queue import enqueue, new_run_id
from ..store.ledger import earnings_between, ledger_entry, open_lot
from ..store.members import as_dict, get_member, points_state, points_update
from ..store.parameters import load_rules
from ..store.rewards import get_reward
from ..store.unit_of_work import Cancelled, UnitOfWork, run
from .audit import Change, add_audit
from .common import Answer, created
from .deferred_messages import HOURS_LOOKED_BACK
from .messaging import Decision, add_deferral, decide, deliver_now
from .operations.segments import Usable, audience_to_use, segment_exists

if TYPE_CHECKING:
    from pynamodb.expressions.update import Action

    from ..store.models import Coupon, Member
    from ..store.models_campaigns import Campaign, HandoverNote

JOB = stored.RUN_JOB
UNIT_MEMBERS = 1_000  # a unit: ~1,000 transactions, ~10-30 s, well inside the worker's timeout
STATUS_FRESH_SECONDS = 2.0
SAMPLE_SIZE = 20
# "Now" as a client's clock says it may be a little behind ours: that is not the past.
SEND_AT_GRACE = timedelta(minutes=1)
MAX_AHEAD = timedelta(days=366)
MEMBER_ATTEMPTS = 8
SYSTEM_ACTOR = "schedule"
INLINE_LAUNCH_MAX = 200_000  # members: 200 units, 20 SendMessageBatch calls
# A delivery record left `pending` longer than this has no worker left to settle it: the job
# worker's Lambda timeout (120 s, infra/stages.py; tests/infra check it stays below this) has
# ended the worker that wrote it, which started before the record's `at`. The sweep settles it.
HANDOVER_SETTLE_AFTER = timedelta(minutes=10)
NOTES_PER_SWEEP = 100  # hand-over notes settled per run of the `campaigns` job (every 5 minutes)
# A unit SQS delivered twice at once: how long, at most, one delivery waits, per unit, for the
# twin's hand-over marks on the members the twin reached (well inside the worker's 120 s), and
# the age past which a pending record has no twin left to mark it (the worker's timeout: a
# redelivery after a worker stopped comes after the queue's visibility timeout, 12 minutes).
TWIN_WAIT_SECONDS = 20.0
TWIN_ALIVE_FOR = timedelta(seconds=120)


# --- the operator's requests ----------------------------------------------------------------------


def create_campaign(request: CampaignRequest, actor: str) -> Answer:
    """201 and the campaign (started at once without `send_at`); `dry_run`: 200 and what it would do."""
    rules, now = load_rules(), utcnow()
    send_at = request.send_at or now
    if send_at < now - SEND_AT_GRACE:
        raise ScheduleNotPossible("send_at is in the past: leave it out to start now")
    if send_at > now + MAX_AHEAD:
        raise ScheduleNotPossible("send_at is more than a year ahead")
    send_at = max(send_at, now)
    if request.coupon_reward_id is not None:
        reward = get_reward(request.coupon_reward_id)
        if reward is None or not reward.active:
            raise ValidationFailed.single("coupon_reward_id", "no active reward with that id in the catalogue")
    immediate = request.send_at is None or send_at <= now
    # Now (or a dry run): an audience counting the segment's current definition, else 404 (a typo,
    # a deleted segment) or 409 (being counted, its count failed) and nothing is made. Later: the
    # segment must exist; its audience is taken when the campaign starts.
    usable = audience_to_use(request.segment_id) if immediate and not request.dry_run else None
    if usable is None and not request.dry_run and not segment_exists(request.segment_id):
        raise NotFound(f"No segment {request.segment_id}")
    # Queuing a big audience's units (10 a request) would outlast the API's 29 s: the `campaigns`
    # job, due within 5 minutes, starts it instead.
    start_here = usable is not None and usable.manifest.count <= INLINE_LAUNCH_MAX
    campaign = stored.new_campaign(
        stored.new_campaign_id(now),
        name=request.name,
        segment_id=request.segment_id,
        status="scheduled",
        message=request.message.by_channel() if request.message else None,
        points=request.points or 0,
        coupon_reward_id=request.coupon_reward_id,
        holdout_percent=request.holdout_percent,
        results_window_days=request.results_window_days,
        send_at=send_at,
        created_at=now,
        created_by=actor,
        kind=INVITE if request.kind == INVITE else None,
        members_per_minute=request.invite_rate(),
    )
    if request.dry_run:
        return Answer(200, dry_run(campaign, rules))

    def attempt(uow: UnitOfWork) -> None:
        stored.add_campaign(uow, campaign)
        add_audit(uow, Change(actor, "campaign.create", "campaign", campaign.campaign_id, None, _definition(campaign)), rules, now)
        uow.commit()

    run(attempt)
    count("CampaignsCreated")
    logger.info("campaign created", extra={"campaign_id": campaign.campaign_id, "segment_id": campaign.segment_id, "immediate": immediate})
    if start_here:
        launch(campaign.campaign_id, actor, audience=usable)
    return created(campaign_view(_existing(campaign.campaign_id), rules))


def campaign_details(campaign_id: str) -> dict[str, Any]:
    return campaign_view(_existing(campaign_id), load_rules())


def list_campaigns(limit: int, cursor: str | None) -> dict[str, Any]:
    rules = load_rules()
    return stored.campaign_page(limit, cursor).view(lambda c: campaign_view(c, rules, with_results=False))


def dry_run_campaign(campaign_id: str) -> dict[str, Any]:
    return dry_run(_existing(campaign_id), load_rules())


def cancel(campaign_id: str, actor: str) -> dict[str, Any]:
    """Nothing more goes out once this has answered (409 invalid_state if already cancelled)."""
    rules = load_rules()

    def attempt(uow: UnitOfWork) -> None:
        now = utcnow()
        campaign = _existing(campaign_id)
        if campaign.status == "cancelled":
            raise InvalidState("The campaign is already cancelled")
        if campaign.status == "failed":
            raise InvalidState("The campaign never started (failed): there is nothing to cancel")
        results = _results(campaign)
        if results is not None and results["complete"] and not _may_hold_messages(campaign, results, now):
            raise InvalidState("The campaign has reached its whole audience: there is nothing left to cancel")
        stored.cancel_campaign(uow, campaign, actor, now)
        add_audit(uow, Change(actor, "campaign.cancel", "campaign", campaign_id, {"status": campaign.status}, {"status": "cancelled"}), rules, now)
        uow.commit()

    run(attempt)
    logger.info("campaign cancelled", extra={"campaign_id": campaign_id})
    return campaign_view(_existing(campaign_id), rules)


def _may_hold_messages(campaign: Campaign, results: dict[str, Any], now: datetime) -> bool:
    """Whether messages quiet hours held back may still be waiting to go (held at most a day
    ahead, sent by the hourly `send-deferred` job within HOURS_LOOKED_BACK hours of their time):
    cancel drops them, so it stays possible until then."""
    if not results["deferred"] or campaign.launched_at is None:
        return False
    return now < campaign.launched_at + timedelta(days=1, hours=HOURS_LOOKED_BACK)


def _existing(campaign_id: str) -> Campaign:
    campaign = stored.get_campaign(campaign_id)
    if campaign is None:
        raise NotFound(f"No campaign {campaign_id}")
    return campaign


# --- launch: the audience, the run record, the units -------------------------------------------------


def _audiences(segment_id: str, first: Usable | None) -> Iterator[Usable]:
    """The audience the caller has just read, then a fresh read for every retry."""
    if first is not None:
        yield first
    while True:
        yield audience_to_use(segment_id)


def launch(campaign_id: str, actor: str = SYSTEM_ACTOR, *, audience: Usable | None = None, job_time: datetime | None = None) -> str:
    """Start a scheduled campaign (or finish starting one whose units may not all be queued):
    'started', 'cancelled', 'failed', or why it waits (a problem code: `segment_computing`,
    `segment_failed`, `segment_not_ready`). It starts only with an audience that counts the
    segment's current definition, checked again in the transaction that starts it. Its units are
    queued again when the start was interrupted; a unit queued twice is done once (per-member
    records, per-unit run record). `audience`: the segment's, when the caller has just read it;
    `job_time`: the time the `campaigns` job stands for (a later day's run: how long it has waited)."""
    rules = load_rules()
    campaign = _existing(campaign_id)
    if campaign.status == "scheduled":
        now = utcnow()
        run_as_of = today_in(rules.zone, now).isoformat()
        reads = _audiences(campaign.segment_id, audience)

        def attempt(uow: UnitOfWork) -> list[dict[str, Any]] | None:
            current = _existing(campaign_id)
            if current.status != "scheduled":
                return None
            usable = next(reads)
            manifest = usable.manifest
            units = _plan(current, manifest, launched_at=now, run_as_of=run_as_of)
            stored.start_campaign(
                uow,
                current,
                audience_id=manifest.audience_id,
                data_as_of=manifest.data_as_of,
                count=manifest.count,
                run_as_of=run_as_of,
                units=len(units),
                now=now,
            )
            if usable.version is not None:
                segments.check_version(uow, current.segment_id, usable.version)  # replaced since it was read: read again
            after = {"status": "running", "audience_id": manifest.audience_id, "members": manifest.count}
            add_audit(uow, Change(actor, "campaign.launch", "campaign", campaign_id, {"status": "scheduled"}, after), rules, now)
            uow.commit()
            return units

        try:
            units = run(attempt)
        except NotFound:
            return _not_started(campaign, "segment_deleted", now, final=True)
        except (SegmentNotReady, SegmentComputing, SegmentCountFailed) as exc:
            return _not_started(campaign, exc.code, max(now, job_time or now))
        if units is not None:  # started here: its units are the ones just planned
            count("CampaignsLaunched")
            enqueue(_first_units(campaign, units))
            stored.remove_due(campaign)
            return "started"
        campaign = _existing(campaign_id)
    if campaign.status == "running":
        sent_to = audiences.read(campaign.segment_id, str(campaign.audience_id)) if campaign.audience_id else None
        if sent_to is None:  # the audience's files are gone (lifecycle rule): nothing to queue
            logger.warning("campaign audience missing", extra={"campaign_id": campaign_id})
        else:
            enqueue(_first_units(campaign, _plan(campaign, sent_to, launched_at=campaign.launched_at, run_as_of=str(campaign.run_as_of))))
    stored.remove_due(campaign)
    return "started" if campaign.status == "running" else str(campaign.status)


def _not_started(campaign: Campaign, reason: str, now: datetime, *, final: bool = False) -> str:
    """A due campaign its segment gives no audience to: it waits (the next run of the `campaigns`
    job tries again; the campaign shows why) until START_WAIT past its `send_at`, then, or at once
    when nothing can change it (`final`: the segment was deleted), it fails (audited
    `campaign.fail`) having sent nothing. Returns 'failed' or the reason it waits."""
    if not final and now < campaign.send_at + START_WAIT:
        stored.note_waiting(campaign, reason, now)
        logger.info("campaign waits for its segment", extra={"campaign_id": campaign.campaign_id, "reason": reason})
        return reason
    rules = load_rules()

    def attempt(uow: UnitOfWork) -> bool:
        current = _existing(campaign.campaign_id)
        if current.status != "scheduled":
            return False
        stored.fail_campaign(uow, current, reason, now)
        after = {"status": "failed", "reason": reason}
        add_audit(uow, Change(SYSTEM_ACTOR, "campaign.fail", "campaign", campaign.campaign_id, {"status": "scheduled"}, after), rules, now)
        uow.commit()
        return True

    if run(attempt):
        count("CampaignsFailed")
        logger.warning("campaign failed to start", extra={"campaign_id": campaign.campaign_id, "reason": reason})
        return "failed"
    return str(_existing(campaign.campaign_id).status)


def _unit_members(campaign: Campaign) -> int:
    """An invitation's unit is a minute's members (its pace); any other campaign's, UNIT_MEMBERS."""
    return int(campaign.members_per_minute or UNIT_MEMBERS) if campaign.kind == INVITE else UNIT_MEMBERS


def _first_units(campaign: Campaign, units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The units to queue at launch: all of them, or for an invitation the first only (each unit
    queues the next a minute on: `next_units`), so it goes out at its pace however big the audience."""
    return units[:1] if campaign.kind == INVITE else units


def next_units(unit: dict[str, Any]) -> list[dict[str, Any]]:
    """After an invitation's unit: the next slice of its audience, queued to be delivered a
    minute later (the same unit on every delivery of this one: the runner counts it once); none
    once the audience is done or the campaign no longer runs."""
    if unit.get("kind") != "deliver":
        return []
    campaign = stored.get_campaign(unit["campaign_id"])
    if campaign is None or campaign.kind != INVITE or campaign.status != "running" or not campaign.audience_id:
        return []
    manifest = audiences.read(campaign.segment_id, str(campaign.audience_id))
    if manifest is None or unit["part"] not in manifest.parts:
        return []
    sizes = dict(zip(manifest.parts, _part_sizes(manifest), strict=True))
    part, offset = unit["part"], int(unit["offset"]) + int(unit["size"])
    if offset >= sizes[part]:
        index = manifest.parts.index(part) + 1
        if index >= len(manifest.parts):
            return []
        part, offset = manifest.parts[index], 0
    following = {k: v for k, v in unit.items() if k not in ("inline",)}
    return [{**following, "part": part, "offset": offset, "delay_seconds": RATE_PERIOD_SECONDS}]


def _plan(campaign: Campaign, manifest: audiences.Manifest, *, launched_at: datetime | None, run_as_of: str) -> list[dict[str, Any]]:
    """One unit per UNIT_MEMBERS members of each part (an invitation: per minute's members); the
    same units every time for one campaign."""
    sizes = _part_sizes(manifest)
    unit_members = _unit_members(campaign)
    at = iso(max(campaign.send_at, launched_at or campaign.send_at))
    return [
        {
            "job": JOB,
            "kind": "deliver",
            "as_of": run_as_of,
            "run_id": campaign.campaign_id,
            "dry_run": False,
            "campaign_id": campaign.campaign_id,
            "part": part,
            "offset": offset,
            "size": unit_members,
            "at": at,
        }
        for part, size in zip(manifest.parts, sizes, strict=True)
        for offset in range(0, size, unit_members)
    ]


def _part_sizes(manifest: audiences.Manifest) -> list[int]:
    """Every part but the last holds PART_SIZE ids (audiences.write); the last holds the rest."""
    if not manifest.parts:
        return []
    full = audiences.PART_SIZE
    return [full] * (len(manifest.parts) - 1) + [manifest.count - full * (len(manifest.parts) - 1)]


def start_due(cutoff: datetime, *, dry_run: bool) -> Counter[str]:
    """The `campaigns` job: start the campaigns whose `send_at` is `cutoff` or earlier."""
    tally: Counter[str] = Counter()
    for campaign_id in stored.due_by(cutoff):
        tally["campaigns_due"] += 1
        if dry_run:
            continue
        outcome = launch(campaign_id, job_time=cutoff)
        if outcome == "started":
            tally["campaigns_started"] += 1
        elif outcome == "failed":
            tally["campaigns_failed"] += 1
        else:
            tally[f"skipped.{outcome}"] += 1
            if outcome != "cancelled":
                tally["campaigns_waiting"] += 1
    return tally


# --- one unit: reach the members of a slice of a part ------------------------------------------------


@dataclass
class _Offer:
    """What the campaign gives, resolved once per unit (the coupon's end: one catalogue read)."""

    campaign_id: str
    actions: CampaignActions
    holdout_percent: int
    rules: ProgramRules
    now_local: datetime
    at: datetime
    coupon_expires_at: datetime | None


def _offer(campaign: Campaign, rules: ProgramRules, at: datetime) -> _Offer:
    actions = CampaignActions(
        message=dict(as_dict(campaign.message)) if campaign.message else None,
        points=int(campaign.points or 0),
        coupon_reward_id=campaign.coupon_reward_id,
        invite=campaign.kind == INVITE,
    )
    now_local = at.astimezone(rules.zone)
    expires_at = None
    if actions.coupon_reward_id:
        reward = get_reward(actions.coupon_reward_id)
        in_catalogue = reward is not None and bool(reward.active)
        expires_at = gift_expires_at(now_local, rules, in_catalogue=in_catalogue, reward_valid_days=reward.coupon_valid_days if reward else None)
    return _Offer(campaign.campaign_id, actions, int(campaign.holdout_percent or 0), rules, now_local, at, expires_at)


def deliver_unit(unit: dict[str, Any], rules: ProgramRules, *, dry_run: bool = False) -> Counter[str]:
    """Reach the members of one unit; its counters (store on the run record once: jobs/runner.py)."""
    tally: Counter[str] = Counter()
    campaign = stored.get_campaign(unit["campaign_id"])
    tally["round_trips"] += 1
    tally["items_read"] += 1
    if campaign is None:
        return tally
    at = max(datetime.fromisoformat(unit["at"]), utcnow())
    offer = _offer(campaign, rules, at)
    offset, size = int(unit["offset"]), int(unit["size"])
    member_ids = audiences.part(unit["part"])[offset : offset + size]
    accounted = 0  # members decided or found gone
    twins = _Twins(offer.campaign_id, time.monotonic() + TWIN_WAIT_SECONDS)
    for batch in batched(member_ids, stored.MEMBERS_PER_READ, strict=False):
        read = stored.members_and_status(offer.campaign_id, batch)
        tally["round_trips"] += 1
        tally["items_read"] += read.items_read
        status, read_at = read.status, time.monotonic()
        tally["skipped.member_gone"] += len(batch) - len(read.members)
        accounted += len(batch) - len(read.members)
        note = _Note(offer.campaign_id, [m.member_id for m in read.members])
        handed_over: list[str] = []  # members whose message their channel took: noted per batch
        try:
            for member in read.members:
                if time.monotonic() - read_at > STATUS_FRESH_SECONDS:
                    status, read_at = stored.campaign_status(offer.campaign_id), time.monotonic()
                    tally["round_trips"] += 1
                    tally["items_read"] += 1
                if status != "running":
                    tally.update(twins.as_read())
                    tally["skipped.cancelled"] += len(member_ids) - accounted
                    logger.info("campaign no longer running: unit stops", extra={"campaign_id": offer.campaign_id, "status": status})
                    return tally
                reached = reach_member(member, offer, dry_run=dry_run, before_pending=note.write)
                tally["round_trips"] += reached.round_trips
                if reached.stopped:
                    tally.update(twins.as_read())
                    tally["skipped.cancelled"] += len(member_ids) - accounted
                    logger.info("campaign cancelled under the unit: it stops", extra={"campaign_id": offer.campaign_id})
                    return tally
                if reached.handed_over:
                    handed_over.append(member.member_id)
                accounted += 1
                if reached.earlier and reached.outcome.outcome == "unconfirmed":
                    twins.awaited[member.member_id] = reached.outcome
                    continue
                tally.update(tally_keys(reached.outcome))
        except BaseException:
            # A record of this batch may be left `pending` (the member in hand when this was
            # raised): the note stays for the sweep.
            note.keep = True
            raise
        finally:
            tally["round_trips"] += note.round_trips + _note_handed_over(note, handed_over)
        tally.update(twins.settle())
    return tally


class _Twins:
    """Members of a batch whose record another delivery of the unit wrote and has not yet marked
    handed over (SQS delivered the unit twice at once: the twin is sending now). The unit's
    counters wait for the twin's marks, within one budget per unit, so that both deliveries count
    `sent` what the channel took; a record still pending after it counts `unconfirmed` (the sweep
    settles it, or the twin does)."""

    def __init__(self, campaign_id: str, deadline: float) -> None:
        self.campaign_id, self.deadline = campaign_id, deadline
        self.awaited: dict[str, MemberOutcome] = {}

    def as_read(self) -> Counter[str]:
        counts = Counter[str]()
        for outcome in self.awaited.values():
            counts.update(tally_keys(outcome))
        self.awaited.clear()
        return counts

    def settle(self) -> Counter[str]:
        counts, pause = Counter[str](round_trips=0), 0.05
        while self.awaited:
            settled, pending = stored.settled_outcomes(self.campaign_id, list(self.awaited))
            counts["round_trips"] += 1
            for member_id, outcome in settled.items():
                counts.update(tally_keys(outcome))
                self.awaited.pop(member_id, None)
            orphaned = utcnow() - TWIN_ALIVE_FOR
            if all(at < orphaned for member_id, at in pending.items() if member_id in self.awaited):
                break  # no worker is left to mark them: the sweep settles them
            if time.monotonic() + pause > self.deadline:
                break
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
        return counts + self.as_read()


class _Note:
    """A batch's hand-over note (store/campaigns.py): put before the first record the batch
    leaves `pending`, at most once; deleted once they are all settled, unless `keep`."""

    def __init__(self, campaign_id: str, member_ids: list[str]) -> None:
        self.campaign_id, self.member_ids = campaign_id, member_ids
        self.item: HandoverNote | None = None
        self.keep = False
        self.round_trips = 0

    def write(self) -> None:
        if self.item is None:
            item = stored.new_handover_note(self.campaign_id, self.member_ids, utcnow())
            stored.put_handover_note(item)
            self.item, self.round_trips = item, 1


def _note_handed_over(note: _Note, member_ids: list[str]) -> int:
    """Mark a batch's messages as taken by their channel, and drop its note, in one transaction
    (its round trips): only then does the change stream publish their `campaign.sent`, so a
    message its channel refused is never announced as sent. Marked per batch, not per member: one
    write for up to MEMBERS_PER_READ members keeps a campaign near one round trip per member.

    If the table is too busy to take the marks, the note keeps which members' messages went (one
    small write), and the sweep marks them: they are not lost, nor turned into "unknown"."""
    if note.item is None:
        return 0  # nothing of this batch was left pending
    item, remaining = note.item, list(member_ids)
    if not remaining and note.keep:
        return 0

    def explain(cancelled: Cancelled) -> None:
        # Records no longer pending were settled by the sweep meanwhile: mark the others.
        settled = {name.removeprefix("handover:") for name in cancelled.failed if name.startswith("handover:")}
        remaining[:] = [m for m in remaining if m not in settled]

    def attempt(uow: UnitOfWork) -> None:
        stored.note_handed_over(uow, remaining, note.campaign_id, None if note.keep else item)
        uow.commit(explain)

    try:
        run(attempt, attempts=MEMBER_ATTEMPTS)
    except TemporarilyUnavailable:

        def keep_accepted(uow: UnitOfWork) -> None:
            stored.note_accepted(uow, item, remaining)
            uow.commit()

        # If this fails too, it raises: the unit is redelivered, and the sweep settles these
        # records `unknown` (what went can no longer be told from what did not).
        if remaining:
            run(keep_accepted, attempts=MEMBER_ATTEMPTS)
        logger.warning("campaign hand-overs left on their note for the sweep", extra={"campaign_id": note.campaign_id, "members": len(remaining)})
        return 2
    return 1


# --- the sweep: hand-overs no worker will settle ------------------------------------------------------


def settle_handovers(now: datetime, *, dry_run: bool) -> Counter[str]:
    """The `campaigns` job's sweep: settle the records of the hand-over notes workers left behind
    (a worker that stopped between a send and its mark, a unit dead-lettered): `accepted` if the
    note says the channel took the message, else `unknown` (outcome `unconfirmed`: the change
    stream publishes `campaign.delivery_unknown`). Never sends. A record younger than
    HANDOVER_SETTLE_AFTER is left to the worker that may still be at it (and its note kept)."""
    tally: Counter[str] = Counter()
    cutoff = now - HANDOVER_SETTLE_AFTER
    for note in stored.handover_notes_before(cutoff, NOTES_PER_SWEEP):
        tally["handover_notes"] += 1
        try:
            tally.update(_settle_note(note, cutoff, dry_run=dry_run))
        except TemporarilyUnavailable:  # the note stays: the next run (5 minutes on) tries again
            tally["handover_notes_left"] += 1
            logger.warning("campaign hand-over note left for the next sweep", extra={"campaign_id": note.campaign_id})
    return tally


def _settle_note(note: HandoverNote, cutoff: datetime, *, dry_run: bool) -> Counter[str]:
    accepted = set(note.accepted or ())

    def attempt(uow: UnitOfWork) -> Counter[str]:
        pending = stored.pending_deliveries(note.campaign_id, sorted(note.members))
        old = [p for p in pending if p.at < cutoff]
        for record in old:
            stored.settle_pending(uow, record.member_id, note.campaign_id, accepted=record.member_id in accepted)
        if len(old) == len(pending):
            uow.delete("note", note)  # nothing of the batch is left pending
        if not dry_run:
            uow.commit()  # a record settled meanwhile: read them again
        return Counter(f"handovers_{'accepted' if p.member_id in accepted else 'unknown'}" for p in old)

    counts = run(attempt, attempts=MEMBER_ATTEMPTS)
    if counts["handovers_unknown"]:
        logger.warning("campaign hand-overs settled unknown", extra={"campaign_id": note.campaign_id, "members": counts["handovers_unknown"]})
    return counts


@dataclass
class _Reach:
    outcome: MemberOutcome
    round_trips: int = 0
    stopped: bool = False  # the campaign is no longer running: the unit stops
    handed_over: bool = False  # a message sent now, taken by its channel: its record must say so
    earlier: bool = False  # the member's record was written before (a twin delivery, a rerun)


class _NoLongerRunning(Exception):
    """The member's transaction found the campaign cancelled: nothing was written."""


@dataclass
class _Decided:
    outcome: MemberOutcome
    actions: list[Action] = field(default_factory=list)
    points: int = 0
    coupon: Coupon | None = None
    message: Decision | None = None


def decide_for(member: Member, offer: _Offer) -> _Decided:
    """What the campaign does for this member, as read now. Pure but for the coupon's new code."""
    if in_control_group(offer.campaign_id, member.member_id, offer.holdout_percent):
        return _Decided(MemberOutcome("control"))
    if offer.actions.invite:
        return _invitation(member, offer)
    if member.status != Status.ACTIVE:
        return _Decided(MemberOutcome("skipped", reason=f"status_{member.status}"))
    decided = _Decided(MemberOutcome("skipped"))
    reason: str | None = None
    channel: str | None = None
    if offer.actions.message:
        message = decide(member, offer.rules, offer.now_local, kind="campaign", body=offer.actions.message, consent_required=True, marketing=True)
        if message.skipped:
            reason = message.skipped
        else:
            decided.message = message
            decided.actions += message.actions
            channel = message.planned.message.channel if message.planned else None
    if offer.actions.points:
        decided.points = offer.actions.points
        decided.actions += points_update(earn(points_state(member), offer.actions.points, month_key(offer.now_local.date()), qualifying=False))
    if offer.actions.coupon_reward_id and offer.coupon_expires_at is not None:
        decided.coupon = new_coupon(member.member_id, "campaign", offer.actions.coupon_reward_id, offer.coupon_expires_at, offer.at)
    elif offer.actions.coupon_reward_id and not reason and not decided.points and not decided.message:
        reason = "coupon_unavailable"
    planned = decided.message.planned if decided.message else None
    if planned is not None:
        kind = "deferred" if planned.deferred else "sent"
    elif decided.points or decided.coupon:
        kind = "granted"
    else:
        kind = "skipped"
    decided.outcome = MemberOutcome(kind, reason=reason, channel=channel, points=decided.points, coupon=decided.coupon is not None)  # type: ignore[arg-type]
    return decided


def _invitation(member: Member, offer: _Offer) -> _Decided:
    """An invitation to a pending imported member: SMS kind `invite`, no marketing consent needed,
    the frequency cap and quiet hours as for marketing; its template's `points` is the balance the
    member brought (no other value about the member goes into the message)."""
    refused = invitation_refusal(status=str(member.status), imported=bool(member.imported_by), phone_proven=phone_is_proven(member))
    if refused:
        return _Decided(MemberOutcome("skipped", reason=refused))
    text = dict(offer.actions.message or {})
    message = decide(
        member,
        offer.rules,
        offer.now_local,
        kind=INVITE,
        body={"sms": text["sms"]},
        consent_required=False,
        marketing=True,
        params={"points": str(int(member.balance))},
    )
    if message.skipped or message.planned is None:
        return _Decided(MemberOutcome("skipped", reason=message.skipped))
    kind = "deferred" if message.planned.deferred else "sent"
    return _Decided(MemberOutcome(kind, channel=message.planned.message.channel), actions=list(message.actions), message=message)  # type: ignore[arg-type]


def _fresh_reads(member: Member) -> Iterator[Member | None]:
    yield member
    while True:
        yield get_member(member.member_id)


def reach_member(member: Member, offer: _Offer, *, dry_run: bool = False, before_pending: Callable[[], None] | None = None) -> _Reach:
    """Decide and write this member's part of the campaign in one transaction (nothing in a dry
    run); a member reached before keeps what its record says. The message goes after the commit.
    `before_pending` runs before a transaction that would leave the record `pending` (the
    batch's hand-over note)."""
    reads = _fresh_reads(member)
    trips = 0

    def attempt(uow: UnitOfWork) -> tuple[_Decided, bool] | None:
        nonlocal trips
        subject = next(reads)
        if subject is None:
            return None
        decided = decide_for(subject, offer)
        if dry_run:
            return decided, True
        planned = decided.message.planned if decided.message else None
        if before_pending is not None and planned is not None and not planned.deferred:
            before_pending()
        _write(uow, subject, decided, offer)

        def explain(cancelled: Cancelled) -> tuple[_Decided, bool] | None:
            earlier = stored.outcome_of(cancelled.failed.get("delivery")) if "delivery" in cancelled.failed else None
            if earlier is not None:
                return _Decided(earlier), False
            if "campaign" in cancelled.failed:
                raise _NoLongerRunning
            return None

        trips += 1
        answer = uow.commit(explain)
        return answer if answer is not None else (decided, True)

    try:
        result = run(attempt, attempts=MEMBER_ATTEMPTS)
    except _NoLongerRunning:
        return _Reach(MemberOutcome("skipped", reason="cancelled"), trips, stopped=True)
    if result is None:
        return _Reach(MemberOutcome("skipped", reason="member_gone"), trips)
    decided, ours = result
    if not ours:
        return _Reach(decided.outcome, trips, earlier=True)
    planned = decided.message.planned if decided.message else None
    goes_now = planned is not None and not planned.deferred and not dry_run
    if goes_now and planned is not None and not deliver_now(planned):
        decided.outcome = MemberOutcome(
            "granted" if decided.points or decided.coupon else "skipped",
            reason="delivery_failed",
            points=decided.points,
            coupon=decided.coupon is not None,
        )
        # The record said "sent" (written before the send): make it say what the results count.
        stored.note_delivery_failed(member.member_id, offer.campaign_id, decided.outcome)
        trips += 1
        return _Reach(decided.outcome, trips)
    return _Reach(decided.outcome, trips, handed_over=goes_now)


def _write(uow: UnitOfWork, member: Member, decided: _Decided, offer: _Offer) -> None:
    code = decided.coupon.code if decided.coupon is not None else None
    stored.check_running(uow, offer.campaign_id)
    stored.add_delivery(uow, member.member_id, offer.campaign_id, decided.outcome, offer.at, code)
    actions = list(decided.actions)
    if decided.points:
        month = month_key(offer.now_local.date())
        balance = int(member.balance) + decided.points
        uow.put("ledger", ledger_entry(member.member_id, "bonus", decided.points, balance, f"campaign:{offer.campaign_id}", offer.at, lot=month))
        open_lot(uow, member.member_id, month, lot_expires_on(month, offer.rules.points_validity_months), held=member.lots)
    if decided.coupon is not None:
        add_coupon(uow, decided.coupon)
    planned = decided.message.planned if decided.message else None
    if planned is not None and planned.deferred:
        actions += add_deferral(uow, member, planned, offer.campaign_id)
    if actions:
        uow.update("member", member, actions)


# --- outcomes: purchases and coupons redeemed, recipients against the control group ---------------------

# A message whose hand-over is not known most likely went (the worker stopped after the send):
# its member was treated, and counts with the recipients.
RECIPIENT_OUTCOMES = frozenset({"sent", "deferred", "unconfirmed", "granted"})


def request_outcomes(campaign_id: str, actor: str) -> Answer:
    """202: count, over the audience, what recipients and the control group did within the
    campaign's `results_window_days` of its send (so far, if the window has not ended): one unit per
    slice of the audience, queued like the send's; GET the campaign for the figures."""
    rules, now = load_rules(), utcnow()
    campaign = _existing(campaign_id)
    manifest = audiences.read(campaign.segment_id, str(campaign.audience_id)) if campaign.audience_id else None
    if campaign.launched_at is None or manifest is None:
        raise InvalidState("The campaign has not started: it has no outcomes yet")
    run_as_of = today_in(rules.zone, now).isoformat()
    # A random tail: two requests in the same second are two counts, not one clash (a 500).
    run_id = f"{campaign_id}.outcomes.{new_run_id(now)}"
    units = [
        {**u, "kind": "outcomes", "as_of": run_as_of, "run_id": run_id}
        for u in _plan(campaign, manifest, launched_at=campaign.launched_at, run_as_of=run_as_of)
    ]

    def attempt(uow: UnitOfWork) -> None:
        stored.start_outcomes(uow, campaign, run_as_of, run_id, len(units), now)
        after = {"outcomes_run_id": run_id, "window_days": int(campaign.results_window_days or 14)}
        add_audit(uow, Change(actor, "campaign.outcomes", "campaign", campaign_id, None, after), rules, now)
        uow.commit()

    run(attempt)
    enqueue(units)
    logger.info("campaign outcomes requested", extra={"campaign_id": campaign_id, "units": len(units), "actor": actor})
    return Answer(202, {"campaign_id": campaign_id, "outcomes": _outcomes(_existing(campaign_id))})


def outcomes_unit(unit: dict[str, Any]) -> Counter[str]:
    """Per member of one slice: its delivery record (recipient or control), its coupon, and one
    Query of its ledger over the window for purchases."""
    tally: Counter[str] = Counter()
    campaign = stored.get_campaign(unit["campaign_id"])
    if campaign is None:
        return tally
    window = timedelta(days=int(campaign.results_window_days or 14))
    offset, size = int(unit["offset"]), int(unit["size"])
    member_ids = audiences.part(unit["part"])[offset : offset + size]
    for batch in batched(member_ids, 100, strict=False):
        records, trips, items = stored.deliveries(campaign.campaign_id, batch)
        tally["round_trips"] += trips
        tally["items_read"] += items
        for record in records:
            group = "recipients" if record.outcome in RECIPIENT_OUTCOMES else "control" if record.outcome == "control" else None
            if group is None:
                continue
            end = min(record.at + window, utcnow())
            bought = earnings_between(record.member_id, record.at, end)
            tally["round_trips"] += 1
            tally["items_read"] += bought
            tally[f"{group}.members"] += 1
            tally[f"{group}.purchasers"] += int(bought > 0)
            tally[f"{group}.purchases"] += bought
            if record.coupon_redeemed_at is not None and record.coupon_redeemed_at <= record.at + window:
                tally["coupons_redeemed"] += 1
    return tally


def _outcomes(campaign: Campaign) -> dict[str, Any] | None:
    if not campaign.outcomes_run_id:
        return None
    record = stored.run_record(str(campaign.outcomes_run_as_of), str(campaign.outcomes_run_id))
    if record is None:
        return None

    def group(name: str) -> dict[str, Any]:
        members = record.counters.get(f"{name}.members", 0)
        purchasers = record.counters.get(f"{name}.purchasers", 0)
        return {
            "members": members,
            "purchasers": purchasers,
            "purchases": record.counters.get(f"{name}.purchases", 0),
            "purchase_rate": round(purchasers / members, 4) if members else None,
        }

    return {
        "requested_at": iso(campaign.outcomes_requested_at) if campaign.outcomes_requested_at else None,
        "window_days": int(campaign.results_window_days or 14),
        "units": {"planned": record.units_planned, "done": record.units_done},
        "complete": record.units_done >= record.units_planned,
        "recipients": group("recipients"),
        "control": group("control"),
        "coupons_redeemed": record.counters.get("coupons_redeemed", 0),
    }


# --- dry run ------------------------------------------------------------------------------------------


def dry_run(campaign: Campaign, rules: ProgramRules) -> dict[str, Any]:
    """Who would get what: the first part of the segment's audience as launch would take it (409
    while it is being counted or its count failed) or the audience the campaign went to, decided
    member by member as the send would, nothing written."""
    if campaign.audience_id:
        manifest = audiences.read(campaign.segment_id, str(campaign.audience_id))
        if manifest is None:
            raise SegmentNotReady(f"The audience campaign {campaign.campaign_id} went to is no longer kept")
    else:
        manifest = audience_to_use(campaign.segment_id).manifest
    at = max(campaign.send_at, utcnow())
    offer = _offer(campaign, rules, at)
    member_ids = audiences.part(manifest.parts[0]) if manifest.parts else []
    tally: Counter[str] = Counter()
    sample: list[dict[str, Any]] = []
    for batch in batched(member_ids, stored.MEMBERS_PER_READ, strict=False):
        read = stored.members_and_status(campaign.campaign_id, batch)
        tally["skipped.member_gone"] += len(batch) - len(read.members)
        for member in read.members:
            outcome = decide_for(member, offer).outcome
            tally.update(tally_keys(outcome))
            if len(sample) < SAMPLE_SIZE:
                sample.append({"member_id": member.member_id, **_outcome_view(outcome)})
    return {
        "dry_run": True,
        "campaign": campaign_view(campaign, rules, with_results=False),
        "audience": {"audience_id": manifest.audience_id, "data_as_of": iso(manifest.data_as_of), "count": manifest.count},
        "members_examined": len(member_ids),
        "would": _counts(tally),
        "sample": sample,
    }


def _outcome_view(outcome: MemberOutcome) -> dict[str, Any]:
    return {"outcome": outcome.outcome, "reason": outcome.reason, "channel": outcome.channel, "points": outcome.points, "coupon": outcome.coupon}


# --- views ----------------------------------------------------------------------------------------------


def _definition(campaign: Campaign) -> dict[str, Any]:
    return {
        "name": campaign.name,
        "segment_id": campaign.segment_id,
        "message": dict(as_dict(campaign.message)) if campaign.message else None,
        "points": int(campaign.points or 0) or None,
        "coupon_reward_id": campaign.coupon_reward_id,
        "send_at": iso(campaign.send_at),
        "holdout_percent": int(campaign.holdout_percent or 0),
        "results_window_days": int(campaign.results_window_days or 0),
        "kind": str(campaign.kind or "marketing"),
        "members_per_minute": int(campaign.members_per_minute) if campaign.members_per_minute else None,
    }


def _counts(tally: Counter[str]) -> dict[str, Any]:
    return {
        "examined": tally.get("examined", 0),
        "reached": tally.get("reached", 0),
        "sent": tally.get("messages_sent", 0),
        "deferred": tally.get("messages_deferred", 0),
        "unconfirmed": tally.get("messages_unconfirmed", 0),
        "control": tally.get("control", 0),
        "points_granted": tally.get("points_granted", 0),
        "coupons_issued": tally.get("coupons_issued", 0),
        "skipped": {k.removeprefix("skipped."): v for k, v in sorted(tally.items()) if k.startswith("skipped.") and v},
    }


def campaign_view(campaign: Campaign, rules: ProgramRules, *, with_results: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {
        "campaign_id": campaign.campaign_id,
        **_definition(campaign),
        "status": str(campaign.status),
        "created_at": iso(campaign.created_at),
        "created_by": campaign.created_by,
        "launched_at": iso(campaign.launched_at) if campaign.launched_at else None,
        "cancelled_at": iso(campaign.cancelled_at) if campaign.cancelled_at else None,
        "audience": (
            {
                "audience_id": campaign.audience_id,
                "data_as_of": iso(campaign.data_as_of) if campaign.data_as_of else None,
                "count": int(campaign.audience_count or 0),
            }
            if campaign.audience_id
            else None
        ),
        "waiting": (
            {"reason": campaign.waiting_reason, "since": iso(campaign.waiting_since), "until": iso(campaign.send_at + START_WAIT)}
            if campaign.status == "scheduled" and campaign.waiting_reason and campaign.waiting_since
            else None
        ),
        "failure": {"reason": campaign.failure, "at": iso(campaign.failed_at)} if campaign.status == "failed" and campaign.failed_at else None,
    }
    if with_results:
        view["results"] = _results(campaign)
        view["outcomes"] = _outcomes(campaign)
    return view


def _results(campaign: Campaign) -> dict[str, Any] | None:
    """The counters of its run: each unit's added once (jobs/runner.py)."""
    if not campaign.run_as_of:
        return None
    record = stored.run_record(str(campaign.run_as_of), campaign.campaign_id)
    if record is None:
        return None
    return {
        "units": {"planned": record.units_planned, "done": record.units_done},
        "complete": record.units_done >= record.units_planned,
        **_counts(record.counters),
    }
