"""Request bodies for operators' bulk grants and exports."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt, model_validator

from ...domain.bulk import MAX_GRANT_POINTS
from .fields import WHOLE_NUMBER, Body, Identifier
from .operators import Reason

MAX_LEDGER_DAYS = 366


class GrantBatchRequest(Body):
    """What a batch grants: `points` (each row's `points`, else `default_points`) or a `coupon`
    of a catalogue reward (each row's `coupon`, else `default_coupon`); and why (audited)."""

    kind: Literal["points", "coupon"]
    reason: Reason
    default_points: Annotated[StrictInt, Field(ge=1, le=MAX_GRANT_POINTS), WHOLE_NUMBER] | None = None
    default_coupon: Identifier | None = None

    @model_validator(mode="after")
    def _defaults_fit_the_kind(self) -> GrantBatchRequest:
        if self.kind == "points" and self.default_coupon is not None:
            raise ValueError("a points grant has no default_coupon")
        if self.kind == "coupon" and self.default_points is not None:
            raise ValueError("a coupon grant has no default_points")
        return self


class ExportRequest(Body):
    """`members` (all, or a segment's latest audience) or the `ledger` (entries from `from` to
    `to`, program-time days, inclusive, at most a year). Personal fields (phone, name, email,
    birthday) only with `include_personal: true`, which the audit trail records."""

    of: Literal["members", "ledger"]
    segment_id: Identifier | None = None
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None
    include_personal: StrictBool = False

    @model_validator(mode="after")
    def _fits_what_is_exported(self) -> ExportRequest:
        if self.of == "ledger":
            if self.segment_id is not None or self.include_personal:
                raise ValueError("a ledger export has no segment_id and no personal fields")
            if self.from_ is None or self.to is None:
                raise ValueError("a ledger export needs from and to (YYYY-MM-DD)")
            if self.to < self.from_:
                raise ValueError("to must not be before from")
            if (self.to - self.from_).days >= MAX_LEDGER_DAYS:
                raise ValueError(f"at most {MAX_LEDGER_DAYS} days at once")
        elif self.from_ is not None or self.to is not None:
            raise ValueError("a members export has no from or to")
        return self
