"""WeChat Pay for operators and WeChat Pay's refund notifications (docs/wechat-pay.md): an
operator refunds a paid top-up; WeChat Pay tells us how the refund ended; operators list the
payment anomalies and mark them settled."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from ...lazy import lazy_module
from ..http import ApiBlueprint, answer_response, idempotency_key, json_response, parse_body, query_choice, query_cursor, query_limit
from . import admin
from .wechat_pay import handled, notification

if TYPE_CHECKING:
    from ...usecases import wechat_pay_refunds
    from ...usecases.operations import wechat_pay_anomalies
    from ..schemas import operators as schemas_admin
else:
    schemas_admin = lazy_module("chalicelib.api.schemas.operators")
    wechat_pay_refunds = lazy_module("chalicelib.usecases.wechat_pay_refunds")
    wechat_pay_anomalies = lazy_module("chalicelib.usecases.operations.wechat_pay_anomalies")

bp = ApiBlueprint(__name__)


@admin.operator_route(bp, "/v1/admin/wechat-pay/topups/{out_trade_no}/refunds", "POST")
def refund_wechat_topup(out_trade_no: str) -> Response:
    request = bp.current_request
    key = idempotency_key(request)
    body = parse_body(request, schemas_admin.ReasonRequest)
    return answer_response(wechat_pay_refunds.refund_topup(out_trade_no, key, body, admin.actor_of(request)))


@admin.operator_route(bp, "/v1/admin/wechat-pay/anomalies", "GET")
def list_wechat_pay_anomalies() -> Response:
    request = bp.current_request
    status = query_choice(request, "status", ("open", "settled"))
    return json_response(wechat_pay_anomalies.list_anomalies(query_limit(request), query_cursor(request), status))


@admin.operator_route(bp, "/v1/admin/wechat-pay/anomalies/{anomaly_id}/settle", "POST")
def settle_wechat_pay_anomaly(anomaly_id: str) -> Response:
    request = bp.current_request
    body = parse_body(request, schemas_admin.SettleAnomalyRequest)
    return json_response(wechat_pay_anomalies.settle_anomaly(anomaly_id, body, admin.actor_of(request)))


@bp.route("/v1/wechat-pay/refund-notifications", methods=["POST"])
def wechat_pay_refund_notification() -> Response:
    """No caller authentication: believed only for WeChat Pay's signature (as payment notifications)."""
    wechat_pay_refunds.refund_notification(*notification(bp.current_request))
    return handled()
