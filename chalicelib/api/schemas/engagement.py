"""Request bodies and query values for coupons and feedback, validated at the HTTP boundary."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, StringConstraints

from .fields import Body, DocumentedText, Identifier, clean_multiline

FEEDBACK_TEXT_MAX = 2000

FEEDBACK_CATEGORIES = ("product", "service", "store", "app", "points", "other")
FeedbackCategory = Literal["product", "service", "store", "app", "points", "other"]
FEEDBACK_STATUSES = ("open", "answered")
COUPON_STATUSES = ("available", "redeemed", "expired", "revoked")


Text = Annotated[str, StringConstraints(min_length=1, max_length=FEEDBACK_TEXT_MAX), AfterValidator(clean_multiline), DocumentedText]


class CouponRedemptionRequest(Body):
    redemption_id: Identifier
    store_id: Identifier | None = None


class FeedbackRequest(Body):
    category: FeedbackCategory
    text: Text
    order_id: Identifier | None = None


class FeedbackAnswerRequest(Body):
    text: Text


# A coupon code as printed or typed: 4 to 32 ASCII letters and digits, any case, spaces or dashes
# anywhere (openapi.yaml documents this pattern and the length).
COUPON_CODE_TYPED = r"^[ -]*(?:[A-Za-z0-9][ -]*){4,32}$"
COUPON_CODE_MAX_TYPED = 64
_COUPON_CODE_TYPED = re.compile(COUPON_CODE_TYPED)
_FEEDBACK_ID = re.compile(r"fb_[0-9]{13}[0-9a-f]{8}")


def normalise_coupon_code(raw: str) -> str | None:
    """As printed or typed: case, spaces and dashes do not matter. None if it cannot be a code."""
    if not raw or len(raw) > COUPON_CODE_MAX_TYPED or not _COUPON_CODE_TYPED.fullmatch(raw):
        return None
    return raw.replace(" ", "").replace("-", "").upper()


def is_feedback_id(value: str) -> bool:
    return bool(_FEEDBACK_ID.fullmatch(value or ""))
