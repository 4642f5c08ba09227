"""Merchant routes (store tills, shop backends), authenticated by x-api-key."""

from __future__ import annotations

from chalice import Response

from ..errors import ValidationFailed
from ..schemas import IDENTIFIER_PATTERN, PurchaseRequest, RefundRequest
from ..usecases.merchants import authenticate_merchant
from ..usecases.purchases import record_purchase, refund_purchase
from .http import ApiBlueprint, json_response, parse_body

bp = ApiBlueprint(__name__)


@bp.route("/v1/purchases", methods=["POST"])
def report_purchase() -> Response:
    request = bp.current_request
    merchant = authenticate_merchant(request.headers.get("x-api-key"))
    outcome = record_purchase(parse_body(request, PurchaseRequest), merchant)
    return json_response(outcome.body, status=outcome.status)


@bp.route("/v1/purchases/{order_id}/refunds", methods=["POST"])
def refund(order_id: str) -> Response:
    request = bp.current_request
    merchant = authenticate_merchant(request.headers.get("x-api-key"))
    if not IDENTIFIER_PATTERN.fullmatch(order_id):
        raise ValidationFailed.single("order_id", "not an order id")
    outcome = refund_purchase(order_id, parse_body(request, RefundRequest), merchant)
    return json_response(outcome.body, status=outcome.status)
