"""The jobs' index reads: which bucket holds a day's work, and what is in a bucket.

The job indexes (table.py) are sparse and KEYS_ONLY, and write-sharded: one day's (or month-day's)
bucket is spread over `index_shards` partitions, `<PREFIX>#<day>#<shard>` (keys.py):

| index                    | bucket                        | holds                                     | job            |
|--------------------------|-------------------------------|-------------------------------------------|----------------|
| `lots_by_expiry`         | EXPIRY#<yyyy-mm-dd>#<shard>   | points lots expiring that day             | expire-points  |
| `members_by_birthday`    | BDAY#<mm-dd>#<shard>          | members born that month-day               | birthday-bonus |
| `members_by_anniversary` | ANNIV#<mm-dd>#<shard>         | members who joined that month-day         | tier-review    |
| `members_by_activity`    | ACT#<yyyy-mm-dd>#<shard>      | members last active that day              | reengagement   |
| `members_by_erasure`     | ERASE#<yyyy-mm-dd>#<shard>    | closed members whose grace period ends    | erase-closed   |
| `members_by_release`     | RELEASE#<yyyy-mm-dd>#<shard>  | members whose earliest pending points are released that day | release-pending-points |
| `members_by_plan_end`    | PLANEND#<yyyy-mm-dd>#<shard>  | members whose paid plan ends that day     | membership-plans |

A job reads a bucket's keys (cheap), then the members it names in batches, strongly consistent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from ..settings import get_settings
from . import keys, table
from .models import Member
from .unit_of_work import connection

LOTS_BY_EXPIRY = "lots_by_expiry"
MEMBERS_BY_BIRTHDAY = "members_by_birthday"
MEMBERS_BY_ANNIVERSARY = "members_by_anniversary"
MEMBERS_BY_ACTIVITY = "members_by_activity"
MEMBERS_BY_ERASURE = "members_by_erasure"
MEMBERS_BY_RELEASE = "members_by_release"
MEMBERS_BY_PLAN_END = "members_by_plan_end"

BATCH_GET = 100


def expiry_bucket(day: date, shard: int) -> str:
    return keys.expiry_bucket(day.isoformat(), shard)


def birthday_bucket(month_day: str, shard: int) -> str:
    return keys.birthday_bucket(month_day, shard)


def anniversary_bucket(month_day: str, shard: int) -> str:
    return keys.anniversary_bucket(month_day, shard)


def activity_bucket(day: date, shard: int) -> str:
    return keys.activity_bucket(day.isoformat(), shard)


def erasure_bucket(day: date, shard: int) -> str:
    return keys.erasure_bucket(day.isoformat(), shard)


def release_bucket(day: date, shard: int) -> str:
    return keys.release_bucket(day.isoformat(), shard)


def plan_end_bucket(day: date, shard: int) -> str:
    return keys.plan_end_bucket(day.isoformat(), shard)


def _bucket_attribute(index: str) -> str:
    return next(i.hash_key for i in table.INDEXES if i.name == index)


@dataclass(frozen=True)
class BucketRead:
    """The member ids in one bucket (each once, in index order), and what reading it took."""

    member_ids: list[str]
    entries: int
    round_trips: int


def member_ids_in(index: str, bucket: str) -> BucketRead:
    """The members with an entry in one bucket of one of the jobs' indexes (KEYS_ONLY: cheap to read).
    A member with two lots in an expiry bucket is named once."""
    request: dict[str, Any] = {
        "TableName": get_settings().table_name,
        "IndexName": index,
        "KeyConditionExpression": "#bucket = :bucket",
        "ExpressionAttributeNames": {"#bucket": _bucket_attribute(index)},
        "ExpressionAttributeValues": {":bucket": {"S": bucket}},
    }
    ids: dict[str, None] = {}
    entries = round_trips = 0
    start = None
    while True:
        page = connection().client.query(**request, **({"ExclusiveStartKey": start} if start else {}))
        round_trips += 1
        for item in page.get("Items", []):
            entries += 1
            ids[keys.member_id_of(item[table.HASH_KEY]["S"])] = None
        start = page.get("LastEvaluatedKey")
        if not start:
            return BucketRead(list(ids), entries, round_trips)


@dataclass(frozen=True)
class MembersRead:
    members: list[Member]  # those still there (a member gone meanwhile is left out)
    round_trips: int


def read_members(member_ids: list[str]) -> MembersRead:
    """The members, strongly consistent, BATCH_GET at a time."""
    found: list[Member] = []
    round_trips = 0
    for start in range(0, len(member_ids), BATCH_GET):
        wanted = [(keys.member_pk(m), keys.PROFILE) for m in member_ids[start : start + BATCH_GET]]
        found += list(Member.batch_get(wanted, consistent_read=True))
        round_trips += 1
    return MembersRead(found, round_trips)


def buckets_in(index: str) -> set[str]:
    """Every bucket with an entry in one of the jobs' indexes: one Scan of the (sparse, KEYS_ONLY)
    index. For the local stage's catch-up (`make job`), never for a deployed job."""
    import boto3

    bucket = _bucket_attribute(index)
    pages = (
        boto3.client("dynamodb")
        .get_paginator("scan")
        .paginate(TableName=get_settings().table_name, IndexName=index, ProjectionExpression="#b", ExpressionAttributeNames={"#b": bucket})
    )
    return {item[bucket]["S"] for page in pages for item in page.get("Items", [])}
