"""The member's own profile: PATCH /v1/me, phone and email changes, closure and data export.

As in members.py, the member id comes from the verified token only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from ...lazy import lazy_module
from ..http import ApiBlueprint, client_address, json_response, parse_body
from .members import member_route

if TYPE_CHECKING:
    from ...usecases import closure, contact_change, data_export, profile
    from ...usecases.sessions import MemberSession
    from ..schemas import profile as schemas
else:
    schemas = lazy_module("chalicelib.api.schemas.profile")
    closure = lazy_module("chalicelib.usecases.closure")
    contact_change = lazy_module("chalicelib.usecases.contact_change")
    data_export = lazy_module("chalicelib.usecases.data_export")
    profile = lazy_module("chalicelib.usecases.profile")

bp = ApiBlueprint(__name__)


@member_route(bp, "/v1/me", "PATCH")
def update_me(session: MemberSession) -> Response:
    patch = parse_body(bp.current_request, schemas.ProfilePatch)
    return json_response(profile.update_profile(session, patch, client_address(bp.current_request)))


@member_route(bp, "/v1/me/email/verify", "POST")
def verify_email(session: MemberSession) -> Response:
    body = parse_body(bp.current_request, schemas.EmailVerifyRequest)
    return json_response(contact_change.verify_email(session, body.code))


@member_route(bp, "/v1/me/phone", "POST")
def change_phone(session: MemberSession) -> Response:
    body = parse_body(bp.current_request, schemas.PhoneChangeRequest)
    return json_response(contact_change.request_phone_change(session, body.phone, client_address(bp.current_request)), status=202)


@member_route(bp, "/v1/me/phone/verify", "POST")
def verify_phone(session: MemberSession) -> Response:
    body = parse_body(bp.current_request, schemas.PhoneVerifyRequest)
    return json_response(contact_change.verify_phone_change(session, body.phone, body.code))


@member_route(bp, "/v1/me", "DELETE", content_types=["application/json", "text/plain"])
def close_me(session: MemberSession) -> Response:
    request = bp.current_request
    body = parse_body(request, schemas.ClosureRequest) if (request.raw_body or b"").strip() else schemas.ClosureRequest()
    return json_response(closure.close_my_membership(session, body.reason))


@member_route(bp, "/v1/me/export", "GET")
def export_me(session: MemberSession) -> Response:
    return json_response(
        data_export.export_member_data(session),
        headers={"Content-Disposition": f'attachment; filename="member-data-{session.member_id}.json"'},
    )
