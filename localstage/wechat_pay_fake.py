"""A fake of WeChat Pay API v3 (api.mch.weixin.qq.com) on loopback, for the local stage and tests.

It speaks the protocol with keys generated for the local stage (bootstrap.py): it refuses a
request whose `Authorization` does not verify with the merchant's public key, signs every answer
with its platform key, and SENDS payment notifications signed with that key, their resource
encrypted AES-256-GCM with the APIv3 key, to the order's notify_url. Each notification it sends
is a line in the outbox (channel `wechat-pay`).

    POST /v3/pay/transactions/jsapi                  a JSAPI / mini-program order -> prepay_id
    GET  /v3/pay/transactions/out-trade-no/{no}      the order's trade_state
    POST /v3/pay/transactions/out-trade-no/{no}/close close an order not paid (204; refused once paid)
    GET  /v3/refund/domestic/refunds/{out_refund_no} the refund's status
    POST /v3/refund/domestic/refunds                 a refund of a paid order (PROCESSING), once per
         out_refund_no; `fail_next_refund` makes the next one refused (tests)
    POST /fake/pay/{out_trade_no}                    the test/dev hook: "the payer paid". Body (all
         optional): {"times": 2, "amount": 1, "forge": true, "age_seconds": 600,
         "transaction_id": "..."}: sends the notification `times`, with another amount, a bad
         signature, or an old timestamp; answers what our API answered to each. `"times": 0`:
         paid, but the notification is lost (the wechat-pay-sweep job finds it by querying).
    POST /fake/store-payments                        the test/dev hook: "the payer paid at a store"
         (pay-to-join, service-provider mode). Body {"sub_mchid", "openid", "amount"} and, optional,
         {"times", "forge", "age_seconds", "transaction_id", "trade_state", "appid", "notify_url"}:
         sends the store's signed, encrypted payment notification (payer.sp_openid = openid) to
         our notification URL; answers the transaction id and what our API answered to each.
    POST /fake/refund/{out_refund_no}                the test/dev hook: "the refund ended". Body (all
         optional): {"status": "SUCCESS" | "ABNORMAL" | "CLOSED", "times": 2, "forge": true,
         "age_seconds": 600}: sends the refund notification to the refund's notify_url (`"times": 0`:
         the refund ended, its notification lost).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from chalicelib.domain import wechat_pay as wxpay


@dataclass(frozen=True)
class FakeKeys:
    """What WeChat Pay holds: the merchant's public key (to verify its requests), its own platform
    private key (to sign), and the APIv3 key the merchant set (to encrypt resources)."""

    mchid: str
    appid: str
    merchant_serial_no: str
    merchant_public_key: str
    platform_public_key_id: str
    platform_private_key: str
    apiv3_key: str

    @classmethod
    def from_json(cls, raw: str) -> FakeKeys:
        return cls(**json.loads(raw))


@dataclass
class FakeOrder:
    out_trade_no: str
    appid: str
    amount: int
    openid: str
    notify_url: str
    prepay_id: str
    trade_state: str = "NOTPAY"
    transaction_id: str | None = None


@dataclass
class FakeRefund:
    out_refund_no: str
    out_trade_no: str
    refund: int
    total: int
    notify_url: str
    refund_id: str
    status: str = "PROCESSING"


@dataclass
class Delivery:
    """One notification sent: what our API answered (None: no answer)."""

    status: int | None
    body: str


@dataclass
class FakeWeChatPay:
    keys: FakeKeys
    host: str = "127.0.0.1"
    port: int = 0
    outbox_path: str | None = None
    orders: dict[str, FakeOrder] = field(default_factory=dict)
    requests_seen: list[str] = field(default_factory=list)
    # Fault injection: the next JSAPI order is answered with this error code (e.g. SYSTEM_ERROR).
    fail_next_order: str | None = None
    # Pay-to-join: where a store's payment notifications go, and the brand's app (sp_appid) whose
    # openids the payers have (the mini-program's, not the merchant's own appid).
    store_notify_url: str | None = None
    store_appid: str | None = None
    refunds: dict[str, FakeRefund] = field(default_factory=dict)
    # Fault injection: the next refund is answered with this (HTTP status, error code), e.g.
    # (403, "NOT_ENOUGH") (the merchant's balance does not cover it) or (500, "SYSTEM_ERROR").
    fail_next_refund: tuple[int, str] | None = None
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeWeChatPay:
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="fake-wechat-pay", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- WeChat Pay's side of the protocol ----------------------------------------------------------

    def signed_headers(self, body: str, *, age_seconds: int = 0, forge: bool = False) -> dict[str, str]:
        timestamp, nonce = str(int(time.time()) - age_seconds), wxpay.new_nonce()
        signing_key = wxpay.new_key_pair()[0] if forge else self.keys.platform_private_key
        return {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": wxpay.sign(signing_key, wxpay.response_message(timestamp, nonce, body)),
            "Wechatpay-Serial": self.keys.platform_public_key_id,
            "Content-Type": "application/json",
        }

    def verify_request(self, method: str, path: str, body: str, header: str | None) -> None:
        auth = wxpay.parse_authorization(header)
        if auth.mchid != self.keys.mchid or auth.serial_no != self.keys.merchant_serial_no:
            raise wxpay.BadSignature("unknown merchant or certificate serial")
        wxpay.verify(self.keys.merchant_public_key, wxpay.request_message(method, path, auth.timestamp, auth.nonce, body), auth.signature)
        wxpay.check_fresh(auth.timestamp, datetime.now(UTC))

    def notification(
        self, out_trade_no: str, *, amount: int | None = None, transaction_id: str | None = None, forge: bool = False, age_seconds: int = 0
    ) -> tuple[dict[str, str], str]:
        """The headers and body of the payment notification for `out_trade_no` (the order is paid)."""
        with self._lock:
            order = self.orders[out_trade_no]
            order.trade_state = "SUCCESS"
            order.transaction_id = order.transaction_id or f"4200{secrets.randbelow(10**24):024d}"
            txid = transaction_id or order.transaction_id
        paid = amount if amount is not None else order.amount
        resource = {
            "mchid": self.keys.mchid,
            "appid": order.appid,
            "out_trade_no": out_trade_no,
            "transaction_id": txid,
            "trade_type": "JSAPI",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "bank_type": "OTHERS",
            "success_time": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
            "payer": {"openid": order.openid},
            "amount": {"total": paid, "payer_total": paid, "currency": "CNY", "payer_currency": "CNY"},
        }
        plaintext = json.dumps(resource, ensure_ascii=False).encode()
        body = json.dumps(
            {
                "id": secrets.token_hex(18),
                "create_time": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
                "resource_type": "encrypt-resource",
                "event_type": "TRANSACTION.SUCCESS",
                "summary": "支付成功",
                "resource": {**wxpay.encrypt_resource(self.keys.apiv3_key, plaintext, "transaction"), "original_type": "transaction"},
            },
            ensure_ascii=False,
        )
        return self.signed_headers(body, age_seconds=age_seconds, forge=forge), body

    def store_notification(
        self,
        sub_mchid: str,
        openid: str,
        amount: int,
        *,
        transaction_id: str | None = None,
        trade_state: str = "SUCCESS",
        appid: str | None = None,
        forge: bool = False,
        age_seconds: int = 0,
    ) -> tuple[dict[str, str], str, str]:
        """A store's payment notification (partner mode: sp_mchid is the brand, sub_mchid the
        store), its headers, body and transaction id."""
        txid = transaction_id or f"4200{secrets.randbelow(10**24):024d}"
        now = datetime.now(UTC).astimezone().isoformat(timespec="seconds")
        resource = {
            "sp_mchid": self.keys.mchid,
            "sub_mchid": sub_mchid,
            "sp_appid": appid or self.store_appid or self.keys.appid,
            "out_trade_no": f"S{secrets.token_hex(8).upper()}",
            "transaction_id": txid,
            "trade_type": "MICROPAY",
            "trade_state": trade_state,
            "trade_state_desc": "支付成功" if trade_state == "SUCCESS" else trade_state,
            "bank_type": "OTHERS",
            "success_time": now,
            "payer": {"sp_openid": openid},
            "amount": {"total": amount, "payer_total": amount, "currency": "CNY", "payer_currency": "CNY"},
        }
        body = json.dumps(
            {
                "id": secrets.token_hex(18),
                "create_time": now,
                "resource_type": "encrypt-resource",
                "event_type": "TRANSACTION.SUCCESS",
                "summary": "支付成功",
                "resource": {
                    **wxpay.encrypt_resource(self.keys.apiv3_key, json.dumps(resource, ensure_ascii=False).encode(), "transaction"),
                    "original_type": "transaction",
                },
            },
            ensure_ascii=False,
        )
        return self.signed_headers(body, age_seconds=age_seconds, forge=forge), body, txid

    def pay_at_store(
        self, sub_mchid: str, openid: str, amount: int, *, times: int = 1, notify_url: str | None = None, **options: Any
    ) -> tuple[str, list[Delivery]]:
        """The payer paid at a store: send its notification `times` to our notification URL."""
        url = notify_url or self.store_notify_url
        if not url:
            raise ValueError("no notify_url: the fake was started without store_notify_url")
        headers, body, txid = self.store_notification(sub_mchid, openid, amount, **options)
        return txid, [self._send(url, headers, body, f"store:{txid}") for _ in range(times)]

    def pay(self, out_trade_no: str, *, times: int = 1, **options: Any) -> list[Delivery]:
        """The payer paid: send the notification `times` to the order's notify_url."""
        headers, body = self.notification(out_trade_no, **options)
        url = self.orders[out_trade_no].notify_url
        return [self._send(url, headers, body, out_trade_no) for _ in range(times)]

    def _send(self, url: str, headers: dict[str, str], body: str, out_trade_no: str, kind: str = "TRANSACTION.SUCCESS") -> Delivery:
        request = urllib.request.Request(url, data=body.encode(), method="POST", headers=headers)  # noqa: S310 - the stage's own URL
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                delivery = Delivery(answer.status, answer.read().decode())
        except urllib.error.HTTPError as refused:
            delivery = Delivery(refused.code, refused.read().decode(errors="replace"))
        except (urllib.error.URLError, OSError) as exc:
            delivery = Delivery(None, type(exc).__name__)
        self._to_outbox(url, out_trade_no, delivery, kind)
        return delivery

    def _to_outbox(self, url: str, out_trade_no: str, delivery: Delivery, kind: str = "TRANSACTION.SUCCESS") -> None:
        if not self.outbox_path:
            return
        line = json.dumps(
            {
                "channel": "wechat-pay",
                "to": url,
                "kind": kind,
                "body": json.dumps({"out_trade_no": out_trade_no, "answered": delivery.status}),
                "sent_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            },
            ensure_ascii=False,
        )
        with self._lock:
            Path(self.outbox_path).parent.mkdir(parents=True, exist_ok=True)
            with open(self.outbox_path, "a", encoding="utf-8") as outbox:
                outbox.write(line + "\n")

    # --- the API ---------------------------------------------------------------------------------------

    def create_order(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.fail_next_order:
            code, self.fail_next_order = self.fail_next_order, None
            return 500, {"code": code, "message": "fake: injected fault"}
        try:
            out_trade_no = payload["out_trade_no"]
            order = FakeOrder(
                out_trade_no=out_trade_no,
                appid=payload["appid"],
                amount=int(payload["amount"]["total"]),
                openid=payload["payer"]["openid"],
                notify_url=payload["notify_url"],
                prepay_id=f"wx{secrets.token_hex(16)}",
            )
        except (KeyError, TypeError, ValueError):
            return 400, {"code": "PARAM_ERROR", "message": "missing or malformed parameter"}
        if payload.get("mchid") != self.keys.mchid or payload["appid"] != self.keys.appid:
            return 400, {"code": "APPID_MCHID_NOT_MATCH", "message": "appid and mchid do not match"}
        with self._lock:
            if out_trade_no in self.orders:
                return 400, {
                    "code": "ORDER_EXISTS" if self.orders[out_trade_no].trade_state == "SUCCESS" else "INVALID_REQUEST",
                    "message": "duplicate",
                }
            self.orders[out_trade_no] = order
        return 200, {"prepay_id": order.prepay_id}

    def order_state(self, out_trade_no: str) -> tuple[int, dict[str, Any]]:
        order = self.orders.get(out_trade_no)
        if order is None:
            return 404, {"code": "ORDER_NOT_EXIST", "message": "order does not exist"}
        answer: dict[str, Any] = {"mchid": self.keys.mchid, "appid": order.appid, "out_trade_no": out_trade_no, "trade_state": order.trade_state}
        if order.transaction_id:
            answer["transaction_id"] = order.transaction_id
            answer["amount"] = {"total": order.amount, "currency": "CNY"}
        return 200, answer

    def close_order(self, out_trade_no: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            order = self.orders.get(out_trade_no)
            if order is None:
                return 404, {"code": "ORDER_NOT_EXIST", "message": "order does not exist"}
            if order.trade_state not in ("NOTPAY", "CLOSED"):
                return 400, {"code": "ORDERPAID", "message": "the order is paid"}
            order.trade_state = "CLOSED"
        return 204, {}

    # --- refunds -------------------------------------------------------------------------------------

    def refund_state(self, out_refund_no: str) -> tuple[int, dict[str, Any]]:
        refund = self.refunds.get(out_refund_no)
        if refund is None:
            return 404, {"code": "RESOURCE_NOT_EXISTS", "message": "refund does not exist"}
        return 200, {
            "refund_id": refund.refund_id,
            "out_refund_no": out_refund_no,
            "out_trade_no": refund.out_trade_no,
            "status": refund.status,
            "amount": {"refund": refund.refund, "total": refund.total, "currency": "CNY"},
        }

    def create_refund(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST /v3/refund/domestic/refunds: a refund of a paid order, once per out_refund_no."""
        if self.fail_next_refund:
            (status, code), self.fail_next_refund = self.fail_next_refund, None
            return status, {"code": code, "message": "fake: injected fault"}
        try:
            out_trade_no, out_refund_no = str(payload["out_trade_no"]), str(payload["out_refund_no"])
            refund, total = int(payload["amount"]["refund"]), int(payload["amount"]["total"])
            notify_url = str(payload.get("notify_url") or "")
        except (KeyError, TypeError, ValueError):
            return 400, {"code": "PARAM_ERROR", "message": "missing or malformed parameter"}
        with self._lock:
            order = self.orders.get(out_trade_no)
            if order is None or order.trade_state not in ("SUCCESS", "REFUND"):
                return 404, {"code": "RESOURCE_NOT_EXISTS", "message": "order does not exist or was not paid"}
            if total != order.amount or not 0 < refund <= total:
                return 400, {"code": "INVALID_REQUEST", "message": "refund amount does not match the order"}
            known = self.refunds.get(out_refund_no)
            if known is None:
                refunded = sum(r.refund for r in self.refunds.values() if r.out_trade_no == out_trade_no and r.status != "ABNORMAL")
                if refunded + refund > total:
                    return 400, {"code": "INVALID_REQUEST", "message": "refunds exceed the order"}
                known = FakeRefund(out_refund_no, out_trade_no, refund, total, notify_url, f"50{secrets.randbelow(10**26):026d}")
                self.refunds[out_refund_no] = known
                order.trade_state = "REFUND"
        return 200, {
            "refund_id": known.refund_id,
            "out_refund_no": out_refund_no,
            "transaction_id": order.transaction_id,
            "out_trade_no": out_trade_no,
            "status": known.status,
            "amount": {"refund": known.refund, "total": known.total, "currency": "CNY"},
        }

    def refund_notification(
        self, out_refund_no: str, *, status: str = "SUCCESS", forge: bool = False, age_seconds: int = 0
    ) -> tuple[dict[str, str], str]:
        """The headers and body of the refund notification (REFUND.SUCCESS / ABNORMAL / CLOSED)."""
        with self._lock:
            refund = self.refunds[out_refund_no]
            refund.status = status
            order = self.orders[refund.out_trade_no]
        resource = {
            "mchid": self.keys.mchid,
            "out_trade_no": refund.out_trade_no,
            "transaction_id": order.transaction_id,
            "out_refund_no": out_refund_no,
            "refund_id": refund.refund_id,
            "refund_status": status,
            "success_time": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
            "user_received_account": "支付用户零钱",
            "amount": {"total": refund.total, "refund": refund.refund, "payer_total": refund.total, "payer_refund": refund.refund},
        }
        plaintext = json.dumps(resource, ensure_ascii=False).encode()
        body = json.dumps(
            {
                "id": secrets.token_hex(18),
                "create_time": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
                "resource_type": "encrypt-resource",
                "event_type": f"REFUND.{status}",
                "summary": "退款成功" if status == "SUCCESS" else "退款异常",
                "resource": {**wxpay.encrypt_resource(self.keys.apiv3_key, plaintext, "refund"), "original_type": "refund"},
            },
            ensure_ascii=False,
        )
        return self.signed_headers(body, age_seconds=age_seconds, forge=forge), body

    def end_refund(self, out_refund_no: str, *, times: int = 1, **options: Any) -> list[Delivery]:
        """The refund ended: send its notification `times` to the refund's notify_url."""
        headers, body = self.refund_notification(out_refund_no, **options)
        refund = self.refunds[out_refund_no]
        return [self._send(refund.notify_url, headers, body, refund.out_trade_no, kind=f"REFUND.{refund.status}") for _ in range(times)]


class _Handler(BaseHTTPRequestHandler):
    owner: FakeWeChatPay

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests and the stage's console
        return

    def _answer(self, status: int, payload: dict[str, Any] | list[Any]) -> None:
        body = "" if status == 204 else json.dumps(payload, ensure_ascii=False)
        self.send_response(status)
        for name, value in self.owner.signed_headers(body).items():
            self.send_header(name, value)
        encoded = body.encode()
        self.send_header("Content-Length", str(len(encoded)))
        self.end_headers()
        self.wfile.write(encoded)

    def _body(self) -> str:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length).decode() if length else ""

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if not self._verified("GET", ""):
            return
        if path.startswith("/v3/pay/transactions/out-trade-no/"):
            self._answer(*self.owner.order_state(path.rsplit("/", 1)[1]))
        elif path.startswith("/v3/refund/domestic/refunds/"):
            self._answer(*self.owner.refund_state(path.rsplit("/", 1)[1]))
        else:
            self._answer(404, {"code": "NOT_FOUND", "message": "fake: no such API"})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        body = self._body()
        if path.startswith("/fake/pay/"):
            return self._fake_pay(path.removeprefix("/fake/pay/"), body)
        if path == "/fake/store-payments":
            return self._fake_store_payment(body)
        if path.startswith("/fake/refund/"):
            return self._fake_refund(path.removeprefix("/fake/refund/"), body)
        if not self._verified("POST", body):
            return
        try:
            payload = json.loads(body)
        except ValueError:
            return self._answer(400, {"code": "PARAM_ERROR", "message": "body is not JSON"})
        if path == "/v3/pay/transactions/jsapi":
            self._answer(*self.owner.create_order(payload))
        elif path == "/v3/refund/domestic/refunds":
            self._answer(*self.owner.create_refund(payload))
        elif path.startswith("/v3/pay/transactions/out-trade-no/") and path.endswith("/close"):
            self._answer(*self.owner.close_order(path.split("/")[-2]))
        else:
            self._answer(404, {"code": "NOT_FOUND", "message": "fake: no such API"})

    def _verified(self, method: str, body: str) -> bool:
        self.owner.requests_seen.append(f"{method} {urlsplit(self.path).path}")
        try:
            self.owner.verify_request(method, self.path, body, self.headers.get("authorization"))
        except (wxpay.BadSignature, wxpay.StaleTimestamp) as exc:
            self._answer(401, {"code": "SIGN_ERROR", "message": f"fake: {exc}"})
            return False
        return True

    def _fake_refund(self, out_refund_no: str, body: str) -> None:
        _fake_refund_of(self, out_refund_no, body)

    def _fake_pay(self, out_trade_no: str, body: str) -> None:
        try:
            options = json.loads(body) if body else {}
            known = {"times", "amount", "forge", "age_seconds", "transaction_id"}
            if not isinstance(options, dict) or set(options) - known:
                raise ValueError
        except ValueError:
            return self._answer(400, {"code": "PARAM_ERROR", "message": f"fake: body is a JSON object of {sorted(known)}"})
        if out_trade_no not in self.owner.orders:
            return self._answer(404, {"code": "ORDER_NOT_EXIST", "message": "fake: no such order"})
        deliveries = self.owner.pay(out_trade_no, **options)
        order = self.owner.orders[out_trade_no]
        self._answer(200, {"transaction_id": order.transaction_id, "answers": [d.status for d in deliveries]})

    def _fake_store_payment(self, body: str) -> None:
        optional = {"times", "forge", "age_seconds", "transaction_id", "trade_state", "appid", "notify_url"}
        try:
            wanted = json.loads(body) if body else {}
            if not isinstance(wanted, dict) or set(wanted) - optional - {"sub_mchid", "openid", "amount"}:
                raise ValueError
            sub_mchid, openid, amount = str(wanted.pop("sub_mchid")), str(wanted.pop("openid")), int(wanted.pop("amount"))
            txid, deliveries = self.owner.pay_at_store(sub_mchid, openid, amount, **wanted)
        except (ValueError, KeyError, TypeError):
            return self._answer(400, {"code": "PARAM_ERROR", "message": f"fake: body is {{sub_mchid, openid, amount}} and any of {sorted(optional)}"})
        self._answer(200, {"transaction_id": txid, "answers": [d.status for d in deliveries]})


def _fake_refund_of(handler: _Handler, out_refund_no: str, body: str) -> None:
    known = {"times", "status", "forge", "age_seconds"}
    try:
        options = json.loads(body) if body else {}
        if not isinstance(options, dict) or set(options) - known or options.get("status", "SUCCESS") not in ("SUCCESS", "ABNORMAL", "CLOSED"):
            raise ValueError
    except ValueError:
        return handler._answer(400, {"code": "PARAM_ERROR", "message": f"fake: body is a JSON object of {sorted(known)}"})
    if out_refund_no not in handler.owner.refunds:
        return handler._answer(404, {"code": "RESOURCE_NOT_EXISTS", "message": "fake: no such refund"})
    deliveries = handler.owner.end_refund(out_refund_no, **options)
    handler._answer(200, {"out_refund_no": out_refund_no, "answers": [d.status for d in deliveries]})


def local_fake_port(host: str) -> int:
    """WECHAT_PAY_FAKE_PORT, or a free port on `host`."""
    import os
    import socket

    if os.environ.get("WECHAT_PAY_FAKE_PORT"):
        return int(os.environ["WECHAT_PAY_FAKE_PORT"])
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def start_local_fake(settings: Any, session: Any, host: str, port: int) -> FakeWeChatPay:
    """The local stage's fake, with the keys bootstrap generated, writing to the stage's outbox."""
    from localstage.bootstrap import fake_wechat_pay_secret_name

    raw = session.client("secretsmanager").get_secret_value(SecretId=fake_wechat_pay_secret_name(settings))["SecretString"]
    # The merchant's bound app is the mini-program of the settings (a stage bootstrapped before
    # that rule kept another appid in the fake's secret).
    keys = FakeKeys(**{**json.loads(raw), "appid": settings.wechat_mini_program_appid})
    return FakeWeChatPay(
        keys,
        host=host,
        port=port,
        outbox_path=settings.outbox_path,
        store_notify_url=settings.wechat_pay_notify_url,
        store_appid=settings.wechat_mini_program_appid,
    ).start()
