"""SMS delivery receipts from the template providers (docs/sms-providers.md, "Delivery receipts").

When Alibaba Cloud or Tencent Cloud accepts an SMS, its message id (Alibaba `BizId`, Tencent
`SerialNo`) is kept with the kind and a keyed digest of the phone (never the phone). The provider
later posts what the carrier reported: Tencent's status callback (a JSON array of
`{"mobile", "report_status": "SUCCESS"|"FAIL", "errmsg", "sid", ...}`) and Alibaba's SmsReport
HTTP push (a JSON array of `{"phone_number", "success", "err_code", "biz_id", ...}`). Neither signs
its callback, so the callback URL carries a secret token (the `receipt_token` of the provider's
credentials secret), compared in constant time. Each message's receipt is recorded once
(delivered, or failed with the provider's error code) and counted (`SmsDelivered`,
`SmsDeliveryFailed`, the stage's one provider); a replay changes nothing, an unknown id writes
nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..domain.clock import utcnow
from ..domain.errors import NotFound, Unauthorized
from ..observability import count, logger
from ..settings import get_settings
from ..store import sms_sends
from ..store.parameters import fingerprint_key

if TYPE_CHECKING:
    from ..api.schemas.sms_receipts import AliyunReports, TencentReports
    from ..notify.sender import Message


def record_send(provider: str, message_id: str, message: Message) -> None:
    """The provider accepted `message` under `message_id`: keep it for the receipt."""
    digest = hmac.new(fingerprint_key(), f"sms-phone:{message.to}".encode(), hashlib.sha256).hexdigest()
    sms_sends.record_send(provider, message_id, message.kind, digest, utcnow())


@dataclass(frozen=True)
class Receipt:
    message_id: str
    delivered: bool
    error_code: str | None


def _check_token(provider: str, token: str) -> None:
    """The callback's token against the stage's: a stage on another provider, or without a
    receipt token, has no receipt route (404); a wrong token is 401."""
    settings = get_settings()
    if settings.sms_provider != provider:
        raise NotFound("No such route")
    from ..notify.sms import receipt_token

    expected = receipt_token()
    if not expected:
        raise NotFound("No such route")
    if not hmac.compare_digest(expected.encode(), token.encode()):
        count("SmsReceiptsRefused")
        logger.warning("SMS receipt with a wrong token", extra={"provider": provider})
        raise Unauthorized("Not a receipt this service asked for")


def _record(provider: str, receipts: list[Receipt]) -> dict[str, int]:
    now = utcnow()
    outcomes = {"recorded": 0, "replayed": 0, "unknown": 0}
    for receipt in receipts:  # an unknown id writes nothing
        outcome = sms_sends.record_receipt(provider, receipt.message_id, delivered=receipt.delivered, error_code=receipt.error_code, now=now)
        outcomes[outcome] += 1
        if outcome == "recorded":
            count("SmsDelivered" if receipt.delivered else "SmsDeliveryFailed")
    if outcomes["unknown"] == len(receipts):
        logger.info("SMS receipts for unknown messages", extra={"provider": provider, "receipts": len(receipts)})
        raise NotFound("No SMS with these message ids was sent by this service")
    logger.info("SMS receipts", extra={"provider": provider, **outcomes})
    return outcomes


def tencent_receipts(token: str, reports: TencentReports) -> dict[str, Any]:
    """Tencent's status callback; answers as Tencent expects (`result` 0 once handled)."""
    _check_token("tencent", token)
    receipts = [
        Receipt(r.sid, r.report_status == "SUCCESS", None if r.report_status == "SUCCESS" else (r.errmsg or r.description or "FAIL"))
        for r in reports.root
    ]
    _record("tencent", receipts)
    return {"result": 0, "errmsg": "OK"}


def aliyun_receipts(token: str, reports: AliyunReports) -> dict[str, Any]:
    """Alibaba's SmsReport push; answers as Alibaba expects (`code` 0 once handled)."""
    _check_token("aliyun", token)
    receipts = [Receipt(r.biz_id, r.success, None if r.success else (r.err_code or "FAIL")) for r in reports.root]
    _record("aliyun", receipts)
    return {"code": 0, "msg": "成功"}


def delivery_of(provider: str, message_id: str) -> tuple[str, str | None] | None:
    return sms_sends.delivery_of(provider, message_id, utcnow())
