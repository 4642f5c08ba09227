"""Alibaba Cloud SMS and Tencent Cloud SMS, faked on loopback for the local stage and the tests.

Each fake speaks its provider's documented `SendSms` protocol, as the official SDKs send it:

- Alibaba (dysmsapi 2017-05-25, RPC style): `POST /?PhoneNumbers=..&SignName=..&TemplateCode=..
  &TemplateParam=..` signed with ACS3-HMAC-SHA256 (the `Authorization` header names the signed
  headers; `x-acs-content-sha256` is the body's hash; `x-acs-date` within 15 minutes). Answers
  `{"Code": "OK", "BizId": ..}`, or HTTP 200 with an error `Code` (`isv.BUSINESS_LIMIT_CONTROL`,
  `isv.SMS_TEMPLATE_ILLEGAL`, `isv.SMS_SIGNATURE_ILLEGAL`), or HTTP 400/404 for a bad
  signature or an unknown AccessKey.
- Tencent (sms 2021-01-11): `POST /` with a JSON body, `X-TC-Action: SendSms`, signed with
  TC3-HMAC-SHA256 (`content-type;host`, the date's derived key, `X-TC-Timestamp` within 5
  minutes). Answers `{"Response": {"SendStatusSet": [..]}}` with a per-number `Code` (`Ok`,
  `LimitExceeded.PhoneNumberDailyLimit`), or `{"Response": {"Error": {"Code": ..}}}`
  (`AuthFailure.SignatureFailure`, `FailedOperation.TemplateIncorrectOrUnapproved`).

The credentials are generated for the local stage (bootstrap stores them where the service reads
them). Only registered templates and the registered signature are accepted, and a number gets at
most `daily_limit` messages a day, as both providers limit. Every message accepted lands in the
outbox (kind `provider_request`: the provider, signature, template and its values, a one-time
code hidden among the values as in the service's own entries).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from chalicelib.domain.sms_templates import shown_values

SIGN_NAME = "会员中心"

# The templates the local brand "registered", per provider: kind -> (template id, its variables, text).
LOCAL_TEMPLATES: dict[str, dict[str, tuple[str, tuple[str, ...], str]]] = {
    "aliyun": {
        "verification_code": ("SMS_100000001", ("code", "minutes"), "您的验证码为${code}，${minutes}分钟内有效，请勿泄露。"),
        "welcome": ("SMS_100000002", ("points",), "欢迎加入会员！${points}积分已到账。"),
        "phone_changed": ("SMS_100000003", (), "您的会员已转移到新手机号，如非本人操作请联系我们。"),
        "invite": ("SMS_100000004", ("points",), "您获得${points}积分，用此号码注册会员即可使用。"),
        "referral_reward": ("SMS_100000005", ("points",), "您邀请的好友已首次消费，${points}积分已到账。"),
    },
    "tencent": {
        "verification_code": ("2000001", ("code", "minutes"), "您的验证码为{1}，{2}分钟内有效，请勿泄露。"),
        "welcome": ("2000002", ("points",), "欢迎加入会员！{1}积分已到账。"),
        "phone_changed": ("2000003", (), "您的会员已转移到新手机号，如非本人操作请联系我们。"),
        "invite": ("2000004", ("points",), "您获得{1}积分，用此号码注册会员即可使用。"),
        "referral_reward": ("2000005", ("points",), "您邀请的好友已首次消费，{1}积分已到账。"),
    },
}


def local_template_mapping(provider: str) -> str:
    """The stage's SMS_TEMPLATES for the local brand's registrations (domain/sms_templates.py)."""
    return json.dumps({kind: {"id": tid, "params": list(names)} for kind, (tid, names, _text) in LOCAL_TEMPLATES[provider].items()})


def generate_credentials(provider: str) -> dict[str, str]:
    """Keys that only the local fakes know, in the shape the service reads (notify/sms.py), and the
    token of the delivery-receipt URL (usecases/sms_receipts.py)."""
    receipt = {"receipt_token": secrets.token_urlsafe(24)}
    if provider == "aliyun":
        return {"access_key_id": "LTAI" + secrets.token_hex(10), "access_key_secret": secrets.token_urlsafe(22), **receipt}
    return {"secret_id": "AKID" + secrets.token_hex(16), "secret_key": secrets.token_urlsafe(24), **receipt}


@dataclass
class FakeProvider:
    provider: str
    credentials: dict[str, str]
    outbox: str | None
    daily_limit: int = 10
    sign_name: str = SIGN_NAME
    received: list[dict[str, Any]] = field(default_factory=list)
    _sent_today: Counter[tuple[str, str]] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Delivery receipts (docs/sms-providers.md, "Delivery receipts"): each accepted message's
    # receipt waits here until `flush_receipts` posts it, in the provider's format, with
    # `report_to` (the stack: an HTTP POST to its receipt URL; the tests: their API client).
    # `receipt_failure`: the carrier's error code every receipt then reports (FAIL); None: delivered.
    # `receipt_delay_seconds`: flush by itself that long after each send (the local stack).
    report_to: Callable[[list[dict[str, Any]]], Any] | None = None
    receipt_failure: str | None = None
    receipt_delay_seconds: float | None = None
    pending_receipts: list[tuple[str, str]] = field(default_factory=list)  # (message id, phone)

    def queue_receipt(self, message_id: str, phone: str) -> None:
        with self._lock:
            self.pending_receipts.append((message_id, phone))
        if self.report_to is not None and self.receipt_delay_seconds is not None:
            timer = threading.Timer(self.receipt_delay_seconds, self.flush_receipts)
            timer.daemon = True
            timer.start()

    def receipt(self, message_id: str, phone: str) -> dict[str, Any]:
        """What the provider posts about one message, as its documentation shows it."""
        now = datetime.now(UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")
        failure = self.receipt_failure
        if self.provider == "tencent":
            return {
                "user_receive_time": now,
                "nationcode": "86",
                "mobile": phone.removeprefix("+86"),
                "report_status": "FAIL" if failure else "SUCCESS",
                "errmsg": failure or "DELIVRD",
                "description": "用户短信接收失败" if failure else "用户短信送达成功",
                "sid": message_id,
            }
        return {
            "phone_number": phone,
            "send_time": now,
            "report_time": now,
            "success": not failure,
            "err_code": failure or "DELIVERED",
            "err_msg": "用户接收失败" if failure else "用户接收成功",
            "sms_size": "1",
            "biz_id": message_id,
            "out_id": "",
        }

    def flush_receipts(self) -> list[Any]:
        """Post every waiting receipt (one batch, as both providers batch them); the answers."""
        with self._lock:
            waiting, self.pending_receipts = self.pending_receipts, []
        if not waiting or self.report_to is None:
            return []
        return [self.report_to([self.receipt(message_id, phone) for message_id, phone in waiting])]

    def templates(self) -> dict[str, tuple[tuple[str, ...], str]]:
        return {tid: (names, text) for tid, names, text in LOCAL_TEMPLATES[self.provider].values()}

    def accept(self, phone: str, sign_name: str, template_id: str, values: dict[str, str]) -> str | None:
        """None if accepted (and written to the outbox), else why not: 'throttled', 'template', 'sign'."""
        templates = self.templates()
        if sign_name != self.sign_name:
            return "sign"
        if template_id not in templates or set(values) != set(templates[template_id][0]):
            return "template"
        day = datetime.now(UTC).date().isoformat()
        with self._lock:
            if self._sent_today[(phone, day)] >= self.daily_limit:
                return "throttled"
            self._sent_today[(phone, day)] += 1
            names, text = templates[template_id]
            for i, name in enumerate(names, 1):
                text = text.replace("${" + name + "}", values[name]).replace("{" + str(i) + "}", values[name])
            record = {
                "channel": "sms",
                "kind": "provider_request",
                "provider": self.provider,
                "to": phone,
                "sign_name": sign_name,
                "template": template_id,
                "params": values,
                "body": f"【{sign_name}】{text}",
                "sent_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            }
            self.received.append(record)
            if self.outbox:  # as every outbox entry records template values: a one-time code hidden
                Path(self.outbox).parent.mkdir(parents=True, exist_ok=True)
                with open(self.outbox, "a", encoding="utf-8") as out:
                    out.write(json.dumps({**record, "params": shown_values(values)}, ensure_ascii=False) + "\n")
        return None


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _age_seconds(moment: datetime) -> float:
    return abs((datetime.now(UTC) - moment).total_seconds())


def acs3_signature_error(
    method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str], body: bytes, credentials: dict[str, str]
) -> tuple[int, str] | None:
    """Alibaba's ACS3-HMAC-SHA256 check: None if the request is signed with the local AccessKey."""
    auth = headers.get("authorization", "")
    algorithm, _, rest = auth.partition(" ")
    parts = dict(part.split("=", 1) for part in rest.split(",") if "=" in part)
    if algorithm != "ACS3-HMAC-SHA256" or not {"Credential", "SignedHeaders", "Signature"} <= set(parts):
        return 400, "IncompleteSignature"
    if parts["Credential"] != credentials["access_key_id"]:
        return 404, "InvalidAccessKeyId.NotFound"
    payload_hash = hashlib.sha256(body).hexdigest()
    if headers.get("x-acs-content-sha256") != payload_hash:
        return 400, "SignatureDoesNotMatch"
    try:
        signed_at = datetime.strptime(headers.get("x-acs-date", ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return 400, "InvalidTimeStamp.Format"
    if _age_seconds(signed_at) > 15 * 60:
        return 400, "InvalidTimeStamp.Expired"
    signed = parts["SignedHeaders"].split(";")
    canonical_query = "&".join(f"{k}={quote(v, safe='~')}" for k, v in sorted(query))
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed)
    canonical = f"{method}\n{path or '/'}\n{canonical_query}\n{canonical_headers}\n{parts['SignedHeaders']}\n{payload_hash}"
    to_sign = f"ACS3-HMAC-SHA256\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    expected = hmac.new(credentials["access_key_secret"].encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    if "host" not in signed or not hmac.compare_digest(expected, parts["Signature"]):
        return 400, "SignatureDoesNotMatch"
    return None


def tc3_signature_error(method: str, path: str, headers: dict[str, str], body: bytes, credentials: dict[str, str]) -> str | None:
    """Tencent's TC3-HMAC-SHA256 check: None if the request is signed with the local SecretKey."""
    auth = headers.get("authorization", "")
    algorithm, _, rest = auth.partition(" ")
    parts = dict(part.strip().split("=", 1) for part in rest.split(",") if "=" in part)
    scope = parts.get("Credential", "").split("/")
    if algorithm != "TC3-HMAC-SHA256" or len(scope) != 4 or "Signature" not in parts:
        return "AuthFailure.SignatureFailure"
    secret_id, date, service, terminator = scope
    if secret_id != credentials["secret_id"]:
        return "AuthFailure.SecretIdNotFound"
    try:
        timestamp = int(headers.get("x-tc-timestamp", ""))
    except ValueError:
        return "AuthFailure.SignatureFailure"
    signed_at = datetime.fromtimestamp(timestamp, UTC)
    if _age_seconds(signed_at) > 5 * 60:
        return "AuthFailure.SignatureExpire"
    if date != signed_at.strftime("%Y-%m-%d") or service != "sms" or terminator != "tc3_request":
        return "AuthFailure.SignatureFailure"
    signed = parts.get("SignedHeaders", "").split(";")
    canonical_headers = "".join(f"{name}:{headers.get(name, '')}\n" for name in signed)
    canonical = f"{method}\n{path or '/'}\n\n{canonical_headers}\n{parts.get('SignedHeaders', '')}\n{hashlib.sha256(body).hexdigest()}"
    to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{date}/{service}/tc3_request\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = _hmac(_hmac(_hmac(("TC3" + credentials["secret_key"]).encode(), date), service), "tc3_request")
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if "host" not in signed or "content-type" not in signed or not hmac.compare_digest(expected, parts["Signature"]):
        return "AuthFailure.SignatureFailure"
    return None


ALIYUN_REFUSALS = {
    "throttled": ("isv.BUSINESS_LIMIT_CONTROL", "触发号码天级流控Permits:10"),
    "template": ("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板"),
    "sign": ("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名"),
}
TENCENT_REFUSALS = {
    "template": (
        "FailedOperation.TemplateIncorrectOrUnapproved",
        "template is not approved or request content does not match the approved template content.",
    ),
    "sign": ("FailedOperation.SignatureIncorrectOrUnapproved", "signature format is incorrect or signature is not approved."),
}

TENCENT_DAILY_LIMIT = (
    "LimitExceeded.PhoneNumberDailyLimit",
    "the number of sms messages sent from a single mobile number every day exceeds the upper limit",
)


class _Handler(BaseHTTPRequestHandler):
    server: _FakeServer
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:  # no phone numbers in the stack's log
        return

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        url = urlsplit(self.path)
        fake = self.server.fake
        if fake.provider == "aliyun":
            self._aliyun(url.path, parse_qsl(url.query, keep_blank_values=True), headers, body, fake)
        else:
            self._tencent(url.path, headers, body, fake)

    def _aliyun(self, path: str, query: list[tuple[str, str]], headers: dict[str, str], body: bytes, fake: FakeProvider) -> None:
        request_id = str(uuid.uuid4()).upper()
        refused = acs3_signature_error("POST", path, query, headers, body, fake.credentials)
        if refused is not None:
            status, code = refused
            message = "Specified signature does not match our calculation."
            self._answer(status, {"RequestId": request_id, "HostId": "dysmsapi.aliyuncs.com", "Code": code, "Message": message})
            return
        if headers.get("x-acs-action") != "SendSms" or headers.get("x-acs-version") != "2017-05-25":
            self._answer(404, {"RequestId": request_id, "Code": "InvalidAction.NotFound", "Message": "Specified api is not found."})
            return
        params = dict(query)
        try:
            values = {str(k): str(v) for k, v in json.loads(params.get("TemplateParam") or "{}").items()}
        except (ValueError, AttributeError):
            self._answer(200, {"RequestId": request_id, "Code": "isv.INVALID_JSON_PARAM", "Message": "JSON参数不合法"})
            return
        why = fake.accept(params.get("PhoneNumbers", ""), params.get("SignName", ""), params.get("TemplateCode", ""), values)
        if why is not None:
            code, message = ALIYUN_REFUSALS[why]
            self._answer(200, {"RequestId": request_id, "Code": code, "Message": message})
            return
        biz_id = f"{secrets.randbelow(10**18)}^0"
        # Queued before the answer: whoever got the answer finds the receipt waiting (a test reads it at once).
        fake.queue_receipt(biz_id, params.get("PhoneNumbers", ""))
        self._answer(200, {"RequestId": request_id, "Code": "OK", "Message": "OK", "BizId": biz_id})

    def _tencent(self, path: str, headers: dict[str, str], body: bytes, fake: FakeProvider) -> None:
        request_id = str(uuid.uuid4())

        def error(code: str, message: str) -> None:
            self._answer(200, {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": request_id}})

        refused = tc3_signature_error("POST", path, headers, body, fake.credentials)
        if refused is not None:
            error(refused, "The provided credentials could not be validated. Please check your signature is correct.")
            return
        if headers.get("x-tc-action") != "SendSms" or headers.get("x-tc-version") != "2021-01-11":
            error("InvalidAction", "The requested action does not exist.")
            return
        try:
            request = json.loads(body)
            phones = [str(p) for p in request["PhoneNumberSet"]]
            values_in_order = [str(v) for v in request.get("TemplateParamSet") or []]
            template_id, sign_name = str(request["TemplateId"]), str(request.get("SignName", ""))
        except (ValueError, KeyError, TypeError):
            error("InvalidParameter", "The request body is not a valid SendSms request.")
            return
        names = fake.templates().get(template_id, ((), ""))[0]
        if len(names) != len(values_in_order):
            code, message = TENCENT_REFUSALS["template"]
            error(code, message)
            return
        statuses = []
        for phone in phones:
            why = fake.accept(phone, sign_name, template_id, dict(zip(names, values_in_order, strict=True)))
            if why in TENCENT_REFUSALS:
                code, message = TENCENT_REFUSALS[why]
                error(code, message)
                return
            code, message = ("Ok", "send success") if why is None else TENCENT_DAILY_LIMIT
            serial = f"2028:{secrets.token_hex(10)}"
            fee = 1 if why is None else 0
            status = {"SerialNo": serial, "PhoneNumber": phone, "Fee": fee, "SessionContext": "", "Code": code, "Message": message}
            statuses.append({**status, "IsoCode": "CN"})
        for status in statuses:  # queued before the answer, as Alibaba's
            if status["Code"] == "Ok":
                fake.queue_receipt(str(status["SerialNo"]), str(status["PhoneNumber"]))
        self._answer(200, {"Response": {"SendStatusSet": statuses, "RequestId": request_id}})


class _FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeProvider, host: str, port: int) -> None:
        super().__init__((host, port), _Handler)
        self.fake = fake


class FakeSmsProvider:
    """One provider's fake, served on loopback in a thread."""

    def __init__(self, provider: str, credentials: dict[str, str], outbox: str | None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fake = FakeProvider(provider, credentials, outbox)
        self._server = _FakeServer(self.fake, host, port)
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"fake-{provider}-sms", daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> FakeSmsProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
