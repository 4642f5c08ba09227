"""WeChat sign-in and the member's WeChat binding and subscriptions (usecases/wechat.py;
docs/wechat.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from ...lazy import lazy_module
from ..http import ApiBlueprint, json_response, parse_body, query_param
from .members import member_route

if TYPE_CHECKING:
    from ...usecases import wechat
    from ...usecases.sessions import MemberSession
    from ..schemas import wechat as schemas
else:
    schemas = lazy_module("chalicelib.api.schemas.wechat")
    wechat = lazy_module("chalicelib.usecases.wechat")

bp = ApiBlueprint(__name__)
NO_STORE = {"Cache-Control": "no-store"}


@bp.route("/v1/wechat/sessions", methods=["POST"])
def start_session() -> Response:
    request = parse_body(bp.current_request, schemas.WechatSessionRequest)
    outcome = wechat.start_session(request)
    body = outcome.body() if isinstance(outcome, wechat.PhoneRequired) else wechat.signed_in_body(outcome)
    return json_response(body, headers=NO_STORE)


@bp.route("/v1/wechat/bindings", methods=["POST"])
def bind() -> Response:
    request = parse_body(bp.current_request, schemas.WechatBindRequest)
    return json_response(wechat.signed_in_body(wechat.bind(request)), headers=NO_STORE)


@member_route(bp, "/v1/me/wechat", "GET")
def my_wechat(session: MemberSession) -> Response:
    return json_response(wechat.my_wechat(session), headers=NO_STORE)


@member_route(bp, "/v1/me/wechat", "DELETE")
def unbind(session: MemberSession) -> Response:
    app = query_param(bp.current_request, "app")
    return json_response(wechat.unbind_mine(session, wechat.app_or_error(app)), headers=NO_STORE)


@member_route(bp, "/v1/me/wechat/subscriptions", "POST")
def subscriptions(session: MemberSession) -> Response:
    request = parse_body(bp.current_request, schemas.WechatSubscriptionsRequest)
    return json_response(wechat.record_subscriptions(session, request), headers=NO_STORE)


@member_route(bp, "/v1/me/wechat/subscriptions", "DELETE")
def withdraw_subscriptions(session: MemberSession) -> Response:
    return json_response(wechat.withdraw_subscriptions(session), headers=NO_STORE)
