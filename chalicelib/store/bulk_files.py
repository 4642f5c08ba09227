"""The files of bulk grants and exports, in the stage's exports bucket under `bulk/` (the bucket
keeps them a day, encrypted at rest, never public):

    bulk/grants/<batch_id>/upload.csv            the operator's file, PUT through a pre-signed URL
    bulk/grants/<batch_id>/rows-NNNNN.jsonl      the file split into parts (one unit each)
    bulk/grants/<batch_id>/failed-NNNNN.csv      one part's rows that could not be granted
    bulk/grants/<batch_id>/failed.csv            all of them, once the batch is done
    bulk/exports/<export_id>/part-UUUU-PPPPP.csv one page of one unit of an export
    bulk/exports/<export_id>.csv                 the export, once done

Big files are streamed: read line by line, written through a multipart upload in parts of
MULTIPART_BYTES, so a worker's memory never holds a whole file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from ..settings import get_settings

MULTIPART_BYTES = 8 * 1024 * 1024  # S3 wants every part but the last to be 5 MiB or more
PREFIX = "bulk/"


def _s3() -> Any:
    # Made per use, like store/exports.py: a cached client would outlive the tests' moto mocks.
    import boto3
    from botocore.config import Config

    local = bool(os.environ.get("AWS_ENDPOINT_URL"))
    return boto3.client("s3", config=Config(signature_version="s3v4", s3={"addressing_style": "path" if local else "auto"}))


def _bucket() -> str:
    return get_settings().exports_bucket


def _checked(key: str) -> str:
    if not key.startswith(PREFIX):
        raise ValueError(f"not a bulk file: {key!r}")
    return key


def upload_url(key: str, expires_in: int) -> str:
    """A pre-signed PUT of the object (any body; the start checks its size), good for `expires_in` seconds."""
    url = _s3().generate_presigned_url("put_object", Params={"Bucket": _bucket(), "Key": _checked(key)}, ExpiresIn=expires_in)
    assert isinstance(url, str)
    return url


def download_url(key: str, expires_in: int, download_name: str) -> str:
    params = {"Bucket": _bucket(), "Key": _checked(key), "ResponseContentDisposition": f'attachment; filename="{download_name}"'}
    url = _s3().generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)
    assert isinstance(url, str)
    return url


def size_of(key: str) -> int | None:
    """The object's size in bytes, or None when there is none (nothing was uploaded)."""
    from botocore.exceptions import ClientError

    try:
        return int(_s3().head_object(Bucket=_bucket(), Key=_checked(key))["ContentLength"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


class FileGone(LookupError):
    """The object is not there (never uploaded, or deleted by the bucket's lifecycle rule)."""


def lines(key: str) -> Iterator[str]:
    """The object's text lines (UTF-8, a BOM dropped), streamed; FileGone when there is none."""
    from botocore.exceptions import ClientError

    try:
        body = _s3().get_object(Bucket=_bucket(), Key=_checked(key))["Body"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            raise FileGone(key) from None
        raise
    first = True
    for raw in body.iter_lines(keepends=True):
        text = raw.decode("utf-8")
        if first:
            text = text.lstrip("\ufeff")
            first = False
        yield text


def put_text(key: str, text: str, content_type: str = "text/csv; charset=utf-8") -> None:
    _s3().put_object(Bucket=_bucket(), Key=_checked(key), Body=text.encode(), ContentType=content_type, ServerSideEncryption="AES256")


def get_bytes(key: str) -> bytes:
    body: bytes = _s3().get_object(Bucket=_bucket(), Key=_checked(key))["Body"].read()
    return body


def keys_under(prefix: str) -> list[str]:
    """Every object key under `prefix`, sorted."""
    s3 = _s3()
    found: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=_bucket(), Prefix=_checked(prefix)):
        found += [o["Key"] for o in page.get("Contents", [])]
    return sorted(found)


def concatenate(key: str, sources: Iterable[str], *, head: bytes = b"", content_type: str = "text/csv; charset=utf-8") -> int:
    """Write `head` then each source object, in order, to `key`: one PutObject when it all fits in
    one part, else a multipart upload fed MULTIPART_BYTES at a time (memory flat in the file's size).
    Returns the number of lines the sources held."""
    s3, bucket = _s3(), _bucket()
    buffer = bytearray(head)
    upload_id: str | None = None
    parts: list[dict[str, Any]] = []
    lines_seen = 0

    def flush() -> None:
        nonlocal upload_id
        if upload_id is None:
            upload_id = s3.create_multipart_upload(Bucket=bucket, Key=_checked(key), ContentType=content_type, ServerSideEncryption="AES256")[
                "UploadId"
            ]
        number = len(parts) + 1
        answer = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=bytes(buffer))
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        buffer.clear()

    try:
        for source in sources:
            body = s3.get_object(Bucket=bucket, Key=_checked(source))["Body"]
            for chunk in body.iter_chunks(1024 * 1024):
                buffer += chunk
                lines_seen += chunk.count(b"\n")
                if len(buffer) >= MULTIPART_BYTES:
                    flush()
        if upload_id is None:
            s3.put_object(Bucket=bucket, Key=_checked(key), Body=bytes(buffer), ContentType=content_type, ServerSideEncryption="AES256")
            return lines_seen
        if buffer:
            flush()
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
        return lines_seen
    except Exception:
        if upload_id is not None:
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise
