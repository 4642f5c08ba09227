"""The member's own profile: PATCH /v1/me, phone and email changes, closure and data export.

As in members.py, the member id comes from the verified token only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from ...lazy import lazy_module
from ..http import ApiBlueprint, client_address, json_response, member_id_of, parse_body
from .members import member_token

if TYPE_CHECKING:
    from ...usecases import closure, contact_change, data_export, profile
    from ..schemas import profile as schemas
else:
    schemas = lazy_module("chalicelib.api.schemas.profile")
    closure = lazy_module("chalicelib.usecases.closure")
    contact_change = lazy_module("chalicelib.usecases.contact_change")
    data_export = lazy_module("chalicelib.usecases.data_export")
    profile = lazy_module("chalicelib.usecases.profile")

bp = ApiBlueprint(__name__)


@bp.route("/v1/me", methods=["PATCH"], authorizer=member_token)
def update_me() -> Response:
    patch = parse_body(bp.current_request, schemas.ProfilePatch)
    return json_response(profile.update_profile(member_id_of(bp.current_request), patch, client_address(bp.current_request)))


@bp.route("/v1/me/email/verify", methods=["POST"], authorizer=member_token)
def verify_email() -> Response:
    body = parse_body(bp.current_request, schemas.EmailVerifyRequest)
    return json_response(contact_change.verify_email(member_id_of(bp.current_request), body.code))


@bp.route("/v1/me/phone", methods=["POST"], authorizer=member_token)
def change_phone() -> Response:
    body = parse_body(bp.current_request, schemas.PhoneChangeRequest)
    return json_response(
        contact_change.request_phone_change(member_id_of(bp.current_request), body.phone, client_address(bp.current_request)), status=202
    )


@bp.route("/v1/me/phone/verify", methods=["POST"], authorizer=member_token)
def verify_phone() -> Response:
    body = parse_body(bp.current_request, schemas.PhoneVerifyRequest)
    return json_response(contact_change.verify_phone_change(member_id_of(bp.current_request), body.phone, body.code))


@bp.route("/v1/me", methods=["DELETE"], authorizer=member_token, content_types=["application/json", "text/plain"])
def close_me() -> Response:
    request = bp.current_request
    body = parse_body(request, schemas.ClosureRequest) if (request.raw_body or b"").strip() else schemas.ClosureRequest()
    return json_response(closure.close_my_membership(member_id_of(request), body.reason))


@bp.route("/v1/me/export", methods=["GET"], authorizer=member_token)
def export_me() -> Response:
    member_id = member_id_of(bp.current_request)
    return json_response(
        data_export.export_member_data(member_id),
        headers={"Content-Disposition": f'attachment; filename="member-data-{member_id}.json"'},
    )
