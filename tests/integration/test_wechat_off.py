"""A stage without WeChat (infra/stack.py sets its appids to "off" and creates no secret), or with
the stack's placeholder still in the secret: WeChat sign-in answers a clean 404
wechat_not_configured, WeChat is never called and nothing is written."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.settings import get_settings
from chalicelib.store.models import BaseItem


def _items() -> int:
    return sum(1 for _ in BaseItem.scan())


@pytest.fixture
def reconfigure(monkeypatch: pytest.MonkeyPatch):
    def apply(**env: str) -> None:
        for var, value in env.items():
            monkeypatch.setenv(var, value)
        get_settings.cache_clear()

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()


def _assert_not_configured(reply: Any) -> None:
    assert reply.status == 404, reply.text
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    assert reply.json()["code"] == "wechat_not_configured"


def test_given_a_stage_without_wechat_then_sign_in_is_off_with_a_clean_404_and_nothing_written(api, wechat, reconfigure):
    reconfigure(WECHAT_MINI_PROGRAM_APPID="off", WECHAT_OFFICIAL_ACCOUNT_APPID="off")
    before = _items()
    _assert_not_configured(api.post("/v1/wechat/sessions", {"code": "alice.1"}))
    _assert_not_configured(api.post("/v1/wechat/sessions", {"code": "alice.2", "app": "official_account"}))
    assert not wechat.used_codes  # WeChat was never asked
    assert _items() == before
    assert api.get("/v1/program").json()["wechat_sign_in"] is None  # the web app offers no WeChat button


def test_given_the_stacks_placeholder_still_in_the_secret_then_sign_in_is_off_with_a_clean_404(api, aws, wechat, reconfigure):
    # What the stack creates before the brand puts its AppSecrets in (infra/stack.py _wechat_app_secrets).
    placeholder = json.dumps({"placeholder": True, "unused": "x"})
    aws.client("ssm").put_parameter(Name="/huiyuan/test/wechat-placeholder", Value=placeholder, Type="SecureString")
    reconfigure(WECHAT_SECRETS_PARAMETER="/huiyuan/test/wechat-placeholder")
    before = _items()
    _assert_not_configured(api.post("/v1/wechat/sessions", {"code": "alice.1"}))
    assert not wechat.used_codes
    assert _items() == before
