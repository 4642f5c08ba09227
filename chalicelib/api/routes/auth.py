"""Signup, sign-in codes, verification. No account enumeration here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from ...lazy import lazy_module
from ..http import ApiBlueprint, client_address, json_response, parse_body

if TYPE_CHECKING:
    from ...usecases import enrolment
    from ..schemas import members as schemas
else:
    schemas = lazy_module("chalicelib.api.schemas.members")
    enrolment = lazy_module("chalicelib.usecases.enrolment")

bp = ApiBlueprint(__name__)


@bp.route("/v1/signup", methods=["POST"])
def signup() -> Response:
    request = parse_body(bp.current_request, schemas.SignupRequest)
    return json_response(enrolment.signup(request, client_address(bp.current_request)).body(), status=202)


@bp.route("/v1/auth/code", methods=["POST"])
def request_code() -> Response:
    request = parse_body(bp.current_request, schemas.CodeRequest)
    return json_response(enrolment.request_code(request, client_address(bp.current_request)).body(), status=202)


@bp.route("/v1/auth/verify", methods=["POST"])
def verify() -> Response:
    request = parse_body(bp.current_request, schemas.VerifyRequest)
    return json_response(enrolment.verify(request).body())
