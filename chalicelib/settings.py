"""Deployment settings, read once from the environment.

Program rules (earn rates, tiers, time zone...) are not settings: they live in
`rules.py` and, in the cloud, in SSM Parameter Store.
"""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, Field


class Settings(BaseModel):
    stage: str = "local"
    table_name: str = "huiyuan-local"
    rules_parameter: str = "/huiyuan/local/program-rules"
    signing_key_parameter: str = "/huiyuan/local/token-signing-key"
    rules_cache_seconds: int = 60
    email_sender: str = "no-reply@huiyuan.example"
    # Local stage only: every outgoing message is also appended here.
    outbox_path: str | None = None
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # Write-sharding of day-keyed index buckets; fixed per deployment.
    index_shards: int = Field(default=8, ge=1, le=256)
    jobs_queue_name: str = "huiyuan-local-jobs"
    # The web frontends' origin, for CORS (one origin per stage; unset: no CORS headers).
    cors_allow_origin: str | None = None

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
}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    values = {field: os.environ[var] for field, var in _ENV.items() if os.environ.get(var)}
    return Settings.model_validate(values)
