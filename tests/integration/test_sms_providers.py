"""SMS through Alibaba Cloud SMS and Tencent Cloud SMS (issue 17, item 4): the official SDKs talk
to the local fakes (localstage/sms_fakes.py), which verify each request's signature with the keys
generated for the stage and answer as the providers document. A brand's members get their codes
by the brand's registered template; a provider that refuses (bad keys, throttling, a template not
approved) gives the member the same retryable 503 as an SNS failure, and nothing counts as sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.notify import sms
from chalicelib.settings import get_settings
from localstage.bootstrap import put_sms_credentials
from localstage.sms_fakes import SIGN_NAME, FakeSmsProvider, generate_credentials, local_template_mapping
from tests.support.emf import metric_values
from tests.support.outbox import last_code, messages
from tests.support.rules import set_rules

PROVIDERS = ("aliyun", "tencent")


@pytest.fixture(params=PROVIDERS)
def provider(request: pytest.FixtureRequest, aws: Any, monkeypatch: pytest.MonkeyPatch, outbox_path: str) -> Iterator[FakeSmsProvider]:
    """The stage sends SMS by `request.param`, whose fake runs on loopback with fresh keys."""
    name = request.param
    credentials = generate_credentials(name)
    fake = FakeSmsProvider(name, credentials, outbox_path).start()
    put_sms_credentials(get_settings(), aws, credentials)
    env = {"SMS_PROVIDER": name, "SMS_ENDPOINT": fake.endpoint, "SMS_SIGN_NAME": SIGN_NAME, "SMS_TEMPLATES": local_template_mapping(name)}
    for var, value in {**env, "SMS_APP_ID": "1400000001"}.items():
        monkeypatch.setenv(var, value)
    _reconfigure()
    yield fake
    fake.stop()
    monkeypatch.undo()
    _reconfigure()


def _reconfigure() -> None:
    get_settings.cache_clear()
    sms.forget_credentials()


def _sent_to(outbox_path: str, phone: str) -> list[dict[str, Any]]:
    return [m for m in messages(outbox_path) if m["to"] in (phone, phone.removeprefix("+86"))]


def _as_provider_sees(provider: FakeSmsProvider, phone: str) -> str:
    return phone.removeprefix("+86") if provider.fake.provider == "aliyun" else phone


def _metrics_from_now(api: Any, emf: Any) -> None:
    """Metrics counted while they were disabled are printed with the next request's: flush them."""
    api.get("/v1/health")
    emf()


def _assert_503_nothing_sent(reply: Any, outbox_path: str, phone: str) -> None:
    assert reply.status == 503, reply.text
    assert reply.content_type.startswith("application/problem+json")
    assert reply.json()["code"] == "temporarily_unavailable"
    assert _sent_to(outbox_path, phone) == []


def test_given_a_template_provider_when_a_member_signs_up_then_the_code_goes_by_the_brands_template_and_signs_them_in(
    api, members, provider, outbox_path, emf
):
    phone = members.phone()
    _metrics_from_now(api, emf)
    assert api.post("/v1/signup", {"phone": phone, "name": "张伟"}).status == 202
    code = last_code(outbox_path, phone)
    [received] = provider.fake.received  # the fake verified the SDK's signature before accepting it
    assert received["to"] == _as_provider_sees(provider, phone)
    assert received["sign_name"] == SIGN_NAME
    assert received["params"] == {"code": code, "minutes": "5"}
    assert f"您的验证码为{code}" in received["body"]
    assert [m["kind"] for m in _sent_to(outbox_path, phone)] == ["provider_request", "verification_code"]
    # The outbox records the template's values, the one-time code hidden.
    [ours] = [m for m in _sent_to(outbox_path, phone) if m["kind"] == "verification_code"]
    assert ours["params"] == {"code": "******", "minutes": "5"}
    assert all(code not in json.dumps(m["params"]) for m in messages(outbox_path) if "params" in m)
    documents = emf()
    assert metric_values(documents, "SmsSent") == [1], documents

    reply = api.post("/v1/auth/verify", {"phone": phone, "code": code})
    assert reply.status == 200, reply.text
    assert [m["template"] for m in provider.fake.received] == [received["template"], json.loads(get_settings().sms_templates)["welcome"]["id"]]


