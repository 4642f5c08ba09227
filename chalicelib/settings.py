"""Deployment settings, read once from the environment.

Program rules (earn rates, tiers, time zone...) are not settings: they live in
`rules.py` and, in the cloud, in SSM Parameter Store.

A frozen dataclass rather than a pydantic model, on purpose: the settings are
read while the app is imported, by every function (the member-token authorizer
included), and building the first pydantic model of a process costs ~20 ms on
top of importing pydantic (~60 ms), which the API then loads only with the
first request that needs it. The few checks pydantic did are below.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from functools import lru_cache


class SettingsError(ValueError):
    """An environment variable that cannot be used: the function must not start with it."""


@dataclass(frozen=True)
class Settings:
    stage: str = "local"
    table_name: str = "huiyuan-local"
    rules_parameter: str = "/huiyuan/local/program-rules"
    signing_key_parameter: str = "/huiyuan/local/token-signing-key"
    rules_cache_seconds: int = 60
    email_sender: str = "no-reply@huiyuan.example"
    # Local stage only: every outgoing message is also appended here.
    outbox_path: str | None = None
    max_body_bytes: int = 64 * 1024
    # Write-sharding of day-keyed index buckets; fixed per deployment.
    index_shards: int = 8
    jobs_queue_name: str = "huiyuan-local-jobs"
    # The web frontends' origin, for CORS (one origin per stage; unset: no CORS headers).
    cors_allow_origin: str | None = None
    # Where the API function reads the secret the web app's CloudFront distribution sends to prove a
    # request is its own (infra/web.py, api/caller_address.py); set by the stack, unset locally: then
    # no request's viewer-address header is believed.
    origin_verify_parameter: str | None = None
    # The bucket for files handed out once by a pre-signed URL (a batch of product codes for the
    # printer: store/exports.py); the stack creates it and sets its name.
    exports_bucket: str = "huiyuan-local-exports"
    # The bucket of the analytics engine: the table's exports, what the engine derives from them,
    # and segments' audiences (store/audiences.py); the stack creates it and sets its name.
    analytics_bucket: str = "huiyuan-local-analytics"
    # Which engine runs the analytics SQL (store/analytics_engine.py): "duckdb" (local stage, tests,
    # bench: embedded, never packaged into a Lambda) or "athena" (the cloud: set by the stack).
    analytics_engine: str = "duckdb"
    # Athena's Glue database and workgroup (the stack creates both and sets their names).
    analytics_database: str = "huiyuan_local_analytics"
    analytics_workgroup: str = "huiyuan-local-analytics"
    # SNS mobile push platform applications (notify/push.py): ARNs the stack sets, or names (the
    # local stage's, made by bootstrap); empty: push is not configured for that provider.
    push_apns_application: str = "huiyuan-local-apns"
    push_fcm_application: str = "huiyuan-local-fcm"
    # Business events (domain/events.py): the stage's EventBridge bus, and the queue webhook
    # deliveries wait in (usecases/webhooks.py); the stack creates both.
    event_bus_name: str = "huiyuan-local-events"
    webhooks_queue_name: str = "huiyuan-local-webhooks"
    # WeChat Pay API v3 (docs/wechat-pay.md): the Secrets Manager secret with the merchant's keys,
    # WeChat Pay's address (the local stage: its fake on loopback), and the notification URL
    # WeChat Pay calls (this API's /v1/wechat-pay/notifications, as the world reaches it).
    wechat_pay_secret: str = "huiyuan/local/wechat-pay"  # noqa: S105 - the secret's name, not a secret
    wechat_pay_base_url: str = "https://api.mch.weixin.qq.com"
    wechat_pay_notify_url: str = "http://127.0.0.1:8000/v1/wechat-pay/notifications"

    def __post_init__(self) -> None:
        if self.analytics_engine not in ("duckdb", "athena"):
            raise SettingsError(f"ANALYTICS_ENGINE must be duckdb or athena, not {self.analytics_engine!r}")
        for name, low, high in _RANGES:
            value = getattr(self, name)
            if not isinstance(value, int) or not low <= value <= high:
                raise SettingsError(f"{_ENV[name]} must be an integer from {low} to {high}, not {value!r}")

    @property
    def is_local(self) -> bool:
        return self.stage == "local"


_ENV = {
    "stage": "HUIYUAN_STAGE",
    "table_name": "TABLE_NAME",
    "rules_parameter": "RULES_PARAMETER",
    "signing_key_parameter": "SIGNING_KEY_PARAMETER",
    "rules_cache_seconds": "RULES_CACHE_SECONDS",
    "email_sender": "EMAIL_SENDER",
    "outbox_path": "OUTBOX_PATH",
    "max_body_bytes": "MAX_BODY_BYTES",
    "index_shards": "INDEX_SHARDS",
    "jobs_queue_name": "JOBS_QUEUE_NAME",
    "cors_allow_origin": "CORS_ALLOW_ORIGIN",
    "origin_verify_parameter": "ORIGIN_VERIFY_PARAMETER",
    "exports_bucket": "EXPORTS_BUCKET",
    "analytics_bucket": "ANALYTICS_BUCKET",
    "analytics_engine": "ANALYTICS_ENGINE",
    "analytics_database": "ANALYTICS_DATABASE",
    "analytics_workgroup": "ANALYTICS_WORKGROUP",
    "push_apns_application": "PUSH_APNS_APPLICATION",
    "push_fcm_application": "PUSH_FCM_APPLICATION",
    "event_bus_name": "EVENT_BUS_NAME",
    "webhooks_queue_name": "WEBHOOKS_QUEUE_NAME",
    "wechat_pay_secret": "WECHAT_PAY_SECRET",
    "wechat_pay_base_url": "WECHAT_PAY_BASE_URL",
    "wechat_pay_notify_url": "WECHAT_PAY_NOTIFY_URL",
}
# The integer settings and their allowed ranges.
_RANGES = (("rules_cache_seconds", 0, 86_400), ("max_body_bytes", 1024, 10 * 1024 * 1024), ("index_shards", 1, 256))
_INTEGERS = {name for name, _low, _high in _RANGES}
assert set(_ENV) == {f.name for f in fields(Settings)}, "every setting has its environment variable"


def _value(name: str, raw: str) -> str | int:
    if name not in _INTEGERS:
        return raw
    try:
        return int(raw.strip())
    except ValueError:
        raise SettingsError(f"{_ENV[name]} must be an integer, not {raw!r}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings(**{name: _value(name, os.environ[var]) for name, var in _ENV.items() if os.environ.get(var)})  # type: ignore[arg-type]  # each value has its field's type (_value)
