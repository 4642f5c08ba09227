"""The table's definition: key schema, GSIs and TTL, defined once.

The PynamoDB models (`models.py`), the local bootstrap and the CDK stack all
build from these definitions; `tests/unit/test_table_definition.py` fails if
the models ever disagree with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HASH_KEY = "pk"
RANGE_KEY = "sk"
TTL_ATTRIBUTE = "ttl"
ENTITY_ATTRIBUTE = "type"


@dataclass(frozen=True)
class IndexDefinition:
    name: str
    hash_key: str
    range_key: str | None
    projection: str  # "ALL" | "KEYS_ONLY"
    purpose: str


INDEXES: tuple[IndexDefinition, ...] = (
    IndexDefinition(
        name="by_phone",
        hash_key="phone_key",
        range_key=None,
        projection="ALL",
        purpose="member by phone in one round trip (merchant purchases); uniqueness is the PHONE# guard's job",
    ),
    # The job indexes are sparse and KEYS_ONLY: an index entry is written only
    # when its key changes (not on every balance update), and a job reads the
    # keys, then the members it acts on in batches.
    IndexDefinition(
        name="lots_by_expiry",
        hash_key="expiry_bucket",
        range_key="expiry_member",
        projection="KEYS_ONLY",
        purpose="points lots due to expire on a day, write-sharded: EXPIRY#<yyyy-mm-dd>#<shard>",
    ),
    IndexDefinition(
        name="members_by_birthday",
        hash_key="birthday_bucket",
        range_key="pk",
        projection="KEYS_ONLY",
        purpose="members by birthday month-day, write-sharded: BDAY#<mm-dd>#<shard>",
    ),
    IndexDefinition(
        name="members_by_anniversary",
        hash_key="anniversary_bucket",
        range_key="pk",
        projection="KEYS_ONLY",
        purpose="members by the month-day they joined, write-sharded: ANNIV#<mm-dd>#<shard>",
    ),
    IndexDefinition(
        name="members_by_activity",
        hash_key="activity_bucket",
        range_key="pk",
        projection="KEYS_ONLY",
        purpose="members by day of last activity, write-sharded: ACT#<yyyy-mm-dd>#<shard>",
    ),
    IndexDefinition(
        name="members_by_erasure",
        hash_key="erase_bucket",
        range_key="pk",
        projection="KEYS_ONLY",
        purpose="closed members by the day their grace period ends, write-sharded: ERASE#<yyyy-mm-dd>#<shard>",
    ),
    IndexDefinition(
        name="members_by_release",
        hash_key="release_bucket",
        range_key="pk",
        projection="KEYS_ONLY",
        purpose="members by the earliest day their pending points are released, write-sharded: RELEASE#<yyyy-mm-dd>#<shard>",
    ),
    IndexDefinition(
        name="members_by_plan_end",
        hash_key="plan_end_bucket",
        range_key="pk",
        projection="KEYS_ONLY",
        purpose="members holding a paid plan by the last day of its period, write-sharded: PLANEND#<yyyy-mm-dd>#<shard>",
    ),
    IndexDefinition(
        name="wechat_pay_open",
        hash_key="wxpay_open_bucket",
        range_key="wxpay_open_since",
        projection="KEYS_ONLY",
        purpose="WeChat Pay top-up orders and refunds not settled yet, by when they were opened, write-sharded: WXOPEN#<shard>",
    ),
)


STREAM = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


def attribute_definitions() -> list[dict[str, str]]:
    names = [HASH_KEY, RANGE_KEY]
    for index in INDEXES:
        names += [index.hash_key] + ([index.range_key] if index.range_key else [])
    seen: dict[str, None] = dict.fromkeys(names)
    return [{"AttributeName": name, "AttributeType": "S"} for name in seen]


def _gsi(index: IndexDefinition) -> dict[str, Any]:
    key_schema = [{"AttributeName": index.hash_key, "KeyType": "HASH"}]
    if index.range_key:
        key_schema.append({"AttributeName": index.range_key, "KeyType": "RANGE"})
    return {"IndexName": index.name, "KeySchema": key_schema, "Projection": {"ProjectionType": index.projection}}


def create_table_request(table_name: str) -> dict[str, Any]:
    """The CreateTable request for the local stack and tests (CDK builds its own from INDEXES)."""
    gsis = [_gsi(index) for index in INDEXES]
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": attribute_definitions(),
        "KeySchema": [
            {"AttributeName": HASH_KEY, "KeyType": "HASH"},
            {"AttributeName": RANGE_KEY, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": gsis,
        # Business events are derived from the change stream (domain/events.py).
        "StreamSpecification": STREAM,
    }


def create_table(client: Any, table_name: str) -> None:
    """Create the table and switch on TTL (local stack and tests)."""
    client.create_table(**create_table_request(table_name))
    client.get_waiter("table_exists").wait(TableName=table_name)
    client.update_time_to_live(TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE})


def enable_stream(client: Any, table_name: str) -> bool:
    """Switch on the change stream of a table made before events existed (a local stack's kept data)."""
    if client.describe_table(TableName=table_name)["Table"].get("StreamSpecification", {}).get("StreamEnabled"):
        return False
    client.update_table(TableName=table_name, StreamSpecification=STREAM)
    return True


def add_missing_indexes(client: Any, table_name: str) -> list[str]:
    """Create the GSIs a table made by an older version lacks (a local stack's kept data), one
    UpdateTable each (DynamoDB takes one index creation at a time): the names added."""
    existing = {i["IndexName"] for i in client.describe_table(TableName=table_name)["Table"].get("GlobalSecondaryIndexes", [])}
    added = []
    for index in INDEXES:
        if index.name in existing:
            continue
        client.update_table(
            TableName=table_name,
            AttributeDefinitions=attribute_definitions(),
            GlobalSecondaryIndexUpdates=[{"Create": _gsi(index)}],
        )
        added.append(index.name)
    return added
