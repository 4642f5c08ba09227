"""The till's purchase and refund bodies (stored value: wallet.py; coupons at the till: engagement.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictInt, StringConstraints, model_validator

from .fields import WHOLE_NUMBER, Body, Identifier, PhoneText, _plausible_purchase_time

CHANNELS = ("store", "online", "app")
PaymentMethod = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Minor = Annotated[StrictInt, Field(ge=0, le=10**12), WHOLE_NUMBER]


class PurchaseItem(Body):
    """One line: `amount` is the line's total before its own `discount` (minor units)."""

    sku: Identifier
    category: Identifier | None = None
    quantity: Annotated[StrictInt, Field(ge=1, le=1_000_000), WHOLE_NUMBER]
    amount: Minor
    discount: Minor = 0

    @model_validator(mode="after")
    def _discount_within_amount(self) -> PurchaseItem:
        if self.discount > self.amount:
            raise ValueError("discount must not exceed the line amount")
        return self


class PurchaseRequest(Body):
    order_id: Identifier
    phone: PhoneText | None = None
    member_id: Identifier | None = None
    amount: Annotated[StrictInt, Field(ge=1, le=10**12), WHOLE_NUMBER]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    store_id: Identifier | None = None
    occurred_at: Annotated[datetime, AfterValidator(_plausible_purchase_time)] | None = None
    # Purchase detail (issue 14): sum(item amount - item discount) - discount == amount.
    items: Annotated[list[PurchaseItem], Field(min_length=1, max_length=200)] | None = None
    discount: Minor = 0  # an order-level discount, spread over the lines by their amounts
    channel: Literal["store", "online", "app"] | None = None
    payment_method: PaymentMethod | None = None

    @model_validator(mode="after")
    def _one_member_reference(self) -> PurchaseRequest:
        if (self.phone is None) == (self.member_id is None):
            raise ValueError("give exactly one of phone or member_id")
        if self.discount and not self.items:
            raise ValueError("an order discount needs items (amount is what was paid)")
        if self.items and len({i.sku for i in self.items}) != len(self.items):
            raise ValueError("items: one line per sku (add the quantities up)")
        return self

    @property
    def detailed(self) -> bool:
        """Reported in the detailed form (items, channel or payment method): answered with a breakdown."""
        return bool(self.items or self.channel or self.payment_method)


class RefundItem(Body):
    sku: Identifier
    quantity: Annotated[StrictInt, Field(ge=1, le=1_000_000), WHOLE_NUMBER]


class RefundRequest(Body):
    """`amount`, or `items` of the purchase (their amount is then worked out; an `amount` given
    with them must match it)."""

    refund_id: Identifier
    amount: Annotated[StrictInt, Field(ge=1, le=10**12), WHOLE_NUMBER] | None = None
    items: Annotated[list[RefundItem], Field(min_length=1, max_length=200)] | None = None

    @model_validator(mode="after")
    def _amount_or_items(self) -> RefundRequest:
        if self.amount is None and not self.items:
            raise ValueError("give amount, items, or both")
        if self.items and len({i.sku for i in self.items}) != len(self.items):
            raise ValueError("items: one line per sku")
        return self
