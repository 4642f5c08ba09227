"""WeChat Pay API v3 over HTTPS: JSAPI (mini-program) orders, order queries and refunds.

Every request is signed with the merchant's key and every answer's signature is checked with
WeChat Pay's platform public key (domain/wechat_pay.py) before it is believed. `base_url` is
https://api.mch.weixin.qq.com in the cloud and the fake on loopback locally
(localstage/wechat_pay_fake.py). The credentials come from the caller (Secrets Manager, read by
store/parameters.py): this module never logs them.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from ..domain import wechat_pay as wxpay
from ..domain.clock import utcnow
from ..observability import logger

TIMEOUT_SECONDS = 5


class WeChatPayError(Exception):
    """WeChat Pay refused the request, answered unsigned, or did not answer in time."""

    def __init__(self, reason: str, status: int | None = None, code: str | None = None, *, signed: bool = False) -> None:
        super().__init__(reason)
        self.status = status
        self.code = code
        # The refusal's answer verified with WeChat Pay's platform key: WeChat Pay itself said no
        # (an unsigned refusal may be anyone's, so it proves nothing about what WeChat Pay did).
        self.signed = signed


@dataclass(frozen=True)
class WeChatPay:
    base_url: str
    credentials: dict[str, str]
    # The mini-program's appid (settings.wechat_mini_program_appid, the app WeChat sign-in binds
    # openids in): a JSAPI order is paid from the payer's openid in that app.
    appid: str

    def _call(self, method: str, path: str, payload: dict[str, Any] | None) -> dict[str, Any]:
        creds = self.credentials
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")) if payload is not None else ""
        header = wxpay.authorization(
            mchid=creds["mchid"],
            serial_no=creds["merchant_serial_no"],
            private_key_pem=creds["merchant_private_key"],
            method=method,
            path=path,
            body=body,
            timestamp=str(int(time.time())),
            nonce=wxpay.new_nonce(),
        )
        request = urllib.request.Request(  # noqa: S310 - base_url is configuration: https, or the local fake
            self.base_url.rstrip("/") + path,
            data=body.encode() if payload is not None else None,
            method=method,
            headers={"Authorization": header, "Accept": "application/json", "Content-Type": "application/json", "User-Agent": "huiyuan"},
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
                status, headers, text = answer.status, answer.headers, answer.read().decode()
        except urllib.error.HTTPError as refused:
            text = refused.read().decode(errors="replace")
            code = _error_code(text)
            signed = self._signed_by_wechat_pay(refused.headers, text)
            logger.warning("wechat pay refused", extra={"path": path.split("?")[0], "status": refused.code, "code": code, "signed": signed})
            raise WeChatPayError("WeChat Pay refused the request", refused.code, code, signed=signed) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            logger.warning("wechat pay unreachable", extra={"path": path.split("?")[0], "error": type(exc).__name__})
            raise WeChatPayError("WeChat Pay did not answer") from None
        if not self._signed_by_wechat_pay(headers, text):
            logger.warning("wechat pay answer not verified", extra={"path": path.split("?")[0]})
            raise WeChatPayError("WeChat Pay's answer is not signed by WeChat Pay", status)
        answer_body: dict[str, Any] = json.loads(text) if text else {}
        return answer_body

    def _signed_by_wechat_pay(self, headers: Any, text: str) -> bool:
        """The answer is signed by WeChat Pay's platform key (its serial, a fresh timestamp)."""
        creds = self.credentials
        if headers is None or headers.get("Wechatpay-Serial") != creds["platform_public_key_id"]:
            return False
        try:
            wxpay.verify_signed(
                creds["platform_public_key"],
                headers.get("Wechatpay-Timestamp"),
                headers.get("Wechatpay-Nonce"),
                headers.get("Wechatpay-Signature"),
                text,
                utcnow(),
            )
        except (wxpay.BadSignature, wxpay.StaleTimestamp):
            return False
        return True

    def create_jsapi_order(self, *, out_trade_no: str, description: str, amount: int, openid: str, notify_url: str, attach: str = "") -> str:
        """The prepay_id of a new JSAPI / mini-program order (POST /v3/pay/transactions/jsapi)."""
        creds = self.credentials
        payload: dict[str, Any] = {
            "appid": self.appid,
            "mchid": creds["mchid"],
            "description": description,
            "out_trade_no": out_trade_no,
            "notify_url": notify_url,
            "amount": {"total": amount, "currency": "CNY"},
            "payer": {"openid": openid},
        }
        if attach:
            payload["attach"] = attach
        answer = self._call("POST", "/v3/pay/transactions/jsapi", payload)
        prepay_id = answer.get("prepay_id")
        if not isinstance(prepay_id, str) or not prepay_id:
            raise WeChatPayError("WeChat Pay answered without a prepay_id")
        return prepay_id

    def query_order(self, out_trade_no: str) -> dict[str, Any]:
        """The transaction as WeChat Pay knows it (GET /v3/pay/transactions/out-trade-no/{no})."""
        return self._call("GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={self.credentials['mchid']}", None)

    def close_order(self, out_trade_no: str) -> None:
        """Close an order never paid, so it can no longer be paid (POST .../{no}/close: 204). WeChat
        Pay refuses to close a paid order: ask `query_order` what it is after either answer."""
        self._call("POST", f"/v3/pay/transactions/out-trade-no/{out_trade_no}/close", {"mchid": self.credentials["mchid"]})

    def query_refund(self, out_refund_no: str) -> dict[str, Any]:
        """The refund as WeChat Pay knows it (GET /v3/refund/domestic/refunds/{out_refund_no}): its
        `status` is SUCCESS | CLOSED | PROCESSING | ABNORMAL."""
        return self._call("GET", f"/v3/refund/domestic/refunds/{out_refund_no}", None)

    def refund(self, *, out_trade_no: str, out_refund_no: str, refund: int, total: int, notify_url: str, reason: str = "") -> dict[str, Any]:
        """Ask for a refund (POST /v3/refund/domestic/refunds); its outcome comes by notification."""
        payload: dict[str, Any] = {
            "out_trade_no": out_trade_no,
            "out_refund_no": out_refund_no,
            "notify_url": notify_url,
            "amount": {"refund": refund, "total": total, "currency": "CNY"},
        }
        if reason:
            payload["reason"] = reason
        return self._call("POST", "/v3/refund/domestic/refunds", payload)

    def mini_program_payment(self, prepay_id: str) -> dict[str, str]:
        """The parameters of `wx.requestPayment` for `prepay_id`, signed with the merchant key."""
        creds = self.credentials
        return wxpay.mini_program_payment(
            appid=self.appid,
            prepay_id=prepay_id,
            private_key_pem=creds["merchant_private_key"],
            timestamp=str(int(time.time())),
            nonce=wxpay.new_nonce(),
        )


def _error_code(text: str) -> str | None:
    try:
        code = json.loads(text).get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, str) else None
