"""Merchant routes (store tills, shop backends), authenticated by x-api-key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Request, Response

from ...lazy import lazy_module
from ..http import ApiBlueprint, answer_response, parse_body, path_id

if TYPE_CHECKING:
    from ...usecases import merchants, purchases
    from ...usecases.merchants import Merchant
    from ..schemas import merchants as schemas
else:
    schemas = lazy_module("chalicelib.api.schemas.merchants")
    merchants = lazy_module("chalicelib.usecases.merchants")
    purchases = lazy_module("chalicelib.usecases.purchases")

bp = ApiBlueprint(__name__)


def merchant_of(request: Request) -> Merchant:
    """The merchant whose key the request carries in `x-api-key` (401 without a valid, active one)."""
    return merchants.authenticate_merchant(request.headers.get("x-api-key"))


@bp.route("/v1/purchases", methods=["POST"])
def report_purchase() -> Response:
    request = bp.current_request
    merchant = merchant_of(request)
    return answer_response(purchases.record_purchase(parse_body(request, schemas.PurchaseRequest), merchant))


@bp.route("/v1/purchases/{order_id}/refunds", methods=["POST"])
def refund(order_id: str) -> Response:
    request = bp.current_request
    merchant = merchant_of(request)
    return answer_response(purchases.refund_purchase(path_id(order_id, "order_id"), parse_body(request, schemas.RefundRequest), merchant))
