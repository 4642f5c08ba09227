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
    memory_mb: int = 512
    # Subscribed to the alarm topic when set (the subscriber confirms by email).
    alarm_email: str | None = None
    # The API 5xx rate (0..1) over 5 minutes that raises the alarm.
    api_5xx_rate: float = 0.01
    # API Gateway logs to CloudWatch through one role per account and region. Set
    # False when another stack (or the console) already set it in this account/region.
    manage_api_gateway_account: bool = True
    tags: dict[str, str] = field(default_factory=dict)

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
        ),
        Stage(
            name="prod",
            region="ap-southeast-1",
            production=True,
            throttle_rate=500,
            throttle_burst=1000,
            log_retention_days=365,
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
