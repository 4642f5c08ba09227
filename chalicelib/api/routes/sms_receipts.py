"""The SMS providers' delivery receipts (docs/sms-providers.md, "Delivery receipts"). No caller
authentication but the secret token in the URL the brand sets in the provider's console: neither
provider signs its callbacks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from ...lazy import lazy_module
from ..http import ApiBlueprint, json_response, parse_body

if TYPE_CHECKING:
    from ...usecases import sms_receipts
    from ..schemas import sms_receipts as schemas_sms_receipts
else:
    schemas_sms_receipts = lazy_module("chalicelib.api.schemas.sms_receipts")
    sms_receipts = lazy_module("chalicelib.usecases.sms_receipts")

bp = ApiBlueprint(__name__)


@bp.route("/v1/sms/receipts/tencent/{token}", methods=["POST"])
def tencent_sms_receipts(token: str) -> Response:
    reports = parse_body(bp.current_request, schemas_sms_receipts.TencentReports)
    return json_response(sms_receipts.tencent_receipts(token, reports))


@bp.route("/v1/sms/receipts/aliyun/{token}", methods=["POST"])
def aliyun_sms_receipts(token: str) -> Response:
    reports = parse_body(bp.current_request, schemas_sms_receipts.AliyunReports)
    return json_response(sms_receipts.aliyun_receipts(token, reports))
