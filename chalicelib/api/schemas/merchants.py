"""The till's purchase and refund bodies (stored value: wallet.py; coupons at the till: engagement.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictInt, StringConstraints, model_validator

from .fields import WHOLE_NUMBER, Body, Identifier, PhoneText, _plausible_purchase_time


class PurchaseRequest(Body):
    order_id: Identifier
    phone: PhoneText | None = None
    member_id: Identifier | None = None
    amount: Annotated[StrictInt, Field(ge=1, le=10**12), WHOLE_NUMBER]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    store_id: Identifier | None = None
    occurred_at: Annotated[datetime, AfterValidator(_plausible_purchase_time)] | None = None
    channel: Literal["store", "online", "app"] | None = None

    @model_validator(mode="after")
    def _one_member_reference(self) -> PurchaseRequest:
        if (self.phone is None) == (self.member_id is None):
            raise ValueError("give exactly one of phone or member_id")
        return self


class RefundRequest(Body):
    refund_id: Identifier
    amount: Annotated[StrictInt, Field(ge=1, le=10**12), WHOLE_NUMBER]
