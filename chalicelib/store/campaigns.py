"""Campaigns (models_campaigns.py): the campaign, the list of those waiting to start, and each
member's delivery record.

| pk                 | sk                        | item             | access pattern                        |
|--------------------|---------------------------|------------------|---------------------------------------|
| CAMPAIGNS          | CAMPAIGN#<campaign_id>    | Campaign         | one campaign; all of them newest first |
| CAMPAIGNDUE        | <send_at UTC>#<campaign_id> | CampaignDue    | the campaigns due by a time: one query |
| MEMBER#<member_id> | CAMPAIGN#<campaign_id>    | CampaignDelivery | a member reached once per campaign    |
| HANDOVERS          | <written_at>#<campaign_id>#<token> | HandoverNote | batches with hand-overs maybe unsettled |

Campaign ids run backwards in time, so the list reads newest first. A campaign's counters are
kept on its run's record (store/job_runs.py), added to once per unit of work like every job's.
A delivery unit reads its members and the campaign's status together, in one BatchGetItem per
`MEMBERS_PER_READ` members: the status is as fresh as the members it decides on.

A delivery record whose message goes after its commit is written `pending`. Before the first such
record of a batch, the worker puts a hand-over note naming the batch's members; the transaction
that marks the batch's records `accepted` deletes it. A note left behind (the worker stopped, or
could not mark them) stays in the `HANDOVERS` partition, oldest first, for the sweep
(`settle_note`): the partition holds only the notes of batches in flight and those left behind.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.update import Action

from ..domain.campaigns import ACTIVE_STATUSES, MemberOutcome
from . import job_runs, keys
from .job_runs import KEPT_FOR, new_run
from .ledger import newest_first
from .models import BaseItem, Coupon, JobRun, Member
from .models_campaigns import Campaign, CampaignDelivery, CampaignDue, HandoverNote
from .paging import Page, query_page
from .unit_of_work import UnitOfWork

# Members per BatchGetItem (at most 100 keys): the campaign's own item rides along.
MEMBERS_PER_READ = 99
RUN_JOB = "campaigns"
# A delivery record's message hand-over (CampaignDelivery.handover).
HANDOVER_PENDING, HANDOVER_ACCEPTED, HANDOVER_REFUSED, HANDOVER_UNKNOWN = "pending", "accepted", "refused", "unknown"
# A campaign's run records (its send, its outcome counts) stay as long as anyone asks for results.
RUN_KEPT_FOR = max(KEPT_FOR, timedelta(days=400))


def new_campaign_id(now: datetime) -> str:
    """`cmp_` and a number that falls as time goes on (newest first), then a random tail."""
    return f"cmp_{newest_first(now)}{secrets.token_hex(3)}"


def new_campaign(campaign_id: str, **fields: Any) -> Campaign:
    return Campaign(keys.CAMPAIGNS_PK, keys.campaign_sk(campaign_id), campaign_id=campaign_id, **fields)


def add_campaign(uow: UnitOfWork, campaign: Campaign) -> None:
    """Put the campaign (only if new) and its entry among those waiting to start."""
    uow.put("campaign", campaign, Campaign.pk.does_not_exist())
    uow.put("due", CampaignDue(keys.CAMPAIGN_DUE_PK, keys.campaign_due_sk(campaign.send_at, campaign.campaign_id), campaign_id=campaign.campaign_id))


def get_campaign(campaign_id: str) -> Campaign | None:
    try:
        return Campaign.get(keys.CAMPAIGNS_PK, keys.campaign_sk(campaign_id), consistent_read=True)
    except DoesNotExist:
        return None


def campaign_page(limit: int, cursor: str | None) -> Page[Campaign]:
    return query_page(Campaign, keys.CAMPAIGNS_PK, keys.CAMPAIGN_PREFIX, limit, cursor)


def due_by(cutoff: datetime) -> list[str]:
    """The ids of the campaigns waiting to start whose time is `cutoff` or earlier, oldest first."""
    upper = keys.campaign_due_sk(cutoff, "~")
    return [entry.campaign_id for entry in CampaignDue.query(keys.CAMPAIGN_DUE_PK, CampaignDue.sk <= upper, consistent_read=True)]


def remove_due(campaign: Campaign) -> None:
    """Its units are queued (or it was cancelled): it waits no more."""
    CampaignDue(keys.CAMPAIGN_DUE_PK, keys.campaign_due_sk(campaign.send_at, campaign.campaign_id)).delete()


def start_campaign(
    uow: UnitOfWork, campaign: Campaign, *, audience_id: str, data_as_of: datetime, count: int, run_as_of: str, units: int, now: datetime
) -> None:
    """Mark a scheduled campaign running with the audience it goes to, and put its run's record
    (part `campaign` fails if it is no longer scheduled)."""
    actions = [
        Campaign.status.set("running"),
        Campaign.launched_at.set(now),
        Campaign.run_as_of.set(run_as_of),
        Campaign.audience_id.set(audience_id),
        Campaign.data_as_of.set(data_as_of),
        Campaign.audience_count.set(count),
        Campaign.units_planned.set(units),
    ]
    uow.update("campaign", campaign, actions, Campaign.status == "scheduled")
    run = new_run(RUN_JOB, run_as_of, campaign.campaign_id, dry_run=False, units_planned=units, now=now, kept_for=RUN_KEPT_FOR)
    uow.put("run", run, JobRun.pk.does_not_exist())


def note_waiting(campaign: Campaign, reason: str, now: datetime) -> None:
    """Why a due campaign has not started, from when (kept from the first time for that reason);
    only while it is still scheduled."""
    if campaign.waiting_reason == reason:
        return
    try:
        campaign.update(actions=[Campaign.waiting_reason.set(reason), Campaign.waiting_since.set(now)], condition=Campaign.status == "scheduled")
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise  # else: started or cancelled meanwhile, nothing to say


def fail_campaign(uow: UnitOfWork, campaign: Campaign, reason: str, now: datetime) -> None:
    """A scheduled campaign that will never start: `failed` with why (part `campaign` fails if it
    is no longer scheduled), and it waits no more."""
    actions = [Campaign.status.set("failed"), Campaign.failure.set(reason), Campaign.failed_at.set(now)]
    uow.update("campaign", campaign, actions, Campaign.status == "scheduled")
    uow.delete("due", CampaignDue(keys.CAMPAIGN_DUE_PK, keys.campaign_due_sk(campaign.send_at, campaign.campaign_id)))


def cancel_campaign(uow: UnitOfWork, campaign: Campaign, actor: str, now: datetime) -> None:
    """Part `campaign` fails if it is already cancelled."""
    actions = [Campaign.status.set("cancelled"), Campaign.cancelled_at.set(now), Campaign.cancelled_by.set(actor)]
    uow.update("campaign", campaign, actions, Campaign.status.is_in(*ACTIVE_STATUSES))
    uow.delete("due", CampaignDue(keys.CAMPAIGN_DUE_PK, keys.campaign_due_sk(campaign.send_at, campaign.campaign_id)))


@dataclass(frozen=True)
class MembersAndStatus:
    status: str | None  # None: the campaign is gone
    members: list[Member]  # those still there, in the order asked
    items_read: int


def members_and_status(campaign_id: str, member_ids: Sequence[str]) -> MembersAndStatus:
    """At most MEMBERS_PER_READ members and the campaign, in one strongly consistent BatchGetItem."""
    if len(member_ids) > MEMBERS_PER_READ:
        raise ValueError(f"at most {MEMBERS_PER_READ} members a read")
    wanted = [(keys.CAMPAIGNS_PK, keys.campaign_sk(campaign_id)), *((keys.member_pk(m), keys.PROFILE) for m in dict.fromkeys(member_ids))]
    found = list(BaseItem.batch_get(wanted, consistent_read=True))
    campaign = next((i for i in found if isinstance(i, Campaign)), None)
    by_id = {i.member_id: i for i in found if isinstance(i, Member)}
    members = [by_id[m] for m in dict.fromkeys(member_ids) if m in by_id]
    return MembersAndStatus(str(campaign.status) if campaign else None, members, len(found))


def campaign_status(campaign_id: str) -> str | None:
    campaign = get_campaign(campaign_id)
    return str(campaign.status) if campaign else None


def check_running(uow: UnitOfWork, campaign_id: str) -> None:
    """Part `campaign`: the transaction fails unless the campaign is still running, so no member is
    reached once a cancel has committed."""
    uow.condition_check("campaign", Campaign, keys.CAMPAIGNS_PK, keys.campaign_sk(campaign_id), Campaign.status == "running")


def add_delivery(uow: UnitOfWork, member_id: str, campaign_id: str, outcome: MemberOutcome, at: datetime, coupon_code: str | None = None) -> None:
    """Put the member's delivery record, only if absent (part `delivery`, its old item returned)."""
    record = CampaignDelivery(
        keys.member_pk(member_id),
        keys.campaign_delivery_sk(campaign_id),
        campaign_id=campaign_id,
        outcome=outcome.outcome,
        reason=outcome.reason,
        channel=outcome.channel,
        points=outcome.points,
        coupon=int(outcome.coupon),
        coupon_code=coupon_code,
        at=at,
        handover=HANDOVER_PENDING if outcome.outcome == "sent" else None,
    )
    uow.put("delivery", record, CampaignDelivery.pk.does_not_exist(), return_old=True)


