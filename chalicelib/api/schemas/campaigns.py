"""Request bodies for campaigns to a segment (usecases/campaigns.py)."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import AfterValidator, AwareDatetime, Field, StrictBool, StrictInt, StringConstraints, model_validator

from .fields import WHOLE_NUMBER, Body, DocumentedText, Identifier, Name, clean_multiline

MESSAGE_TEXT_MAX = 500
MAX_CAMPAIGN_POINTS = 100_000
MAX_HOLDOUT_PERCENT = 50
MAX_RESULTS_WINDOW_DAYS = 90
MAX_MEMBERS_PER_MINUTE = 10_000
DEFAULT_INVITES_PER_MINUTE = 100


MessageText = Annotated[str, StringConstraints(min_length=1, max_length=MESSAGE_TEXT_MAX), AfterValidator(clean_multiline), DocumentedText]


class CampaignMessage(Body):
    """The text for each channel the campaign may use; each member gets it on the first channel
    they consented to among these (push, then SMS, then email)."""

    sms: MessageText | None = None
    email: MessageText | None = None
    push: MessageText | None = None

    @model_validator(mode="after")
    def _some_channel(self) -> Self:
        if not (self.sms or self.email or self.push):
            raise ValueError("give the text for at least one channel: sms, email or push")
        return self

    def by_channel(self) -> dict[str, str]:
        return {channel: text for channel, text in (("push", self.push), ("sms", self.sms), ("email", self.email)) if text}


class CampaignRequest(Body):
    name: Name
    segment_id: Identifier
    message: CampaignMessage | None = None
    points: Annotated[StrictInt, Field(ge=1, le=MAX_CAMPAIGN_POINTS), WHOLE_NUMBER] | None = None
    coupon_reward_id: Identifier | None = None
    send_at: AwareDatetime | None = None
    holdout_percent: Annotated[StrictInt, Field(ge=0, le=MAX_HOLDOUT_PERCENT), WHOLE_NUMBER] = 0
    results_window_days: Annotated[StrictInt, Field(ge=1, le=MAX_RESULTS_WINDOW_DAYS), WHOLE_NUMBER] = 14
    dry_run: StrictBool = False
    # `invite`: an invitation to pending imported members who have not proven their phone, by SMS,
    # a transactional message (no marketing consent needed; the frequency cap and quiet hours
    # apply), at most `members_per_minute` members a minute (domain/campaigns.py).
    kind: Literal["marketing", "invite"] = "marketing"
    members_per_minute: Annotated[StrictInt, Field(ge=1, le=MAX_MEMBERS_PER_MINUTE), WHOLE_NUMBER] | None = None

    @model_validator(mode="after")
    def _does_something(self) -> Self:
        if self.message is None and self.points is None and self.coupon_reward_id is None:
            raise ValueError("a campaign sends a message, grants points or issues a coupon: give at least one")
        if self.kind == "invite":
            if self.message is None or not self.message.sms or self.message.email or self.message.push:
                raise ValueError("an invitation is a message by SMS only (the phone is what the member proves): give message.sms alone")
            if self.points is not None or self.coupon_reward_id is not None:
                raise ValueError("an invitation only invites: points and coupons are not for pending members")
        elif self.members_per_minute is not None:
            raise ValueError("members_per_minute paces invitations (kind: invite) only")
        return self

    def invite_rate(self) -> int | None:
        return (self.members_per_minute or DEFAULT_INVITES_PER_MINUTE) if self.kind == "invite" else None
