"""Integration tests: the app in-process, AWS in moto (`mock_aws`)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.settings import get_settings
from chalicelib.store.parameters import clear_caches
from chalicelib.usecases.merchants import forget_cached_keys
from localstage.bootstrap import bootstrap
from tests.support.client import ApiClient
from tests.support.emf import emf_documents
from tests.support.outbox import last_code
from tests.support.rules import SUITE_RULES

MERCHANT = {"x-api-key": "local-dev-key"}


@functools.cache
def _session() -> boto3.Session:
    """One boto3 session per worker: its botocore loader keeps the service models it has read, so
    each test's bootstrap does not parse them again (half of a bootstrap's time). Its clients are
    new in every test, and moto's `mock_aws` intercepts them all."""
    return boto3.Session()


@pytest.fixture
def aws() -> Iterator[Any]:
    with mock_aws():
        clear_caches()
        forget_cached_keys()
        Path(os.environ["OUTBOX_PATH"]).unlink(missing_ok=True)
        session = _session()
        bootstrap(get_settings(), session, rules_json=SUITE_RULES.model_dump_json())
        yield session
    clear_caches()
    forget_cached_keys()


@pytest.fixture
def api(aws: Any) -> ApiClient:
    from app import app

    return ApiClient(app)


@pytest.fixture
def outbox_path() -> str:
    return os.environ["OUTBOX_PATH"]


class Members:
    """Factory: members in the states tests need, made through the API."""

    def __init__(self, api: ApiClient, outbox: str) -> None:
        self.api = api
        self.outbox = outbox
        self._next = 0

    def phone(self) -> str:
        self._next += 1
        return f"+86139{self._next:08d}"

    def signed_up(self, phone: str | None = None, name: str = "张伟", **extra: Any) -> str:
        phone = phone or self.phone()
        reply = self.api.post("/v1/signup", {"phone": phone, "name": name, **extra})
        assert reply.status == 202, reply.text
        return phone

    def verified(self, phone: str | None = None, *, confirm_email: bool = True, **extra: Any) -> tuple[str, dict[str, Any]]:
        """Returns (access token, verify response body). A signup's email is confirmed with the
        code sent to it, as the member would (unless `confirm_email=False`: then it stays pending)."""
        phone = self.signed_up(phone, **extra)
        reply = self.api.post("/v1/auth/verify", {"phone": phone, "code": last_code(self.outbox, phone)})
        assert reply.status == 200, reply.text
        body = reply.json()
        if extra.get("email") and confirm_email:
            code = last_code(self.outbox, extra["email"])
            confirmed = self.api.post("/v1/me/email/verify", {"code": code}, headers=bearer(body["access_token"]))
            assert confirmed.status == 200, confirmed.text
            body["member"] = confirmed.json()
        return body["access_token"], body

    def purchase(self, order_id: str, amount: int, **who: Any) -> Any:
        return self.api.post("/v1/purchases", {"order_id": order_id, "amount": amount, "currency": "CNY", **who}, headers=MERCHANT)


@pytest.fixture
def members(api: ApiClient, outbox_path: str) -> Members:
    return Members(api, outbox_path)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


EmfReader = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def emf(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> EmfReader:
    """The EMF documents (business metrics) printed since the last read; the test environment
    disables metrics, so they are enabled here."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    capsys.readouterr()
    return lambda: emf_documents(capsys.readouterr().out)


@pytest.fixture(scope="session")
def _wechat_server() -> Iterator[Any]:
    from localstage.wechat_fake import FakeWechat
    from tests.conftest import WECHAT_FAKE_PORT

    fake = FakeWechat({}, os.environ["OUTBOX_PATH"], port=WECHAT_FAKE_PORT, slow_seconds=1.5).start()
    yield fake
    fake.close()


@pytest.fixture
def wechat(aws: Any, _wechat_server: Any) -> Any:
    """The fake of WeChat's APIs on loopback, knowing this test's generated app secrets."""
    from chalicelib.notify.wechat import forget_tokens
    from localstage.bootstrap import wechat_app_secrets

    forget_tokens()
    fake = _wechat_server
    with fake.lock:
        fake.app_secrets = wechat_app_secrets(get_settings(), aws)
        fake.used_codes.clear()
        fake.tokens.clear()
        fake.withdrawn.clear()
        fake.received.clear()
    return fake