def note_delivery_failed(member_id: str, campaign_id: str, outcome: MemberOutcome) -> None:
    """The message of a delivery recorded as sent could not be handed to its channel: the record
    keeps the outcome the results count (a redelivery then counts the same), and its hand-over
    `refused` (the change stream publishes what the member got instead: domain/events.py)."""
    record = CampaignDelivery(keys.member_pk(member_id), keys.campaign_delivery_sk(campaign_id))
    actions: list[Action] = [
        CampaignDelivery.outcome.set(outcome.outcome),
        CampaignDelivery.reason.set(outcome.reason or "delivery_failed"),
        CampaignDelivery.handover.set(HANDOVER_REFUSED),
    ]
    record.update(actions=actions, condition=CampaignDelivery.pk.exists())


def note_handed_over(uow: UnitOfWork, member_ids: Sequence[str], campaign_id: str, note: HandoverNote | None = None) -> None:
    """The messages of these members' delivery records were taken by their channel: `accepted`
    (at most 99 members and their batch's note, deleted with it: one transaction; the change
    stream then publishes `campaign.sent`). Part `handover:<member_id>` fails if that record is no
    longer `pending` (the sweep settled it)."""
    for member_id in member_ids:
        record = CampaignDelivery(keys.member_pk(member_id), keys.campaign_delivery_sk(campaign_id))
        uow.update(f"handover:{member_id}", record, [CampaignDelivery.handover.set(HANDOVER_ACCEPTED)], CampaignDelivery.handover == HANDOVER_PENDING)
    if note is not None:
        uow.delete("note", note)


