"""Exports of the table to the analytics bucket (DynamoDB `ExportTableToPointInTime`, DYNAMODB_JSON).

Each export goes under its own prefix, `exports/<export_id>/`; DynamoDB writes its gzipped JSON-lines
data files (`{"Item": {...}}` per line) under `exports/<export_id>/AWSDynamoDB/<its id>/data/`, and in
AWS its manifests beside them (moto writes the data file only: readers list `data/`). The export
reads the table's point-in-time backup (point-in-time recovery is on: infra/stack.py), not the table:
it consumes no read capacity and the time it stands for is `export_time`, the `data_as_of` of
everything derived from it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..settings import get_settings

EXPORTS_PREFIX = "exports"


@dataclass(frozen=True)
class TableExport:
    export_id: str
    export_arn: str
    export_time: datetime
    status: str  # IN_PROGRESS | COMPLETED | FAILED

    @property
    def prefix(self) -> str:
        return f"{EXPORTS_PREFIX}/{self.export_id}"


def _client(name: str) -> Any:
    import boto3

    return boto3.client(name)


def new_export_id(now: datetime) -> str:
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"


def start_export(export_id: str, requested_at: datetime) -> TableExport:
    """Ask DynamoDB for a full export of the table as it is now."""
    settings = get_settings()
    dynamodb = _client("dynamodb")
    table_arn = dynamodb.describe_table(TableName=settings.table_name)["Table"]["TableArn"]
    described = dynamodb.export_table_to_point_in_time(
        TableArn=table_arn,
        S3Bucket=settings.analytics_bucket,
        S3Prefix=f"{EXPORTS_PREFIX}/{export_id}",
        S3SseAlgorithm="AES256",
        ExportFormat="DYNAMODB_JSON",
        ExportType="FULL_EXPORT",
    )["ExportDescription"]
    # The export is of the table as it is now; AWS says when exactly (moto does not: then `requested_at`).
    return TableExport(export_id, described["ExportArn"], described.get("ExportTime") or requested_at, described["ExportStatus"])


def export_status(export_arn: str) -> str:
    """IN_PROGRESS, COMPLETED or FAILED."""
    return str(_client("dynamodb").describe_export(ExportArn=export_arn)["ExportDescription"]["ExportStatus"])


def data_files(export_id: str) -> list[str]:
    """The keys of the export's data files (gzipped DynamoDB JSON lines)."""
    s3 = _client("s3")
    keys: list[str] = []
    prefix = f"{EXPORTS_PREFIX}/{export_id}/AWSDynamoDB/"
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=get_settings().analytics_bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", []) if "/data/" in o["Key"] and o["Key"].endswith(".gz")]
    return sorted(keys)


def data_prefix(export_id: str) -> str | None:
    """The `.../AWSDynamoDB/<id>/data/` folder of the export (what Athena's table points at)."""
    files = data_files(export_id)
    return files[0].rsplit("/", 1)[0] + "/" if files else None
