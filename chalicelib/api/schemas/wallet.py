"""Request bodies of the stored-value routes, validated at the HTTP boundary.

Amounts are JSON integers in minor units (no strings, floats or booleans);
unknown fields are refused; exactly one of `phone` or `member_id` names the
member.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt, StringConstraints, model_validator

from .fields import WHOLE_NUMBER, Body, Identifier, PhoneText

MAX_AMOUNT = 10**12
Amount = Annotated[StrictInt, Field(ge=1, le=MAX_AMOUNT), WHOLE_NUMBER]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class _ForOneMember(Body):
    phone: PhoneText | None = None
    member_id: Identifier | None = None

    @model_validator(mode="after")
    def _one_member_reference(self) -> _ForOneMember:
        if (self.phone is None) == (self.member_id is None):
            raise ValueError("give exactly one of phone or member_id")
        return self


class TopupRequest(_ForOneMember):
    topup_id: Identifier
    amount: Amount
    currency: Currency
    store_id: Identifier | None = None


class WalletPaymentRequest(_ForOneMember):
    payment_id: Identifier
    amount: Amount
    currency: Currency
    store_id: Identifier | None = None


class WalletRefundRequest(Body):
    refund_id: Identifier
    amount: Amount
