"""WeChat Pay API v3's signatures and encrypted resources, pure (docs/wechat-pay.md).

Three primitives, as https://pay.weixin.qq.com/doc/v3/merchant/ specifies them:

- a request to WeChat Pay carries `Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,
  timestamp=…,serial_no=…,signature=…`, the signature RSA PKCS#1 v1.5 / SHA-256 with the merchant's
  private key over `METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY\\n`;
- WeChat Pay's answers and notifications carry `Wechatpay-Timestamp`, `-Nonce`, `-Signature` and
  `-Serial`: the same signature by WeChat Pay's platform key over `TIMESTAMP\\nNONCE\\nBODY\\n`;
- a notification's `resource` is AES-256-GCM with the merchant's APIv3 key (32 bytes), its
  `nonce` (12 bytes) and `associated_data`; the ciphertext is base64 with the 16-byte tag at the end.

The library `wechatpayv3` does the same but its gateway is fixed to api.mch.weixin.qq.com, it
downloads platform certificates at construction and does not check a notification's age: these
few functions (on `cryptography`) can be pointed at the local fake and keep no global state.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TypeGuard

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCHEMA = "WECHATPAY2-SHA256-RSA2048"
# WeChat Pay's own guidance: refuse a notification whose timestamp is more than 5 minutes off.
MAX_SKEW_SECONDS = 300


class BadSignature(Exception):
    """The signature does not verify, or its headers are missing or malformed."""


class StaleTimestamp(Exception):
    """The signed timestamp is too far from now: a replay, or a clock far off."""


class BadResource(Exception):
    """The encrypted resource cannot be decrypted with the APIv3 key (or is not what it claims)."""


def is_id(value: object, max_length: int) -> TypeGuard[str]:
    """A WeChat Pay identifier we make or accept (out_trade_no <= 32, transaction_id and
    out_refund_no <= 64): letters and digits only, the subset of WeChat Pay's alphabet we use."""
    return isinstance(value, str) and 0 < len(value) <= max_length and value.isascii() and value.isalnum()


def new_nonce() -> str:
    return secrets.token_hex(16)


def _private_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _public_key(pem: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def sign(private_key_pem: str, message: str) -> str:
    """Base64 RSA PKCS#1 v1.5 SHA-256 signature of `message`."""
    signature = _private_key(private_key_pem).sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def verify(public_key_pem: str, message: str, signature_b64: str) -> None:
    """Raise BadSignature unless `signature_b64` is the key's signature of `message`."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        _public_key(public_key_pem).verify(signature, message.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise BadSignature("the signature does not verify") from exc


def request_message(method: str, path: str, timestamp: str, nonce: str, body: str) -> str:
    """What a request to WeChat Pay signs (`path` with its query string)."""
    return f"{method}\n{path}\n{timestamp}\n{nonce}\n{body}\n"


def response_message(timestamp: str, nonce: str, body: str) -> str:
    """What WeChat Pay signs in an answer or a notification."""
    return f"{timestamp}\n{nonce}\n{body}\n"


def authorization(*, mchid: str, serial_no: str, private_key_pem: str, method: str, path: str, body: str, timestamp: str, nonce: str) -> str:
    """The Authorization header of a request to WeChat Pay."""
    signature = sign(private_key_pem, request_message(method, path, timestamp, nonce, body))
    return f'{SCHEMA} mchid="{mchid}",nonce_str="{nonce}",timestamp="{timestamp}",serial_no="{serial_no}",signature="{signature}"'


@dataclass(frozen=True)
class Authorization:
    mchid: str
    nonce: str
    timestamp: str
    serial_no: str
    signature: str


def parse_authorization(header: str | None) -> Authorization:
    """The parts of an Authorization header (the fake's side); BadSignature if it is not one."""
    if not header or not header.startswith(SCHEMA + " "):
        raise BadSignature("not a WECHATPAY2-SHA256-RSA2048 authorization")
    parts: dict[str, str] = {}
    for item in header[len(SCHEMA) + 1 :].split(","):
        name, _, value = item.strip().partition("=")
        parts[name] = value.strip('"')
    try:
        return Authorization(parts["mchid"], parts["nonce_str"], parts["timestamp"], parts["serial_no"], parts["signature"])
    except KeyError as exc:
        raise BadSignature(f"authorization without {exc.args[0]}") from None


def check_fresh(timestamp: str, now: datetime, max_skew: int = MAX_SKEW_SECONDS) -> None:
    """Raise StaleTimestamp unless `timestamp` (Unix seconds, as text) is within `max_skew` of `now`."""
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        raise StaleTimestamp("not a Unix timestamp")
    if abs(now.timestamp() - int(timestamp)) > max_skew:
        raise StaleTimestamp("the timestamp is more than 5 minutes from now")


def verify_signed(public_key_pem: str, timestamp: str | None, nonce: str | None, signature: str | None, body: str, now: datetime) -> None:
    """Check an answer or notification from WeChat Pay: signed by the platform key, and fresh.
    BadSignature or StaleTimestamp otherwise."""
    if not timestamp or not nonce or not signature:
        raise BadSignature("Wechatpay-Timestamp, Wechatpay-Nonce and Wechatpay-Signature are required")
    verify(public_key_pem, response_message(timestamp, nonce, body), signature)
    check_fresh(timestamp, now)


def decrypt_resource(apiv3_key: str, nonce: str, associated_data: str, ciphertext_b64: str) -> bytes:
    """The plain text of an AES-256-GCM `resource`; BadResource if it does not authenticate."""
    try:
        return AESGCM(apiv3_key.encode()).decrypt(nonce.encode(), base64.b64decode(ciphertext_b64, validate=True), associated_data.encode())
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise BadResource("the resource does not decrypt with the APIv3 key") from exc


def encrypt_resource(apiv3_key: str, plaintext: bytes, associated_data: str, nonce: str | None = None) -> dict[str, str]:
    """A `resource` as WeChat Pay sends it (the fake's side)."""
    nonce = nonce or secrets.token_hex(6)  # 12 characters
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), plaintext, associated_data.encode())
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": associated_data,
        "nonce": nonce,
    }


def mini_program_payment(*, appid: str, prepay_id: str, private_key_pem: str, timestamp: str, nonce: str) -> dict[str, str]:
    """What `wx.requestPayment` takes: signed by the merchant key over appid, time, nonce, package."""
    package = f"prepay_id={prepay_id}"
    pay_sign = sign(private_key_pem, f"{appid}\n{timestamp}\n{nonce}\n{package}\n")
    return {"appId": appid, "timeStamp": timestamp, "nonceStr": nonce, "package": package, "signType": "RSA", "paySign": pay_sign}


def new_key_pair() -> tuple[str, str]:
    """(private PEM, public PEM) of a new RSA-2048 key: for the local stage and tests only."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public
