"""Request bodies and query values for coupons and feedback, validated at the HTTP boundary."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, StringConstraints

from .schemas import Body, Identifier, clean_text

FEEDBACK_TEXT_MAX = 2000

FEEDBACK_CATEGORIES = ("product", "service", "store", "app", "points", "other")
FeedbackCategory = Literal["product", "service", "store", "app", "points", "other"]
FEEDBACK_STATUSES = ("open", "answered")
COUPON_STATUSES = ("available", "redeemed", "expired", "revoked")


def _clean_text(value: str) -> str:
    return clean_text(value, multiline=True)


Text = Annotated[str, StringConstraints(min_length=1, max_length=FEEDBACK_TEXT_MAX), AfterValidator(_clean_text)]


class CouponRedemptionRequest(Body):
    redemption_id: Identifier
    store_id: Identifier | None = None


class FeedbackRequest(Body):
    category: FeedbackCategory
    text: Text
    order_id: Identifier | None = None


class FeedbackAnswerRequest(Body):
    text: Text


_COUPON_CODE = re.compile(r"[A-Z0-9]{4,32}")
_FEEDBACK_ID = re.compile(r"fb_[0-9]{13}[0-9a-f]{8}")


def normalise_coupon_code(raw: str) -> str | None:
    """As printed or typed: case, spaces and dashes do not matter. None if it cannot be a code."""
    code = re.sub(r"[\s-]", "", raw or "").upper()
    return code if _COUPON_CODE.fullmatch(code) else None


def is_feedback_id(value: str) -> bool:
    return bool(_FEEDBACK_ID.fullmatch(value or ""))
