"""SMS delivery receipts (issue 17, item 4): a template provider's fake accepts an SMS through its
SDK, then posts the receipt it would send (Tencent's status callback, Alibaba's SmsReport push) to
the receipt route with the stage's token. The send's message id is kept without the phone; the
receipt is recorded once (delivered, or failed with the carrier's code) and counted; a replay
changes nothing; an unknown id or a wrong token is a clean 4xx and writes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.notify import sms
from chalicelib.settings import get_settings
from chalicelib.store.models import BaseItem
from chalicelib.usecases.sms_receipts import delivery_of
from localstage.bootstrap import put_sms_credentials
from localstage.sms_fakes import SIGN_NAME, FakeSmsProvider, generate_credentials, local_template_mapping
from tests.support.emf import metric_values

PROVIDERS = ("aliyun", "tencent")


@pytest.fixture(params=PROVIDERS)
def provider(request: pytest.FixtureRequest, aws: Any, monkeypatch: pytest.MonkeyPatch, outbox_path: str, api: Any) -> Iterator[FakeSmsProvider]:
    """The stage sends SMS by `request.param`; its fake posts receipts to the API (in process)."""
    name = request.param
    credentials = generate_credentials(name)
    fake = FakeSmsProvider(name, credentials, outbox_path).start()
    put_sms_credentials(get_settings(), aws, credentials)
    env = {"SMS_PROVIDER": name, "SMS_ENDPOINT": fake.endpoint, "SMS_SIGN_NAME": SIGN_NAME, "SMS_TEMPLATES": local_template_mapping(name)}
    for var, value in {**env, "SMS_APP_ID": "1400000001"}.items():
        monkeypatch.setenv(var, value)
    _reconfigure()
    fake.fake.report_to = lambda reports: api.post(receipt_path(fake, credentials["receipt_token"]), reports)
    yield fake
    fake.stop()
    monkeypatch.undo()
    _reconfigure()


def _reconfigure() -> None:
    get_settings.cache_clear()
    sms.forget_credentials()


def receipt_path(fake: FakeSmsProvider, token: str) -> str:
    return f"/v1/sms/receipts/{fake.fake.provider}/{token}"


def _items() -> list[dict[str, Any]]:
    return sorted((item.serialize() for item in BaseItem.scan()), key=lambda i: json.dumps(i, sort_keys=True))


def _sign_up(api: Any, members: Any, fake: FakeSmsProvider) -> str:
    """A signup whose code the provider accepted; the message id it gave."""
    return _sign_up_phone(api, members, fake)[0]


def _sign_up_phone(api: Any, members: Any, fake: FakeSmsProvider) -> tuple[str, str]:
    phone = members.phone()
    assert api.post("/v1/signup", {"phone": phone, "name": "张伟"}).status == 202
    [(message_id, _as_sent)] = fake.fake.pending_receipts
    return message_id, phone


def _answer_ok(fake: FakeSmsProvider, reply: Any) -> None:
    assert reply.status == 200, reply.text
    assert reply.json() == ({"result": 0, "errmsg": "OK"} if fake.fake.provider == "tencent" else {"code": 0, "msg": "成功"})


def test_given_an_sms_sent_when_the_provider_reports_it_delivered_then_it_is_delivered_once_and_counted(api, members, provider, emf):
    message_id, phone = _sign_up_phone(api, members, provider)
    assert delivery_of(provider.fake.provider, message_id) == ("sent", None)
    [send] = [i for i in _items() if "SmsSend" in json.dumps(i, default=str)]
    assert phone.removeprefix("+86") not in json.dumps(send, default=str)  # no phone kept with the send
    api.get("/v1/health")
    emf()

    [reply] = provider.fake.flush_receipts()

    _answer_ok(provider, reply)
    assert delivery_of(provider.fake.provider, message_id) == ("delivered", None)
    documents = emf()
    assert metric_values(documents, "SmsDelivered") == [1]
    assert metric_values(documents, "SmsDeliveryFailed") == []


def test_given_an_sms_sent_when_the_carrier_fails_it_then_it_is_failed_with_the_error_code(api, members, provider, emf):
    provider.fake.receipt_failure = "MK:100D" if provider.fake.provider == "tencent" else "IS_CLOSE"
    message_id = _sign_up(api, members, provider)
    emf()

    [reply] = provider.fake.flush_receipts()

    _answer_ok(provider, reply)
    assert delivery_of(provider.fake.provider, message_id) == ("failed", provider.fake.receipt_failure)
    assert metric_values(emf(), "SmsDeliveryFailed") == [1]


def test_given_a_receipt_recorded_when_it_is_replayed_or_contradicted_then_nothing_changes(api, members, provider, emf):
    message_id = _sign_up(api, members, provider)
    report = provider.fake.receipt(message_id, "+8613900000000")
    token = provider.fake.credentials["receipt_token"]
    _answer_ok(provider, api.post(receipt_path(provider, token), [report]))
    before = _items()
    emf()

    provider.fake.receipt_failure = "MK:100D"
    replays = [api.post(receipt_path(provider, token), [report]), api.post(receipt_path(provider, token), [provider.fake.receipt(message_id, "x")])]

    for reply in replays:
        _answer_ok(provider, reply)  # handled: the provider must not send it again
    assert _items() == before
    assert delivery_of(provider.fake.provider, message_id) == ("delivered", None)
    assert metric_values(emf(), "SmsDelivered") == []


def test_given_an_unknown_message_id_or_a_wrong_token_then_a_clean_4xx_and_nothing_written(api, members, provider):
    message_id = _sign_up(api, members, provider)
    token = provider.fake.credentials["receipt_token"]
    before = _items()

    unknown = api.post(receipt_path(provider, token), [provider.fake.receipt("no-such-id", "+8613900000000")])
    wrong = api.post(receipt_path(provider, token[:-1] + ("x" if token[-1] != "x" else "y")), [provider.fake.receipt(message_id, "x")])
    other = "tencent" if provider.fake.provider == "aliyun" else "aliyun"
    other_provider = api.post(f"/v1/sms/receipts/{other}/{token}", [provider.fake.receipt(message_id, "x")])
    malformed = api.post(receipt_path(provider, token), {"sid": message_id})

    for reply, status, code in ((unknown, 404, "not_found"), (wrong, 401, "unauthorized"), (malformed, 400, "validation_error")):
        assert reply.status == status, reply.text
        assert reply.headers["Content-Type"].startswith("application/problem+json")
        assert reply.json()["code"] == code
    assert other_provider.status in (400, 404)  # the stage's provider is another: no such route / not its shape
    assert _items() == before
    assert delivery_of(provider.fake.provider, message_id) == ("sent", None)
