"""Paid membership (付费会员): a till records a plan it sold, or a member buys one from the wallet;
refunds within the plan's window (usecases/plans.py, docs/plans.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from ...lazy import lazy_module
from ..http import ApiBlueprint, answer_response, idempotency_key, parse_body, path_id
from .members import member_route
from .merchants import merchant_of

if TYPE_CHECKING:
    from ...usecases import plans
    from ...usecases.sessions import MemberSession
    from ..schemas import plans as schemas_plans
else:
    schemas_plans = lazy_module("chalicelib.api.schemas.plans")
    plans = lazy_module("chalicelib.usecases.plans")

bp = ApiBlueprint(__name__)


@bp.route("/v1/memberships", methods=["POST"])
def till_membership() -> Response:
    request = bp.current_request
    merchant = merchant_of(request)
    return answer_response(plans.buy_plan_at_till(parse_body(request, schemas_plans.TillMembershipRequest), merchant))


@bp.route("/v1/memberships/{membership_id}/refunds", methods=["POST"])
def till_membership_refund(membership_id: str) -> Response:
    request = bp.current_request
    merchant = merchant_of(request)
    membership = path_id(membership_id, "membership_id")
    return answer_response(plans.refund_membership_at_till(membership, parse_body(request, schemas_plans.MembershipRefundRequest), merchant))


@member_route(bp, "/v1/me/memberships", "POST")
def my_membership(session: MemberSession) -> Response:
    request = bp.current_request
    key = idempotency_key(request)
    body = parse_body(request, schemas_plans.WalletMembershipRequest)
    return answer_response(plans.buy_plan_from_wallet(session, key, body.plan_id))


@member_route(bp, "/v1/me/memberships/{membership_id}/refunds", "POST")
def my_membership_refund(session: MemberSession, membership_id: str) -> Response:
    request = bp.current_request
    key = idempotency_key(request)
    return answer_response(plans.refund_membership_to_wallet(session, path_id(membership_id, "membership_id"), key))