def test_given_a_wrong_secret_when_a_code_is_asked_for_then_the_provider_refuses_the_signature_and_the_answer_is_a_clean_503(
    api, members, provider, aws, outbox_path
):
    keys = generate_credentials(provider.fake.provider)
    # The right key id, another secret: the request is signed, but not by the stage's keys.
    wrong = {k: (provider.fake.credentials[k] if k in ("access_key_id", "secret_id") else v) for k, v in keys.items()}
    put_sms_credentials(get_settings(), aws, wrong)
    _reconfigure()
    phone = members.phone()
    _assert_503_nothing_sent(api.post("/v1/signup", {"phone": phone, "name": "张伟"}), outbox_path, phone)
    assert provider.fake.received == []


def test_given_the_provider_throttles_the_number_then_the_member_gets_a_retryable_503_and_nothing_is_marked_sent(
    api, members, provider, outbox_path, emf
):
    provider.fake.daily_limit = 0  # Alibaba: isv.BUSINESS_LIMIT_CONTROL; Tencent: LimitExceeded.PhoneNumberDailyLimit
    phone = members.phone()
    _metrics_from_now(api, emf)
    _assert_503_nothing_sent(api.post("/v1/signup", {"phone": phone, "name": "张伟"}), outbox_path, phone)
    documents = emf()
    assert metric_values(documents, "SmsThrottled") == [1]
    assert metric_values(documents, "SmsSent") == []


def test_given_a_template_the_provider_has_not_approved_then_503_nothing_sent_and_a_count_to_alarm_on(
    api, members, provider, monkeypatch, outbox_path, emf
):
    mapping = json.loads(local_template_mapping(provider.fake.provider))
    mapping["verification_code"]["id"] = "SMS_999999999" if provider.fake.provider == "aliyun" else "9999999"
    monkeypatch.setenv("SMS_TEMPLATES", json.dumps(mapping))
    _reconfigure()
    phone = members.phone()
    _metrics_from_now(api, emf)
    _assert_503_nothing_sent(api.post("/v1/signup", {"phone": phone, "name": "张伟"}), outbox_path, phone)
    assert metric_values(emf(), "SmsTemplateRefused") == [1]
    assert provider.fake.received == []


def test_given_a_kind_without_a_template_then_it_is_not_sent_and_counted_and_the_sign_in_still_works(
    api, members, provider, monkeypatch, outbox_path, emf
):
    mapping = json.loads(local_template_mapping(provider.fake.provider))
    del mapping["welcome"]
    monkeypatch.setenv("SMS_TEMPLATES", json.dumps(mapping))
    _reconfigure()
    phone = members.signed_up()
    _metrics_from_now(api, emf)
    assert api.post("/v1/auth/verify", {"phone": phone, "code": last_code(outbox_path, phone)}).status == 200
    assert metric_values(emf(), "SmsWithoutTemplate") == [1]
    assert [m["kind"] for m in _sent_to(outbox_path, phone)] == ["provider_request", "verification_code"]  # no welcome


def test_given_a_template_provider_then_the_same_sending_limits_apply(api, members, provider, outbox_path):
    phone = members.phone()
    assert api.post("/v1/signup", {"phone": phone, "name": "张伟"}).status == 202
    again = api.post("/v1/auth/code", {"phone": phone})  # within code_resend_seconds
    assert again.status == 429, again.text
    assert again.json()["code"] == "too_many_attempts"
    assert len(provider.fake.received) == 1


def test_given_imported_members_when_an_invitation_goes_by_the_brands_template_then_each_carries_the_points_they_brought(
    api, aws, provider, outbox_path
):
    from tests.integration.test_campaigns import _drain
    from tests.integration.test_invitations import PHONES, _audience, _imported

    set_rules(aws, quiet_hours_start="00:00:00", quiet_hours_end="00:00:00")
    imported = _imported(api)  # PHONES[i] brought 100 * (i + 1) points
    _audience([m["member_id"] for m in imported])
    invitation = {"name": "迁移邀请", "segment_id": "seg_migrated", "kind": "invite", "message": {"sms": "请用本手机号登录会员"}}
    created = api.post("/v1/admin/campaigns", invitation)
    assert created.status == 201, created.text
    _drain()

    invites = {m["to"]: m for m in messages(outbox_path) if m["kind"] == "invite"}
    assert {phone: invites[phone]["params"] for phone in PHONES} == {phone: {"points": str(100 * (i + 1))} for i, phone in enumerate(PHONES)}
    # What the provider was asked to send says the same.
    sent = {r["to"]: r for r in provider.fake.received}
    assert [sent[_as_provider_sees(provider, p)]["params"] for p in PHONES] == [{"points": str(100 * (i + 1))} for i in range(len(PHONES))]
    assert f"您获得{300}积分" in sent[_as_provider_sees(provider, PHONES[2])]["body"]