def new_handover_note(campaign_id: str, member_ids: Sequence[str], now: datetime) -> HandoverNote:
    """A note naming a batch's members (at most MEMBERS_PER_READ), written before any of their
    records is left `pending`."""
    token = secrets.token_hex(6)
    return HandoverNote(
        keys.HANDOVERS_PK, keys.handover_note_sk(now, campaign_id, token), campaign_id=campaign_id, members=set(member_ids), written_at=now
    )


def put_handover_note(note: HandoverNote) -> None:
    note.save(condition=HandoverNote.pk.does_not_exist())


def drop_handover_note(note: HandoverNote) -> None:
    note.delete()


def note_accepted(uow: UnitOfWork, note: HandoverNote, member_ids: Sequence[str]) -> None:
    """Keep on the note that these members' messages were taken (their records could not be
    marked): the sweep marks them `accepted`."""
    uow.update("note", note, [HandoverNote.accepted.add(set(member_ids))], HandoverNote.pk.exists())


def handover_notes_before(cutoff: datetime, limit: int) -> list[HandoverNote]:
    """The notes written before `cutoff`, oldest first (one Query of a small partition)."""
    upper = keys.handover_note_sk(cutoff)
    return list(HandoverNote.query(keys.HANDOVERS_PK, HandoverNote.sk < upper, consistent_read=True, limit=limit))


@dataclass(frozen=True)
class Pending:
    member_id: str
    at: datetime  # when the unit that wrote it started: its worker is gone some minutes later


def pending_deliveries(campaign_id: str, member_ids: Sequence[str]) -> list[Pending]:
    """The delivery records of these members (at most 100) still `pending`, strongly consistent."""
    wanted = [(keys.member_pk(m), keys.campaign_delivery_sk(campaign_id)) for m in dict.fromkeys(member_ids)]
    found = BaseItem.batch_get(wanted, consistent_read=True)
    return [Pending(keys.member_id_of(r.pk), r.at) for r in found if isinstance(r, CampaignDelivery) and r.handover == HANDOVER_PENDING]


