"""Request bodies of the paid membership routes (usecases/plans.py). The fee is never in a body:
it is the plan's, from the program rules, and the answer says what was charged."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from .fields import Body, Identifier

PlanId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


class TillMembershipRequest(Body):
    """The till took the plan's fee (cash, card...) and records the plan for the member."""

    payment_id: Identifier
    member_id: Identifier
    plan_id: PlanId
    store_id: Identifier | None = None


class WalletMembershipRequest(Body):
    """The member buys a plan from their stored-value wallet (the Idempotency-Key header keys it)."""

    plan_id: PlanId


class MembershipRefundRequest(Body):
    refund_id: Identifier
