"""Request bodies for scan-to-earn product codes: an operator's batch, a member's scan."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AfterValidator, Field, StrictInt, StringConstraints

from ...domain.product_codes import MAX_BATCH, MAX_TYPED, normalise_code
from .fields import WHOLE_NUMBER, Body, Identifier, Name

MAX_CODE_POINTS = 1_000_000
# A code as typed (openapi.yaml documents this pattern): 16 symbols of Crockford base32 in any case
# (I, L and O too: read as 1, 1 and 0), spaces, tabs and dashes anywhere.
CODE_TYPED = r"^[ \t-]*(?:[0-9A-TV-Za-tv-z][ \t-]*){16}$"


def _a_code(value: str) -> str:
    normalised = normalise_code(value)
    if normalised is None:
        raise ValueError("not a product code: 16 letters and digits (Crockford base32), dashes and spaces allowed")
    return normalised


class ProductCodeBatchRequest(Body):
    sku: Identifier
    name: Name
    points: Annotated[StrictInt, Field(ge=1, le=MAX_CODE_POINTS), WHOLE_NUMBER]
    count: Annotated[StrictInt, Field(ge=1, le=MAX_BATCH), WHOLE_NUMBER]
    expires_on: date | None = None


class ProductCodeScanRequest(Body):
    """`code` as scanned or typed; after validation, its 16 symbols (normalised)."""

    code: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TYPED, pattern=CODE_TYPED), AfterValidator(_a_code)]
