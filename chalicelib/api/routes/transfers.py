"""A member's points transfers (转赠) and push devices (usecases/transfers.py, usecases/devices.py;
docs/transfers.md, docs/push.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from ...lazy import lazy_module
from ..http import ApiBlueprint, answer_response, idempotency_key, json_response, parse_body, path_id
from .members import member_route

if TYPE_CHECKING:
    from ...usecases import devices, transfers
    from ...usecases.sessions import MemberSession
    from ..schemas import transfers as schemas
else:
    schemas = lazy_module("chalicelib.api.schemas.transfers")
    transfers = lazy_module("chalicelib.usecases.transfers")
    devices = lazy_module("chalicelib.usecases.devices")

bp = ApiBlueprint(__name__)


@member_route(bp, "/v1/me/transfers", "POST")
def transfer(session: MemberSession) -> Response:
    request = bp.current_request
    key = idempotency_key(request)
    body = parse_body(request, schemas.TransferRequest)
    return answer_response(transfers.transfer_points(session, key, body.to_phone, body.points, body.note))


@member_route(bp, "/v1/me/transfers/allowance", "GET")
def transfer_allowance(session: MemberSession) -> Response:
    return json_response(transfers.transfer_allowance(session))


@member_route(bp, "/v1/me/devices", "POST")
def register_device(session: MemberSession) -> Response:
    body = parse_body(bp.current_request, schemas.DeviceRequest)
    return answer_response(devices.register_device(session, body.platform, body.token, body.app_version))


@member_route(bp, "/v1/me/devices/{device_id}", "DELETE")
def remove_device(session: MemberSession, device_id: str) -> Response:
    devices.remove_device(session, path_id(device_id, "device_id"))
    return Response(body="", status_code=204, headers={"Cache-Control": "no-store"})
