"""The KPI snapshot each analytics refresh computes, kept in the analytics bucket:

    kpis/<export_id>.json    the KPIs computed from that export (each carries its data_as_of)
    kpis/latest.json         the newest, written after it

The KPI API reads the latest snapshot: one S3 read per request, no query.
"""

from __future__ import annotations

import json
from typing import Any

from ..settings import get_settings

LATEST_KEY = "kpis/latest.json"


def _s3() -> Any:
    import boto3

    return boto3.client("s3")


def write(export_id: str, kpis: dict[str, Any]) -> None:
    s3, bucket = _s3(), get_settings().analytics_bucket
    body = json.dumps(kpis, sort_keys=True, default=str).encode()
    for key in (f"kpis/{export_id}.json", LATEST_KEY):
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", ServerSideEncryption="AES256")


def latest() -> dict[str, Any] | None:
    s3 = _s3()
    try:
        body = s3.get_object(Bucket=get_settings().analytics_bucket, Key=LATEST_KEY)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    kpis: dict[str, Any] = json.loads(body)
    return kpis
