"""Stored value (储值): merchant top-ups, payments and refunds; the member's wallet statement."""

from __future__ import annotations

from chalice import Response

from ..errors import ValidationFailed
from ..schemas import IDENTIFIER_PATTERN
from ..schemas_wallet import TopupRequest, WalletPaymentRequest, WalletRefundRequest
from ..usecases.merchants import authenticate_merchant
from ..usecases.wallet import WalletOutcome, pay, refund_payment, top_up, wallet_statement
from .http import ApiBlueprint, json_response, parse_body, query_cursor, query_limit
from .members import member_token

bp = ApiBlueprint(__name__)

# Set on an answer replayed from the stored record (same status and body as the first).
REPLAYED_HEADER = "Idempotent-Replayed"


def _answer(outcome: WalletOutcome) -> Response:
    return json_response(outcome.body, status=outcome.status, headers={REPLAYED_HEADER: "true"} if outcome.replayed else None)


@bp.route("/v1/wallet/topups", methods=["POST"])
def wallet_topup() -> Response:
    request = bp.current_request
    merchant = authenticate_merchant(request.headers.get("x-api-key"))
    return _answer(top_up(parse_body(request, TopupRequest), merchant))


@bp.route("/v1/wallet/payments", methods=["POST"])
def wallet_payment() -> Response:
    request = bp.current_request
    merchant = authenticate_merchant(request.headers.get("x-api-key"))
    return _answer(pay(parse_body(request, WalletPaymentRequest), merchant))


@bp.route("/v1/wallet/payments/{payment_id}/refunds", methods=["POST"])
def wallet_payment_refund(payment_id: str) -> Response:
    request = bp.current_request
    merchant = authenticate_merchant(request.headers.get("x-api-key"))
    if not IDENTIFIER_PATTERN.fullmatch(payment_id):
        raise ValidationFailed.single("payment_id", "not a payment id")
    return _answer(refund_payment(payment_id, parse_body(request, WalletRefundRequest), merchant))


@bp.route("/v1/me/wallet", methods=["GET"], authorizer=member_token)
def my_wallet() -> Response:
    request = bp.current_request
    principal = request.context["authorizer"]["principalId"]
    assert isinstance(principal, str)
    return json_response(wallet_statement(principal, query_limit(request), query_cursor(request)))
