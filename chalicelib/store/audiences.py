"""A segment's members at one moment (an audience): the analytics engine writes them, campaigns and
surveys read them, a part at a time.

Kept in the analytics bucket, one folder per computation:

    audiences/{segment_id}/{audience_id}/part-00000.txt   member ids, one per line, at most PART_SIZE
    audiences/{segment_id}/{audience_id}/manifest.json    what the audience is (Manifest), written last
    audiences/{segment_id}/latest.json                    the manifest of the newest complete audience

The manifest is written after every part and the `latest` pointer after the manifest, so a reader
that finds a manifest finds all of its parts. It also keeps which version of the segment it counts,
the program-time day of its data and a sample (member ids with their tier, lifecycle stage, value
segment and last purchase day): what a preview shows, read without a query. Member ids and
analytics only: no personal data leaves the table here.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime
from itertools import batched
from typing import Any

from ..settings import get_settings

PART_SIZE = 10_000


@dataclass(frozen=True)
class Manifest:
    segment_id: str
    audience_id: str
    # The time of the data the audience was computed from (the export's), not when it was computed.
    data_as_of: datetime
    computed_at: datetime
    count: int
    parts: tuple[str, ...]
    segment_version: int | None = None  # the segment's version it was computed for (None: written before versions were kept)
    as_of: date | None = None  # the program-time day of data_as_of (days in the definition count back from it)
    sample: tuple[dict[str, Any], ...] = ()  # up to 20 members: ids and analytics, no personal data

    def to_json(self) -> str:
        body = asdict(self) | {
            "data_as_of": self.data_as_of.isoformat(),
            "computed_at": self.computed_at.isoformat(),
            "parts": list(self.parts),
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "sample": list(self.sample),
        }
        return json.dumps(body, sort_keys=True, default=str)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Manifest:
        body = json.loads(raw)
        return cls(
            segment_id=body["segment_id"],
            audience_id=body["audience_id"],
            data_as_of=datetime.fromisoformat(body["data_as_of"]),
            computed_at=datetime.fromisoformat(body["computed_at"]),
            count=int(body["count"]),
            parts=tuple(body["parts"]),
            segment_version=body.get("segment_version"),
            as_of=date.fromisoformat(body["as_of"]) if body.get("as_of") else None,
            sample=tuple(body.get("sample") or ()),
        )


def _s3() -> Any:
    # Made per call, like store/exports.py: a cached client would outlive the tests' moto mocks.
    import boto3

    return boto3.client("s3")


def _folder(segment_id: str) -> str:
    if not segment_id or "/" in segment_id:
        raise ValueError(f"not a segment id: {segment_id!r}")
    return f"audiences/{segment_id}"


def write(
    segment_id: str,
    member_ids: Iterable[str],
    *,
    data_as_of: datetime,
    computed_at: datetime,
    segment_version: int | None = None,
    as_of: date | None = None,
    sample: Iterable[dict[str, Any]] = (),
) -> Manifest:
    """Write an audience (parts, then its manifest, then the segment's `latest` pointer)."""
    s3, bucket = _s3(), get_settings().analytics_bucket
    audience_id = f"{computed_at.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"
    folder = f"{_folder(segment_id)}/{audience_id}"
    parts: list[str] = []
    count = 0
    for index, chunk in enumerate(batched(member_ids, PART_SIZE, strict=False)):
        key = f"{folder}/part-{index:05d}.txt"
        s3.put_object(Bucket=bucket, Key=key, Body=("\n".join(chunk) + "\n").encode(), ContentType="text/plain", ServerSideEncryption="AES256")
        parts.append(key)
        count += len(chunk)
    manifest = Manifest(segment_id, audience_id, data_as_of, computed_at, count, tuple(parts), segment_version, as_of, tuple(sample))
    body = manifest.to_json().encode()
    s3.put_object(Bucket=bucket, Key=f"{folder}/manifest.json", Body=body, ContentType="application/json", ServerSideEncryption="AES256")
    s3.put_object(Bucket=bucket, Key=f"{_folder(segment_id)}/latest.json", Body=body, ContentType="application/json", ServerSideEncryption="AES256")
    return manifest


def latest(segment_id: str) -> Manifest | None:
    """The segment's newest complete audience, or None if none was ever computed."""
    s3 = _s3()
    try:
        body = s3.get_object(Bucket=get_settings().analytics_bucket, Key=f"{_folder(segment_id)}/latest.json")["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return Manifest.from_json(body)


def read(segment_id: str, audience_id: str) -> Manifest | None:
    """One audience by its id (a campaign keeps the id of the audience it was sent to)."""
    s3 = _s3()
    try:
        body = s3.get_object(Bucket=get_settings().analytics_bucket, Key=f"{_folder(segment_id)}/{audience_id}/manifest.json")["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return Manifest.from_json(body)


def part(key: str) -> list[str]:
    """The member ids of one part (at most PART_SIZE)."""
    body = _s3().get_object(Bucket=get_settings().analytics_bucket, Key=key)["Body"].read().decode()
    return [line for line in body.splitlines() if line]


def members(manifest: Manifest) -> Iterator[str]:
    """Every member id of an audience, part after part."""
    for key in manifest.parts:
        yield from part(key)
