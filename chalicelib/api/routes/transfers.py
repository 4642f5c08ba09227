"""A member's points transfers (转赠) and push devices (usecases/transfers.py, usecases/devices.py;
docs/transfers.md, docs/push.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from ...lazy import lazy_module
from ..http import ApiBlueprint, answer_response, idempotency_key, parse_body
from .members import member_route

if TYPE_CHECKING:
    from ...usecases import transfers
    from ...usecases.sessions import MemberSession
    from ..schemas import transfers as schemas
else:
    schemas = lazy_module("chalicelib.api.schemas.transfers")
    transfers = lazy_module("chalicelib.usecases.transfers")

bp = ApiBlueprint(__name__)


@member_route(bp, "/v1/me/transfers", "POST")
def transfer(session: MemberSession) -> Response:
    request = bp.current_request
    key = idempotency_key(request)
    body = parse_body(request, schemas.TransferRequest)
    return answer_response(transfers.transfer_points(session, key, body.to_phone, body.points, body.note))
