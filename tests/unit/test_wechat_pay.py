"""WeChat Pay API v3 primitives (domain/wechat_pay.py): signatures, freshness, AES-256-GCM resources."""

from __future__ import annotations

import base64
import functools
import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import wechat_pay as wxpay

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
APIV3_KEY = "0123456789abcdef0123456789abcdef"


@functools.cache
def pair() -> tuple[str, str]:
    return wxpay.new_key_pair()


@functools.cache
def other_pair() -> tuple[str, str]:
    return wxpay.new_key_pair()


def test_a_signature_verifies_with_the_signers_public_key_only():
    private, public = pair()
    signature = wxpay.sign(private, "1700000000\nnonce\n{}\n")

    wxpay.verify(public, "1700000000\nnonce\n{}\n", signature)
    with pytest.raises(wxpay.BadSignature):
        wxpay.verify(other_pair()[1], "1700000000\nnonce\n{}\n", signature)
    with pytest.raises(wxpay.BadSignature):
        wxpay.verify(public, "1700000000\nnonce\n{ }\n", signature)
    with pytest.raises(wxpay.BadSignature):
        wxpay.verify(public, "1700000000\nnonce\n{}\n", "not base64!")


def test_a_notification_is_accepted_within_five_minutes_and_refused_outside():
    private, public = pair()
    body = '{"id":"1"}'

    def signed(at: datetime) -> tuple[str, str, str]:
        ts = str(int(at.timestamp()))
        return ts, "n1", wxpay.sign(private, wxpay.response_message(ts, "n1", body))

    wxpay.verify_signed(public, *signed(NOW - timedelta(seconds=299)), body, NOW)
    with pytest.raises(wxpay.StaleTimestamp):
        wxpay.verify_signed(public, *signed(NOW - timedelta(seconds=301)), body, NOW)
    with pytest.raises(wxpay.StaleTimestamp):
        wxpay.verify_signed(public, *signed(NOW + timedelta(seconds=301)), body, NOW)
    with pytest.raises(wxpay.BadSignature):
        wxpay.verify_signed(public, None, "n1", "sig", body, NOW)


def test_the_request_signature_message_and_authorization_header_follow_the_v3_format():
    private, public = pair()
    path = "/v3/pay/transactions/jsapi"
    signed = {"method": "POST", "path": path, "body": "{}", "timestamp": "1", "nonce": "n"}
    header = wxpay.authorization(mchid="1900000109", serial_no="ABC", private_key_pem=private, **signed)
    auth = wxpay.parse_authorization(header)

    assert header.startswith('WECHATPAY2-SHA256-RSA2048 mchid="1900000109",nonce_str="n",timestamp="1",serial_no="ABC",signature="')
    wxpay.verify(public, "POST\n/v3/pay/transactions/jsapi\n1\nn\n{}\n", auth.signature)
    with pytest.raises(wxpay.BadSignature):
        wxpay.parse_authorization("Bearer x")


def test_a_resource_decrypts_with_the_apiv3_key_and_its_associated_data_only():
    plain = json.dumps({"out_trade_no": "WX1", "amount": {"total": 100}}).encode()
    resource = wxpay.encrypt_resource(APIV3_KEY, plain, "transaction")

    assert wxpay.decrypt_resource(APIV3_KEY, resource["nonce"], "transaction", resource["ciphertext"]) == plain
    with pytest.raises(wxpay.BadResource):
        wxpay.decrypt_resource("f" * 32, resource["nonce"], "transaction", resource["ciphertext"])
    with pytest.raises(wxpay.BadResource):
        wxpay.decrypt_resource(APIV3_KEY, resource["nonce"], "refund", resource["ciphertext"])
    flipped = bytearray(base64.b64decode(resource["ciphertext"]))
    flipped[0] ^= 1
    with pytest.raises(wxpay.BadResource):
        wxpay.decrypt_resource(APIV3_KEY, resource["nonce"], "transaction", base64.b64encode(bytes(flipped)).decode())


def test_the_mini_program_payment_params_are_signed_over_appid_time_nonce_and_package():
    private, public = pair()
    params = wxpay.mini_program_payment(appid="wxapp", prepay_id="wx123", private_key_pem=private, timestamp="1700000000", nonce="abc")

    assert params["package"] == "prepay_id=wx123" and params["signType"] == "RSA"
    wxpay.verify(public, "wxapp\n1700000000\nabc\nprepay_id=wx123\n", params["paySign"])
