"""Stored value (储值): merchant top-ups, payments and refunds; the member's wallet statement."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from ...lazy import lazy_module
from ..http import ApiBlueprint, answer_response, json_response, parse_body, path_id, query_cursor, query_limit
from .members import member_route
from .merchants import merchant_of

if TYPE_CHECKING:
    from ...usecases import wallet
    from ...usecases.sessions import MemberSession
    from ..schemas import wallet as schemas_wallet
else:
    schemas_wallet = lazy_module("chalicelib.api.schemas.wallet")
    wallet = lazy_module("chalicelib.usecases.wallet")

bp = ApiBlueprint(__name__)


@bp.route("/v1/wallet/topups", methods=["POST"])
def wallet_topup() -> Response:
    request = bp.current_request
    merchant = merchant_of(request)
    return answer_response(wallet.top_up(parse_body(request, schemas_wallet.TopupRequest), merchant))


@bp.route("/v1/wallet/payments", methods=["POST"])
def wallet_payment() -> Response:
    request = bp.current_request
    merchant = merchant_of(request)
    return answer_response(wallet.pay(parse_body(request, schemas_wallet.WalletPaymentRequest), merchant))


@bp.route("/v1/wallet/payments/{payment_id}/refunds", methods=["POST"])
def wallet_payment_refund(payment_id: str) -> Response:
    request = bp.current_request
    merchant = merchant_of(request)
    payment = path_id(payment_id, "payment_id")
    return answer_response(wallet.refund_payment(payment, parse_body(request, schemas_wallet.WalletRefundRequest), merchant))


@member_route(bp, "/v1/me/wallet", "GET")
def my_wallet(session: MemberSession) -> Response:
    request = bp.current_request
    return json_response(wallet.wallet_statement(session, query_limit(request), query_cursor(request)))
