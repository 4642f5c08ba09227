"""Signup, sign-in codes, verification. No account enumeration here."""

from __future__ import annotations

from chalice import Response

from ..schemas import CodeRequest, SignupRequest, VerifyRequest
from ..usecases import enrolment
from .http import ApiBlueprint, json_response, parse_body

bp = ApiBlueprint(__name__)


@bp.route("/v1/signup", methods=["POST"])
def signup() -> Response:
    request = parse_body(bp.current_request, SignupRequest)
    return json_response(enrolment.signup(request).body(), status=202)


@bp.route("/v1/auth/code", methods=["POST"])
def request_code() -> Response:
    request = parse_body(bp.current_request, CodeRequest)
    return json_response(enrolment.request_code(request).body(), status=202)


@bp.route("/v1/auth/verify", methods=["POST"])
def verify() -> Response:
    request = parse_body(bp.current_request, VerifyRequest)
    return json_response(enrolment.verify(request).body())
