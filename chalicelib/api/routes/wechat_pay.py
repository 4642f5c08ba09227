"""WeChat Pay: a member's top-up order and its status; WeChat Pay's payment notifications
(docs/wechat-pay.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Request, Response

from ...domain.errors import UnsupportedMediaType, ValidationFailed
from ...lazy import lazy_module
from ..formats import is_json_media_type
from ..http import ApiBlueprint, answer_response, json_response, parse_body
from .members import member_route

if TYPE_CHECKING:
    from ...usecases import wechat_pay
    from ...usecases.sessions import MemberSession
    from ..schemas import wechat_pay as schemas_wechat_pay
else:
    schemas_wechat_pay = lazy_module("chalicelib.api.schemas.wechat_pay")
    wechat_pay = lazy_module("chalicelib.usecases.wechat_pay")

bp = ApiBlueprint(__name__)


@member_route(bp, "/v1/me/wallet/wechat-topups", "POST")
def create_wechat_topup(session: MemberSession) -> Response:
    request = parse_body(bp.current_request, schemas_wechat_pay.WeChatTopupRequest)
    return answer_response(wechat_pay.create_topup_order(session, request))


@member_route(bp, "/v1/me/wallet/wechat-topups/{out_trade_no}", "GET")
def wechat_topup_status(session: MemberSession, out_trade_no: str) -> Response:
    # The session is admitted before the id is looked at: a signed-out token is 401 whatever the id.
    return json_response(wechat_pay.topup_order_status(session, out_trade_no))


@bp.route("/v1/wechat-pay/notifications", methods=["POST"])
def wechat_pay_notification() -> Response:
    """No caller authentication: the notification is believed only for WeChat Pay's signature.
    2xx tells WeChat Pay it was handled; any other answer makes it send the notification again."""
    wechat_pay.payment_notification(*notification(bp.current_request))
    return handled()


def notification(request: Request) -> tuple[dict[str, str], str]:
    """A WeChat Pay notification as the use cases verify it: its headers (lower-case names) and its
    body exactly as sent (the signature covers those bytes)."""
    if not is_json_media_type(request.headers.get("content-type")):
        raise UnsupportedMediaType("WeChat Pay notifications are JSON")
    raw = request.raw_body or b""
    try:
        body = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise ValidationFailed.single("body", "not UTF-8") from None
    return {name.lower(): value for name, value in request.headers.items()}, body


def handled() -> Response:
    """2xx: WeChat Pay sends the notification no more."""
    return Response(body="", status_code=204, headers={"Cache-Control": "no-store"})
