"""Operator request bodies (/v1/admin), validated with pydantic at the HTTP boundary.

As strict as the member and merchant bodies: points and stock must be JSON
integers, unknown fields are refused, reasons are plain one-line text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StrictBool, StrictInt, StringConstraints, model_validator

from .fields import WHOLE_NUMBER, Body, DocumentedName, Identifier, Name, PhoneText, _clean_name
from .merchants import PaymentMethod, PurchaseItem

# Why an operator did something: kept in the audit trail (never logged).
Reason = Annotated[str, StringConstraints(min_length=1, max_length=500), AfterValidator(_clean_name), DocumentedName]
TierId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
MAX_ADJUSTMENT = 10_000_000


class ReasonRequest(Body):
    """freeze, unfreeze, close, restore, and clearing a tier override."""

    reason: Reason


class SettleAnomalyRequest(Body):
    """A WeChat Pay anomaly put right by hand: how (the money went back through the merchant
    platform, was credited by an adjustment, or needed nothing), why, and the operator's own
    reference for it (a refund number, a ticket), if any."""

    resolution: Literal["refunded_by_hand", "credited_by_hand", "no_action"]
    reason: Reason
    reference: Identifier | None = None


class AdjustmentRequest(Body):
    adjustment_id: Identifier
    points: Annotated[StrictInt, Field(ge=-MAX_ADJUSTMENT, le=MAX_ADJUSTMENT), WHOLE_NUMBER]
    reason: Reason

    @model_validator(mode="after")
    def _not_zero(self) -> AdjustmentRequest:
        if self.points == 0:
            raise ValueError("points must not be zero")
        return self


class PhoneMoveRequest(Body):
    """An operator-assisted move to a new phone (a member without a confirmed email lost theirs)."""

    phone: PhoneText
    reason: Reason


class TierOverrideRequest(Body):
    tier: TierId
    reason: Reason


PointsCost = Annotated[StrictInt, Field(ge=1, le=10**9), WHOLE_NUMBER]
Stock = Annotated[StrictInt, Field(ge=0, le=10**9), WHOLE_NUMBER]
CouponDays = Annotated[StrictInt, Field(ge=1, le=3650), WHOLE_NUMBER]


class RewardCreateRequest(Body):
    reward_id: Identifier
    name: Name
    points_cost: PointsCost
    stock: Stock | None = None  # None: unlimited
    coupon_valid_days: CouponDays | None = None  # None: the rules' coupon_valid_days
    reason: Reason | None = None


class RewardUpdateRequest(Body):
    """Only the fields given change; `"stock": null` makes the stock unlimited,
    `"active": false` retires the reward (no longer listed or redeemable)."""

    name: Name | None = None
    points_cost: PointsCost | None = None
    stock: Stock | None = None
    active: StrictBool | None = None
    coupon_valid_days: CouponDays | None = None
    reason: Reason | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> RewardUpdateRequest:
        changes = self.changes()
        if not changes:
            raise ValueError("give at least one of name, points_cost, stock, active, coupon_valid_days")
        for field in ("name", "points_cost", "active"):
            if field in changes and changes[field] is None:
                raise ValueError(f"{field} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in ("name", "points_cost", "stock", "active", "coupon_valid_days") if f in self.model_fields_set}


class MerchantKeyRequest(Body):
    """A key for one store's tills (`scope: store`, the default), or for a head-office backend
    that acts for every store (`scope: brand`)."""

    store_id: Identifier
    scope: Literal["store", "brand"] = "store"
    reason: Reason | None = None


class OptionalReasonRequest(Body):
    reason: Reason | None = None


# A tag declared in the rules' member_tags (domain/tags.py).
OperatorTag = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]


class TagsChangeRequest(Body):
    """Tags to add and to remove (either may be empty, not both), and why."""

    add: Annotated[list[OperatorTag], Field(default_factory=list, max_length=50)]
    remove: Annotated[list[OperatorTag], Field(default_factory=list, max_length=50)]
    reason: Reason

    @model_validator(mode="after")
    def _some_change(self) -> TagsChangeRequest:
        if not self.add and not self.remove:
            raise ValueError("give tags to add or to remove")
        if set(self.add) & set(self.remove):
            raise ValueError("a tag cannot be both added and removed")
        return self


class RulesUpdateRequest(Body):
    """The whole rules document (as GET /v1/admin/rules returns it) and why."""

    rules: dict[str, Any]
    reason: Reason


class EarnPreviewRequest(Body):
    """A basket to judge without writing anything (POST /v1/admin/earn-preview): for a member
    (`member_id`: their tier, birthday, tags and limits so far) or for a `tier`."""

    amount: Annotated[StrictInt, Field(ge=1, le=10**12), WHOLE_NUMBER]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    items: Annotated[list[PurchaseItem], Field(min_length=1, max_length=200)] | None = None
    discount: Annotated[StrictInt, Field(ge=0, le=10**12), WHOLE_NUMBER] = 0
    store_id: Identifier | None = None
    channel: Literal["store", "online", "app"] | None = None
    payment_method: PaymentMethod | None = None
    member_id: Identifier | None = None
    tier: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")] | None = None
    at: datetime | None = Field(default=None, description="when (with a UTC offset); now if omitted")

    @model_validator(mode="after")
    def _member_or_tier(self) -> EarnPreviewRequest:
        if (self.member_id is None) == (self.tier is None):
            raise ValueError("give exactly one of member_id or tier")
        if self.at is not None and self.at.tzinfo is None:
            raise ValueError("at must include a UTC offset")
        if self.at is not None and not 2000 <= self.at.year <= 2100:
            raise ValueError("at must be between the years 2000 and 2100")
        if self.discount and not self.items:
            raise ValueError("an order discount needs items (amount is what was paid)")
        if self.items and len({i.sku for i in self.items}) != len(self.items):
            raise ValueError("items: one line per sku (add the quantities up)")
        return self
