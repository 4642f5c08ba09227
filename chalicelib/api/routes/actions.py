"""Points for actions other than purchases (docs/actions.md).

| caller   | routes                                           |
|----------|--------------------------------------------------|
| merchant | POST /v1/actions (x-api-key): a review, a share... |
| member   | POST /v1/me/check-ins, GET /v1/me/check-ins      |
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from ...lazy import lazy_module
from ..http import ApiBlueprint, answer_response, json_response, parse_body
from .members import member_route
from .merchants import merchant_of

if TYPE_CHECKING:
    from ...usecases import actions
    from ...usecases.sessions import MemberSession
    from ..schemas import actions as schemas
else:
    schemas = lazy_module("chalicelib.api.schemas.actions")
    actions = lazy_module("chalicelib.usecases.actions")

bp = ApiBlueprint(__name__)


@bp.route("/v1/actions", methods=["POST"])
def report_action() -> Response:
    request = bp.current_request
    merchant = merchant_of(request)
    return answer_response(actions.record_action(parse_body(request, schemas.ActionRequest), merchant))


@member_route(bp, "/v1/me/check-ins", "POST")
def check_in(session: MemberSession) -> Response:
    return answer_response(actions.check_in_today(session))


@member_route(bp, "/v1/me/check-ins", "GET")
def check_in_state(session: MemberSession) -> Response:
    return json_response(actions.check_in_state(session))
