"""Files handed to people outside the service (the printer's file of a batch of product codes):
written once to the stage's exports bucket, fetched by a pre-signed URL that lapses.

The bucket keeps them a day (infra: a lifecycle rule; the local stage keeps them), encrypted at
rest, never public; the only way to them is the URL given once in the answer that made them.
"""

from __future__ import annotations

import os
from typing import Any

from ..settings import get_settings


def _s3() -> Any:
    # Made per file (two calls a batch): a cached client would outlive the tests' moto mocks.
    import boto3
    from botocore.config import Config

    # A local endpoint (the local stage's moto) serves buckets by path, not by host name.
    local = bool(os.environ.get("AWS_ENDPOINT_URL"))
    return boto3.client("s3", config=Config(signature_version="s3v4", s3={"addressing_style": "path" if local else "auto"}))


def put_file(key: str, body: bytes, content_type: str, download_name: str) -> None:
    _s3().put_object(
        Bucket=get_settings().exports_bucket,
        Key=key,
        Body=body,
        ContentType=content_type,
        ContentDisposition=f'attachment; filename="{download_name}"',
        ServerSideEncryption="AES256",
    )


def get_file(key: str) -> bytes:
    body: bytes = _s3().get_object(Bucket=get_settings().exports_bucket, Key=key)["Body"].read()
    return body


def download_url(key: str, expires_in: int) -> str:
    """A pre-signed GET of the object, good for `expires_in` seconds."""
    url = _s3().generate_presigned_url("get_object", Params={"Bucket": get_settings().exports_bucket, "Key": key}, ExpiresIn=expires_in)
    assert isinstance(url, str)
    return url


def delete_file(key: str) -> None:
    """Remove a file nobody should fetch (a batch that lost its Idempotency-Key to a twin)."""
    _s3().delete_object(Bucket=get_settings().exports_bucket, Key=key)