def settle_pending(uow: UnitOfWork, member_id: str, campaign_id: str, *, accepted: bool) -> None:
    """Settle a `pending` record nobody else will: `accepted` (its channel took the message), or
    `unknown` with outcome `unconfirmed` (it may or may not have gone). Part `handover:<member_id>`
    fails if it is no longer pending."""
    record = CampaignDelivery(keys.member_pk(member_id), keys.campaign_delivery_sk(campaign_id))
    actions: list[Action] = [CampaignDelivery.handover.set(HANDOVER_ACCEPTED)]
    if not accepted:
        actions = [CampaignDelivery.handover.set(HANDOVER_UNKNOWN), CampaignDelivery.outcome.set("unconfirmed")]
    uow.update(f"handover:{member_id}", record, actions, CampaignDelivery.handover == HANDOVER_PENDING)


def outcome_of(raw: dict[str, Any] | None) -> MemberOutcome | None:
    """The outcome a delivery record written before keeps (from a cancelled transaction's old item);
    a message whose hand-over is still `pending` counts as `unconfirmed`, never as sent."""
    if not raw:
        return None
    return _outcome(CampaignDelivery.from_raw_data(raw))


def settled_outcomes(campaign_id: str, member_ids: Sequence[str]) -> tuple[dict[str, MemberOutcome], dict[str, datetime]]:
    """These members' delivery records (at most 100, one BatchGetItem): the outcomes of those whose
    hand-over is no longer `pending`, and when the pending ones were written."""
    wanted = [(keys.member_pk(m), keys.campaign_delivery_sk(campaign_id)) for m in dict.fromkeys(member_ids)]
    records = [i for i in BaseItem.batch_get(wanted) if isinstance(i, CampaignDelivery)]
    settled = {keys.member_id_of(r.pk): _outcome(r) for r in records if r.handover != HANDOVER_PENDING}
    pending = {keys.member_id_of(r.pk): r.at for r in records if r.handover == HANDOVER_PENDING}
    return settled, pending


def _outcome(record: CampaignDelivery) -> MemberOutcome:
    # A message whose hand-over is not settled (or settled `unknown`) is not counted as sent.
    unsettled = record.outcome == "sent" and record.handover in (HANDOVER_PENDING, HANDOVER_UNKNOWN)
    return MemberOutcome(
        outcome="unconfirmed" if unsettled else record.outcome,  # type: ignore[arg-type]
        reason=record.reason,
        channel=record.channel,
        points=int(record.points or 0),
        coupon=bool(record.coupon),
    )


def start_outcomes(uow: UnitOfWork, campaign: Campaign, run_as_of: str, run_id: str, units: int, now: datetime) -> None:
    """Put the outcomes count's run record (only if new) and note it on the campaign, together."""
    run = new_run(RUN_JOB, run_as_of, run_id, dry_run=False, units_planned=units, now=now, kept_for=RUN_KEPT_FOR)
    uow.put("run", run, JobRun.pk.does_not_exist())
    actions = [Campaign.outcomes_run_as_of.set(run_as_of), Campaign.outcomes_run_id.set(run_id), Campaign.outcomes_requested_at.set(now)]
    uow.update("campaign", campaign, actions)


@dataclass(frozen=True)
class Delivered:
    member_id: str
    outcome: str
    at: datetime
    coupon_redeemed_at: datetime | None


def deliveries(campaign_id: str, member_ids: Sequence[str]) -> tuple[list[Delivered], int, int]:
    """The delivery records of these members (at most 100) and whether their coupon was redeemed:
    (records, round trips, items read)."""
    wanted = [(keys.member_pk(m), keys.campaign_delivery_sk(campaign_id)) for m in dict.fromkeys(member_ids)]
    records = [i for i in BaseItem.batch_get(wanted) if isinstance(i, CampaignDelivery)]
    trips, items = 1, len(records)
    coupon_keys = [(r.pk, keys.coupon_sk(str(r.coupon_code))) for r in records if r.coupon_code]
    redeemed: dict[str, datetime | None] = {}
    if coupon_keys:
        found = [c for c in BaseItem.batch_get(coupon_keys) if isinstance(c, Coupon)]
        trips, items = trips + 1, items + len(found)
        redeemed = {c.member_id: c.redeemed_at if c.status == "redeemed" else None for c in found}
    out = [Delivered(keys.member_id_of(r.pk), str(r.outcome), r.at, redeemed.get(keys.member_id_of(r.pk))) for r in records]
    return out, trips, items


def run_record(run_as_of: str, run_id: str) -> job_runs.RunRecord | None:
    """A campaign's run record (its send's or an outcomes count's), or None once it has expired."""
    try:
        return job_runs.read_run(RUN_JOB, run_as_of, run_id)
    except DoesNotExist:
        return None
