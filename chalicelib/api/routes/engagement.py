"""Referrals, coupons, promotions (the program summary) and feedback.

| caller   | routes                                                              |
|----------|---------------------------------------------------------------------|
| anyone   | GET /v1/program                                                     |
| member   | GET /v1/me/coupons, POST and GET /v1/me/feedback                     |
| merchant | POST /v1/coupons/{code}/redemptions (x-api-key)                     |
| operator | GET /v1/admin/feedback, POST /v1/admin/feedback/{feedback_id}/answer |

Operator routes are authorised as admin.py's are: IAM (SigV4) when
deployed, open in the local stage only (and marked so in every response).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import unquote

from chalice.app import Response

from ...domain.errors import NotFound, ValidationFailed
from ...lazy import lazy_module
from ..http import (
    ApiBlueprint,
    answer_response,
    json_response,
    optional_idempotency_key,
    parse_body,
    query_choice,
    query_cursor,
    query_limit,
)
from . import admin
from .members import member_route
from .merchants import merchant_of

if TYPE_CHECKING:
    from ...usecases import coupons, feedback, program
    from ...usecases.sessions import MemberSession
    from ..schemas import engagement as schemas
else:
    schemas = lazy_module("chalicelib.api.schemas.engagement")
    coupons = lazy_module("chalicelib.usecases.coupons")
    feedback = lazy_module("chalicelib.usecases.feedback")
    program = lazy_module("chalicelib.usecases.program")

bp = ApiBlueprint(__name__)


# --- the program -----------------------------------------------------------------------


@bp.route("/v1/program", methods=["GET"])
def program_summary() -> Response:
    response = json_response(program.current_program())
    response.headers["Cache-Control"] = "public, max-age=60"  # the rules themselves are cached that long
    return response


# --- coupons ---------------------------------------------------------------------------


@member_route(bp, "/v1/me/coupons", "GET")
def my_coupons(session: MemberSession) -> Response:
    request = bp.current_request
    status = query_choice(request, "status", schemas.COUPON_STATUSES)
    return json_response(coupons.member_coupons(session, query_limit(request), query_cursor(request), status))


@bp.route("/v1/coupons/{code}/redemptions", methods=["POST"])
def redeem_at_till(code: str) -> Response:
    request = bp.current_request
    merchant = merchant_of(request)
    normalised = schemas.normalise_coupon_code(unquote(code))
    if normalised is None:
        raise ValidationFailed.single("code", "not a coupon code")
    return answer_response(coupons.redeem_coupon(normalised, parse_body(request, schemas.CouponRedemptionRequest), merchant))


# --- feedback --------------------------------------------------------------------------


@member_route(bp, "/v1/me/feedback", "POST")
def give_feedback(session: MemberSession) -> Response:
    request = bp.current_request
    body = parse_body(request, schemas.FeedbackRequest)
    return answer_response(feedback.submit_feedback(session, body, optional_idempotency_key(request)))


@member_route(bp, "/v1/me/feedback", "GET")
def my_feedback(session: MemberSession) -> Response:
    request = bp.current_request
    return json_response(feedback.member_feedback(session, query_limit(request), query_cursor(request)))


def _operator_route(path: str, method: str) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    return admin.operator_route(bp, path, method)


def _actor() -> str:
    return admin.actor_of(bp.current_request)


@_operator_route("/v1/admin/feedback", "GET")
def feedback_for_operators() -> Response:
    request = bp.current_request
    status = query_choice(request, "status", schemas.FEEDBACK_STATUSES, "open")
    assert status is not None
    return json_response(feedback.feedback_queue(status, query_limit(request), query_cursor(request)))


@_operator_route("/v1/admin/feedback/{feedback_id}/answer", "POST")
def answer(feedback_id: str) -> Response:
    request = bp.current_request
    if not schemas.is_feedback_id(feedback_id):
        raise NotFound(f"No feedback {feedback_id[:40]}")
    body = parse_body(request, schemas.FeedbackAnswerRequest)
    return answer_response(feedback.answer_feedback(feedback_id, body.text, _actor()))
