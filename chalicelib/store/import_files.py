"""The import bucket (bulk imports of members): files operators upload by a pre-signed PUT, read
back a part at a time, and the result files (failed rows) handed out by a pre-signed GET.

Nothing here ever loads an uploaded file whole: the header is one ranged GET of the first
`MAX_LINE_BYTES`, and a part is read from its byte offset by a ranged GET whose body is consumed
in chunks, line by line, until the part has its rows (then the connection is closed). Memory is
bounded by a part's rows, whatever the file's size. The bucket is private and encrypted (infra),
and deletes what is uploaded after a week; results after the same.

Keys: `uploads/<import_id>.<csv|jsonl>`, `results/<import_id>/part-NNNNNN.csv` (a part's failed
rows), `results/<import_id>.csv` (all of them, once the import is done).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..settings import get_settings

_CHUNK = 64 * 1024


def _s3() -> Any:
    import boto3
    from botocore.config import Config

    # A local endpoint (the local stage's moto) serves buckets by path, not by host name.
    local = bool(os.environ.get("AWS_ENDPOINT_URL"))
    return boto3.client("s3", config=Config(signature_version="s3v4", s3={"addressing_style": "path" if local else "auto"}))


def _bucket() -> str:
    return get_settings().import_bucket


def upload_key(import_id: str, file_format: str) -> str:
    return f"uploads/{import_id}.{file_format}"


def result_part_key(import_id: str, part: int) -> str:
    return f"results/{import_id}/part-{part:06d}.csv"


def result_key(import_id: str) -> str:
    return f"results/{import_id}.csv"


def upload_url(key: str, expires_in: int) -> str:
    """A pre-signed PUT of the upload, good for `expires_in` seconds."""
    url = _s3().generate_presigned_url("put_object", Params={"Bucket": _bucket(), "Key": key}, ExpiresIn=expires_in)
    assert isinstance(url, str)
    return url


def download_url(key: str, expires_in: int) -> str:
    url = _s3().generate_presigned_url("get_object", Params={"Bucket": _bucket(), "Key": key}, ExpiresIn=expires_in)
    assert isinstance(url, str)
    return url


def size_of(key: str) -> int | None:
    """The uploaded file's size in bytes (None: nothing uploaded)."""
    client = _s3()
    try:
        return int(client.head_object(Bucket=_bucket(), Key=key)["ContentLength"])
    except client.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def head_bytes(key: str, count: int) -> bytes:
    """The first `count` bytes of the file (one ranged GET)."""
    body: bytes = _s3().get_object(Bucket=_bucket(), Key=key, Range=f"bytes=0-{count - 1}")["Body"].read()
    return body


@dataclass(frozen=True)
class Line:
    """One line of the file: its bytes without the line break (None when longer than the limit:
    read past, never kept), and where the next line starts."""

    data: bytes | None
    end: int


def lines_from(key: str, offset: int, max_line: int) -> Iterator[Line]:
    """The lines from byte `offset` on, streamed (a ranged GET read in chunks). Stop iterating
    when done: the body is closed, the rest never read."""
    response = _s3().get_object(Bucket=_bucket(), Key=key, Range=f"bytes={offset}-")
    body = response["Body"]
    position = offset
    pending = bytearray()
    too_long = False
    try:
        while True:
            chunk = body.read(_CHUNK)
            if not chunk:
                break
            start = 0
            while True:
                newline = chunk.find(b"\n", start)
                if newline < 0:
                    rest = chunk[start:]
                    if not too_long:
                        pending += rest
                        if len(pending) > max_line:
                            too_long, pending = True, bytearray()
                    position += len(rest)
                    break
                piece = chunk[start:newline]
                position += len(piece) + 1
                if not too_long:
                    pending += piece
                    too_long = len(pending) > max_line
                yield Line(None if too_long else bytes(pending).rstrip(b"\r"), position)
                pending, too_long = bytearray(), False
                start = newline + 1
        if pending or too_long:
            yield Line(None if too_long else bytes(pending).rstrip(b"\r"), position)
    finally:
        body.close()


def put_result_part(key: str, body: bytes) -> None:
    _s3().put_object(Bucket=_bucket(), Key=key, Body=body, ContentType="text/csv; charset=utf-8", ServerSideEncryption="AES256")


def part_exists(key: str) -> bool:
    return size_of(key) is not None


def assemble_result(parts: list[str], key: str, header: bytes, download_name: str) -> None:
    """Concatenate the parts' files (in order) behind `header` into `key`, through a spooled
    temporary file: memory stays bounded however many rows failed."""
    client = _s3()
    with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as out:
        out.write(header)
        for part in parts:
            body = client.get_object(Bucket=_bucket(), Key=part)["Body"]
            try:
                while chunk := body.read(_CHUNK):
                    out.write(chunk)
            finally:
                body.close()
        out.seek(0)
        extra = {
            "ContentType": "text/csv; charset=utf-8",
            "ContentDisposition": f'attachment; filename="{download_name}"',
            "ServerSideEncryption": "AES256",
        }
        client.upload_fileobj(out, _bucket(), key, ExtraArgs=extra)


def delete_files(keys: list[str]) -> None:
    """Remove files no longer needed (the parts' results, once assembled and the import done)."""
    client = _s3()
    for start in range(0, len(keys), 1000):
        objects = [{"Key": key} for key in keys[start : start + 1000]]
        client.delete_objects(Bucket=_bucket(), Delete={"Objects": objects, "Quiet": True})


def list_result_parts(import_id: str) -> list[str]:
    """The parts' result files (only parts with failed rows have one), in part order."""
    client = _s3()
    keys: list[str] = []
    kwargs: dict[str, Any] = {"Bucket": _bucket(), "Prefix": f"results/{import_id}/"}
    while True:
        page = client.list_objects_v2(**kwargs)
        keys += [obj["Key"] for obj in page.get("Contents", [])]
        if not page.get("IsTruncated"):
            return sorted(keys)
        kwargs["ContinuationToken"] = page["NextContinuationToken"]
