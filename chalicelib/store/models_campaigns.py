"""PynamoDB models for campaigns (imported by models.py so their discriminators are registered).
Key formats are in `keys.py`; what they keep and why in store/campaigns.py."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute, UTCDateTimeAttribute

from .models import BaseItem


class Campaign(BaseItem, discriminator="Campaign"):
    """`CAMPAIGNS` / `CAMPAIGN#<campaign_id>`: what a campaign does, to which segment, when, and
    where it stands (`scheduled` -> `running`, or `cancelled`; `scheduled` -> `failed` when its
    segment stayed without a usable audience too long past `send_at`). Its results are counted on
    its run's record (JobRun `JOBRUN#campaigns#<run_as_of>` / `RUN#<campaign_id>`), once per unit."""

    campaign_id = UnicodeAttribute()
    name = UnicodeAttribute()
    segment_id = UnicodeAttribute()
    status = UnicodeAttribute()
    message = MapAttribute[str, Any](null=True)  # text by channel: sms, email, push
    points = NumberAttribute(default=0)
    coupon_reward_id = UnicodeAttribute(null=True)
    holdout_percent = NumberAttribute(default=0)
    results_window_days = NumberAttribute(default=14)
    send_at = UTCDateTimeAttribute()
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()
    launched_at = UTCDateTimeAttribute(null=True)
    run_as_of = UnicodeAttribute(null=True)  # the day its run record is kept under
    audience_id = UnicodeAttribute(null=True)
    data_as_of = UTCDateTimeAttribute(null=True)
    audience_count = NumberAttribute(null=True)
    units_planned = NumberAttribute(null=True)
    cancelled_at = UTCDateTimeAttribute(null=True)
    cancelled_by = UnicodeAttribute(null=True)
    outcomes_run_as_of = UnicodeAttribute(null=True)  # the latest outcomes count an operator asked for
    outcomes_run_id = UnicodeAttribute(null=True)
    outcomes_requested_at = UTCDateTimeAttribute(null=True)
    # `invite` (domain/campaigns.py): to pending imported members, paced at members_per_minute.
    kind = UnicodeAttribute(null=True)  # absent: marketing
    members_per_minute = NumberAttribute(null=True)
    # Due but not started: why (a problem code, e.g. segment_computing) and since when.
    waiting_reason = UnicodeAttribute(null=True)
    waiting_since = UTCDateTimeAttribute(null=True)
    failure = UnicodeAttribute(null=True)  # `failed`: why it never started (no personal data)
    failed_at = UTCDateTimeAttribute(null=True)


class CampaignDue(BaseItem, discriminator="CampaignDue"):
    """`CAMPAIGNDUE` / `<send_at, UTC ISO>#<campaign_id>`: a campaign waiting to start. Deleted once
    its units are queued: the `campaigns` job reads the entries due by now (one query)."""

    campaign_id = UnicodeAttribute()


class CampaignDelivery(BaseItem, discriminator="CampaignDelivery"):
    """`MEMBER#<member_id>` / `CAMPAIGN#<campaign_id>`: what one member got from one campaign.
    Put only if absent, in the transaction that grants it: a member is reached once per campaign
    whatever reruns, redeliveries or concurrent workers do."""

    campaign_id = UnicodeAttribute()
    outcome = UnicodeAttribute()  # sent | deferred | granted | control | skipped
    reason = UnicodeAttribute(null=True)
    channel = UnicodeAttribute(null=True)
    points = NumberAttribute(default=0)
    coupon = NumberAttribute(default=0)
    coupon_code = UnicodeAttribute(null=True)  # the coupon issued (its own item keeps it too), for the outcomes
    # A message sent after the commit: `pending` until its channel took it (`accepted`) or refused
    # it (`refused`, the outcome then says what the member got): `campaign.sent` waits for it. A
    # record nobody can settle so any more (its worker stopped between the send and the note) is
    # settled `unknown` (outcome `unconfirmed`): `campaign.delivery_unknown`.
    handover = UnicodeAttribute(null=True)
    at = UTCDateTimeAttribute()


class HandoverNote(BaseItem, discriminator="HandoverNote"):
    """`HANDOVERS` / `<written_at>#<campaign_id>#<token>`: a batch of a campaign's members whose
    delivery records one worker may leave `pending`. Put before the first such record, deleted
    once they are all settled; one a worker left behind (it stopped) is found by the sweep."""

    campaign_id = UnicodeAttribute()
    members = UnicodeSetAttribute()
    # Those whose message its channel took but whose records could not be marked (the table was
    # too busy): the sweep marks them `accepted`, not `unknown`.
    accepted = UnicodeSetAttribute(null=True)
    written_at = UTCDateTimeAttribute()
