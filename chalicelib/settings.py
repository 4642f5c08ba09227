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
    # Who sends SMS (notify/sms.py, docs/sms-providers.md): "sns" (Amazon SNS, free text), or a
    # template provider, "aliyun" (Alibaba Cloud SMS) or "tencent" (Tencent Cloud SMS), with the
    # brand's registered signature, its templates per message kind (JSON: domain/sms_templates.py),
    # and the SecureString (or /aws/reference/secretsmanager/ path) holding the provider's keys.
    sms_provider: str = "sns"
    sms_sign_name: str = ""
    sms_templates: str = ""
    sms_credentials_parameter: str = "/huiyuan/local/sms-credentials"
    # Tencent's SmsSdkAppId and region; the provider's endpoint (unset: its public one; the local
    # stage points it at its fakes on loopback).
    sms_app_id: str = ""
    sms_region: str = "ap-guangzhou"
    sms_endpoint: str | None = None
    # WeChat (docs/wechat.md): the API's base URL (the local stage points it at its fake on
    # loopback), the brand's mini-program and official-account appids (empty: that sign-in is off),
    # the parameter holding their app secrets (JSON appid -> secret; Secrets Manager when deployed),
    # and how long a call may take before the member is told WeChat is unavailable.
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_mini_program_appid: str = "wx10ca1000000000a1"
    wechat_official_account_appid: str = "wx10ca1000000000b2"
    wechat_secrets_parameter: str = "/huiyuan/local/wechat-app-secrets"
    wechat_timeout_seconds: int = 3
    # The official account's OAuth authorize page, where the member web app sends a member who
    # opened it inside WeChat (GET /v1/program's `wechat_sign_in`); the local stage: its fake's.
    wechat_oauth_authorize_url: str = "https://open.weixin.qq.com/connect/oauth2/authorize"
    # Operators' batches of product codes (docs/scan-codes.md): up to this many codes are written in
    # the request; a bigger batch is queued as parts of `product_codes_part_size` codes each. The
    # defaults are domain/product_codes.py's SYNC_MAX and PART_SIZE; the suite lowers both to take
    # the queued path with a few hundred codes. Fixed per deployment: a queued batch's parts are
    # cut and written with the same size.
    product_codes_sync_max: int = 10_000
    product_codes_part_size: int = 5_000
    # Bulk imports of members (store/import_files.py): the bucket operators upload files to by a
    # pre-signed PUT (the stack creates it: private, encrypted, uploads deleted after a week), and
    # the largest file an import takes (bigger ones are refused when the import starts).
    import_bucket: str = "huiyuan-local-imports"
    import_max_bytes: int = 256 * 1024 * 1024
    # WeChat Pay API v3 (docs/wechat-pay.md): the Secrets Manager secret with the merchant's keys,
    # WeChat Pay's address (the local stage: its fake on loopback), and the notification URL
    # WeChat Pay calls (this API's /v1/wechat-pay/notifications, as the world reaches it).
    wechat_pay_secret: str = "huiyuan/local/wechat-pay"  # noqa: S105 - the secret's name, not a secret
    wechat_pay_base_url: str = "https://api.mch.weixin.qq.com"
    wechat_pay_notify_url: str = "http://127.0.0.1:8000/v1/wechat-pay/notifications"

    def __post_init__(self) -> None:
        if self.sms_provider not in ("sns", "aliyun", "tencent"):
            raise SettingsError(f"SMS_PROVIDER must be sns, aliyun or tencent, not {self.sms_provider!r}")
        if self.sms_provider != "sns":
            from .domain.sms_templates import TemplateMappingError, parse_templates

            try:
                parse_templates(self.sms_templates)
            except TemplateMappingError as exc:
                raise SettingsError(str(exc)) from None
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
    "sms_provider": "SMS_PROVIDER",
    "sms_sign_name": "SMS_SIGN_NAME",
    "sms_templates": "SMS_TEMPLATES",
    "sms_credentials_parameter": "SMS_CREDENTIALS_PARAMETER",
    "sms_app_id": "SMS_APP_ID",
    "sms_region": "SMS_REGION",
    "sms_endpoint": "SMS_ENDPOINT",
    "wechat_api_base": "WECHAT_API_BASE",
    "wechat_mini_program_appid": "WECHAT_MINI_PROGRAM_APPID",
    "wechat_official_account_appid": "WECHAT_OFFICIAL_ACCOUNT_APPID",
    "wechat_secrets_parameter": "WECHAT_SECRETS_PARAMETER",
    "wechat_timeout_seconds": "WECHAT_TIMEOUT_SECONDS",
    "wechat_oauth_authorize_url": "WECHAT_OAUTH_AUTHORIZE_URL",
    "product_codes_sync_max": "PRODUCT_CODES_SYNC_MAX",
    "product_codes_part_size": "PRODUCT_CODES_PART_SIZE",
    "import_bucket": "IMPORT_BUCKET",
    "import_max_bytes": "IMPORT_MAX_BYTES",
    "wechat_pay_secret": "WECHAT_PAY_SECRET",
    "wechat_pay_base_url": "WECHAT_PAY_BASE_URL",
    "wechat_pay_notify_url": "WECHAT_PAY_NOTIFY_URL",
}
# The integer settings and their allowed ranges.
_RANGES = (
    ("rules_cache_seconds", 0, 86_400),
    ("max_body_bytes", 1024, 10 * 1024 * 1024),
    ("index_shards", 1, 256),
    ("wechat_timeout_seconds", 1, 10),
    ("product_codes_sync_max", 1, 100_000),
    ("product_codes_part_size", 1, 100_000),
    ("import_max_bytes", 1, 1024**3),
)
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
