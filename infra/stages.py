"""Every deployed stage's settings, in one place.

What the code reads at run time (TABLE_NAME, RULES_PARAMETER, JOBS_QUEUE_NAME...)
lives where Chalice reads it, `.chalice/config.json`, and is read from there:
the stack names its table, queue, parameter and secret after those values, so
the code and the infrastructure cannot disagree. What only the infrastructure
needs (region, CORS origin, throttling, retention, sizes, alarm thresholds) is
here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from localstage.webapp import mp_verify_path

ROOT = Path(__file__).resolve().parent.parent
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"

# Powertools reads a Secrets Manager secret through this SSM path (GetParameter
# with decryption), so the code's `get_parameter(SIGNING_KEY_PARAMETER, decrypt=True)`
# reads a generated secret unchanged. CloudFormation cannot create SecureString
# parameters; it can generate a secret.
SECRETS_MANAGER_REFERENCE = "/aws/reference/secretsmanager/"


@dataclass(frozen=True)
class Stage:
    name: str  # the Chalice stage in .chalice/config.json, and the CDK stack id
    region: str
    production: bool  # retain data on delete, deletion and termination protection
    # API Gateway stage throttling (all methods): steady requests/s and burst.
    throttle_rate: float
    throttle_burst: int
    log_retention_days: int
    # Scheduled functions run a whole job when invoked with "inline"/"dry_run" from the console.
    job_timeout_seconds: int = 900
    # The queue worker; the queue's visibility timeout is 6x this (AWS's advice for SQS event sources).
    worker_timeout_seconds: int = 120
    # At most this many workers at once, to keep fan-out within DynamoDB and SMS rate limits.
    worker_max_concurrency: int = 10
    # Reserved concurrency, sized from the table's capacity (docs/operations.md, "Job concurrency"):
    # the worker gets exactly worker_max_concurrency (never less: a throttled SQS poll counts as a
    # receive, and 5 receives dead-letter a unit), each scheduled job function 1 (a run plans and
    # fans out in seconds; a console run does the whole job in one sequential invocation). One job
    # process acts on one member at a time, ~8 WRU a member (docs/performance.md) at ~20 ms a
    # transaction: at most ~400 WRU/s. Ten workers: ~4,000 WRU/s at most, what an on-demand table
    # serves from its first day; SMS sends slow the messaging jobs far below that. Reserving takes
    # concurrency from the account's pool, which must keep 100 unreserved: a new account whose
    # concurrency quota is still 10 sets this False until AWS raises it.
    reserve_job_concurrency: bool = True
    # The job functions' asynchronous invocations (the schedules): retries after a failure, and how
    # long a throttled invocation is retried before it goes to the failed-invocations queue.
    job_retry_attempts: int = 2
    job_event_max_age_seconds: int = 6 * 3600
    memory_mb: int = 512
    # Subscribed to the alarm topic when set (the subscriber confirms by email).
    alarm_email: str | None = None
    # The API 5xx rate (0..1) over 5 minutes that raises the alarm.
    api_5xx_rate: float = 0.01
    # --- abuse and SMS spend (docs/operations.md, "sms-volume"; docs/operators.md, "Request limits") ---
    # AWS WAF rate-based rules count requests per client IP over `waf_window_seconds` (60, 120,
    # 300 or 600) and block an address above the limit until its rate falls back under it.
    # The code-sending routes (signup, a sign-in code, a new phone, an email change): a person needs
    # one to three codes in five minutes (the app allows one per phone per 60 s), but a mobile
    # carrier's NAT can put hundreds of phones behind one address, so not 5. The app's own limits
    # per address, per phone and overall are program rules (README, "Program rules").
    waf_code_requests_per_ip: int = 20
    # Every route, per IP: loose, because a chain's POS server reports every store's purchases
    # from one address (10 a second sustained here). None: no such rule.
    waf_requests_per_ip: int | None = 3000
    waf_window_seconds: int = 300
    # The web app's CloudFront distribution proves its requests to the API with a generated secret
    # (infra/web.py, docs/web.md "The caller's address behind CloudFront"). Rotate it by raising
    # this number and deploying: a new secret replaces the old one in CloudFront, the WAF and the
    # API function's configuration in one deploy (docs/operations.md, "Rotate the origin secret").
    origin_secret_generation: int = 1
    # SMS sent (the app's SmsSent metric) in one hour that raises the sms-volume alarm. Campaign
    # jobs (birthday, re-engagement, messages held by quiet hours) count too: size it above them.
    sms_alarm_per_hour: int = 500
    # The SMS budget in USD a month: the sms-spend alarm fires at `sms_spend_alarm_fraction` of it
    # (SNS's SMSMonthToDateSpentUSD, account-wide), and with `set_sms_spend_limit` the stack sets
    # the account's SNS MonthlySpendLimit (region-wide, every app in the account) to it: SNS stops
    # sending SMS, verification codes included, once it is reached. It may not exceed the limit AWS
    # granted the account (the deploy fails if it does: raise that first, docs/operations.md).
    sms_monthly_budget_usd: int = 100
    sms_spend_alarm_fraction: float = 0.8
    set_sms_spend_limit: bool = True
    # Who sends the stage's SMS (docs/sms-providers.md): "sns", or a template provider, "aliyun"
    # or "tencent" (`-c sms_provider=aliyun` at synth/deploy overrides it). A template provider's
    # signature, templates and app id are the stage's SMS_* variables in .chalice/config.json; its
    # keys are the secret `sms_credentials_secret_name`, created here and filled in by the brand.
    # SNS's spend limit and alarm above do not see a template provider's spend: the app's own
    # code-sending limits (program rules) and the SmsSent alarm apply whoever sends.
    sms_provider: str = "sns"
    # WeChat sign-in and subscription messages (docs/wechat.md, "In the cloud"): the stage's
    # mini-program and official-account appids (public ids, not secrets; `-c wechat_mini_program_appid=...`
    # / `-c wechat_official_account_appid=...` override them). With either set the stack creates the
    # secret `wechat_secrets_secret_name` (JSON {appid: app secret}, filled in by the brand) and lets
    # the functions that call WeChat read it; with neither, WeChat is off in the stage: sign-in
    # answers 404 wechat_not_configured and no message goes out by WeChat.
    wechat_mini_program_appid: str | None = None
    wechat_official_account_appid: str | None = None
    # WeChat's check of the official account's web-page authorisation domain (网页授权域名, docs/wechat.md):
    # the XXXX of the MP_verify_XXXX.txt file WeChat shows the brand (letters and digits). Set, the web
    # app's distribution answers /MP_verify_XXXX.txt at its root with XXXX (infra/web.py); None: no such
    # file. `-c wechat_mp_verify_token=XXXX` sets or overrides it at synth/deploy.
    wechat_mp_verify_token: str | None = None
    # Every stage has its own customer-managed KMS key (`alias/huiyuan-<stage>`): it encrypts the
    # alarm topic (CloudWatch can only publish to a topic encrypted with a customer-managed key) and
    # the job queues. True: it also encrypts the table (and so its point-in-time and on-demand
    # backups), every log group and the signing-key secret, for brands whose regulators ask for a
    # key they control and audit. Off by default: the table, logs and secret are encrypted at rest
    # with AWS's keys either way, and the key then becomes a dependency of every read and write
    # (a disabled key or a broken key policy stops the program). Switching it is an in-place update.
    customer_managed_data_key: bool = False
    # The fixed monthly costs a small brand may turn off (docs/cost.md, "A cheaper setting"). web_acl:
    # the regional AWS WAF web ACL in front of the API (its per-address rate rules and AWS's managed
    # rules: about 9 USD a month plus 0.60 USD per million requests); without it the app's own
    # code-sending limits (program rules) and API Gateway's stage throttle remain, but nothing blocks
    # one address's flood of sign-up codes (SMS pumping) before it reaches the app, nor known-bad
    # addresses and exploit patterns. dashboard: the stage's CloudWatch dashboard (3 USD a month
    # beyond the account's three free ones); the alarms stay, and the metrics can still be graphed
    # in the console.
    web_acl: bool = True
    dashboard: bool = True
    # API Gateway logs to CloudWatch through one role per account and region. Set
    # False when another stack (or the console) already set it in this account/region.
    manage_api_gateway_account: bool = True
    # SNS mobile push (docs/push.md, "In the cloud"): the Secrets Manager secrets holding each
    # provider's credentials, as JSON {"principal": ..., "credential": ...} (APNs: the key id... or
    # certificate and private key; FCM: "credential" the service account JSON). The stack makes the
    # stage's platform applications from them (CloudFormation resolves the secret: never in the
    # template) and gives the functions their ARNs. None: that provider is off in this stage (a
    # device for it gets 409 invalid_state). `cdk deploy -c push_apns_secret=<name>` sets or
    # overrides one without editing this file. apns_platform: APNS (production) or APNS_SANDBOX.
    push_apns_secret: str | None = None
    push_fcm_secret: str | None = None
    apns_platform: str = "APNS"
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # What AWS WAF accepts for a rate-based rule, checked at synth rather than at deploy.
        if self.waf_window_seconds not in (60, 120, 300, 600):
            raise ValueError(f"stage {self.name}: waf_window_seconds must be 60, 120, 300 or 600")
        for limit in (self.waf_code_requests_per_ip, self.waf_requests_per_ip):
            if limit is not None and limit < 10:
                raise ValueError(f"stage {self.name}: an AWS WAF rate limit is at least 10 requests per window")
        if self.apns_platform not in ("APNS", "APNS_SANDBOX"):
            raise ValueError(f"stage {self.name}: apns_platform is APNS or APNS_SANDBOX")
        if self.sms_provider not in ("sns", "aliyun", "tencent"):
            raise ValueError(f"stage {self.name}: sms_provider must be sns, aliyun or tencent, not {self.sms_provider!r}")
        if not 0 < self.sms_spend_alarm_fraction <= 1:
            raise ValueError(f"stage {self.name}: sms_spend_alarm_fraction is a fraction of the budget (0..1]")
        if self.wechat_mp_verify_token is not None:
            try:
                mp_verify_path(self.wechat_mp_verify_token)
            except ValueError as exc:
                raise ValueError(f"stage {self.name}: wechat_mp_verify_token: {exc}") from None

    @property
    def stack_name(self) -> str:
        return f"huiyuan-{self.name}"

    @property
    def env(self) -> dict[str, str]:
        """The functions' environment, exactly as Chalice merges it for this stage."""
        return stage_environment(self.name)

    @property
    def table_name(self) -> str:
        return self.env["TABLE_NAME"]

    @property
    def jobs_queue_name(self) -> str:
        return self.env["JOBS_QUEUE_NAME"]

    @property
    def jobs_dlq_name(self) -> str:
        return f"{self.jobs_queue_name}-dlq"  # as the local stack names it

    @property
    def rules_parameter(self) -> str:
        return self.env["RULES_PARAMETER"]

    @property
    def signing_key_parameter(self) -> str:
        return self.env["SIGNING_KEY_PARAMETER"]

    @property
    def signing_key_secret_name(self) -> str:
        parameter = self.signing_key_parameter
        if not parameter.startswith(SECRETS_MANAGER_REFERENCE):
            raise ValueError(
                f"stage {self.name}: SIGNING_KEY_PARAMETER must be {SECRETS_MANAGER_REFERENCE}<secret name> "
                f"(a generated Secrets Manager secret read through SSM), not {parameter!r}"
            )
        return parameter.removeprefix(SECRETS_MANAGER_REFERENCE)

    @property
    def origin_secret_name(self) -> str:
        """The Secrets Manager secret CloudFront sends as `x-huiyuan-origin-verify`; the API reads it
        as SSM parameter /aws/reference/secretsmanager/<name> (ORIGIN_VERIFY_PARAMETER, set by the stack)."""
        return f"huiyuan/{self.name}/cloudfront-origin-verify-{self.origin_secret_generation}"

    @property
    def sms_credentials_secret_name(self) -> str:
        """The template provider's keys (JSON: notify/sms.py), read as SSM parameter
        /aws/reference/secretsmanager/<name> (SMS_CREDENTIALS_PARAMETER, set by the stack)."""
        return f"huiyuan/{self.name}/sms-credentials"

    @property
    def wechat_configured(self) -> bool:
        return bool(self.wechat_mini_program_appid or self.wechat_official_account_appid)

    @property
    def wechat_secrets_secret_name(self) -> str:
        """The WeChat apps' secrets (JSON {appid: app secret}: notify/wechat.py), read as SSM parameter
        /aws/reference/secretsmanager/<name> (WECHAT_SECRETS_PARAMETER, set by the stack)."""
        return f"huiyuan/{self.name}/wechat-app-secrets"

    @property
    def email_sender(self) -> str:
        return self.env["EMAIL_SENDER"]

    @property
    def cors_allow_origin(self) -> str:
        """The web front end's origin: Chalice's CORSConfig and API Gateway's gateway responses take one."""
        return self.env["CORS_ALLOW_ORIGIN"]

    @property
    def api_gateway_stage(self) -> str:
        """The API Gateway stage Chalice deploys to (the first segment of every URL and execute-api ARN)."""
        return str(chalice_stage_value(self.name, "api_gateway_stage", "api"))

    @property
    def admin_invoke_paths(self) -> tuple[str, str]:
        """execute-api resource paths (<api stage>/<method>/<path>) of every operator route."""
        return (f"{self.api_gateway_stage}/*/v1/admin", f"{self.api_gateway_stage}/*/v1/admin/*")

    @property
    def api_timeout_seconds(self) -> int:
        return int(chalice_stage_value(self.name, "lambda_timeout", 60))

    def function_name(self, chalice_name: str) -> str:
        """Physical Lambda names operators find in the console: huiyuan-prod-expire-points."""
        return f"huiyuan-{self.name}-{chalice_name}".replace("_", "-")


STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (
        Stage(
            name="dev",
            region="ap-southeast-1",
            production=False,
            throttle_rate=50,
            throttle_burst=100,
            log_retention_days=14,
            waf_code_requests_per_ip=10,
            waf_requests_per_ip=1000,
            sms_alarm_per_hour=50,
            # A new account's SMS sandbox is granted 1 USD a month.
            sms_monthly_budget_usd=1,
        ),
        Stage(
            name="prod",
            region="ap-southeast-1",
            production=True,
            throttle_rate=500,
            throttle_burst=1000,
            log_retention_days=365,
            # Size to the program: verification codes plus campaigns, at the destination's SMS price.
            sms_monthly_budget_usd=500,
            sms_alarm_per_hour=1000,
            # Created by the brand before the first deploy (docs/push.md): the stage pushes through both.
            push_apns_secret="huiyuan/prod/push-apns",  # noqa: S106  (a secret's name, not its value)
            push_fcm_secret="huiyuan/prod/push-fcm",  # noqa: S106
        ),
    )
}


@cache
def _chalice_config() -> dict[str, Any]:
    config = json.loads(CHALICE_CONFIG.read_text(encoding="utf-8"))
    if not isinstance(config, dict):
        raise ValueError(f"{CHALICE_CONFIG} is not a JSON object")
    return config


def chalice_stage_value(stage: str, key: str, default: Any = None) -> Any:
    config = _chalice_config()
    return config["stages"][stage].get(key, config.get(key, default))


def stage_environment(stage: str) -> dict[str, str]:
    config = _chalice_config()
    if stage not in config["stages"]:
        raise KeyError(f"stage {stage!r} is not in {CHALICE_CONFIG}")
    return {**config.get("environment_variables", {}), **config["stages"][stage].get("environment_variables", {})}
