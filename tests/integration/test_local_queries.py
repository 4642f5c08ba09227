"""The local stack's Query on the table's own key (localstage/aws.py,
`partition_queries`): moto answers exactly as it does without it, and reads the
one partition asked for instead of the whole table."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws

from localstage.aws import partition_queries

TABLE = "queries-test"


@pytest.fixture
def dynamodb() -> Any:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "phone")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[
                {"IndexName": "by_phone", "KeySchema": [{"AttributeName": "phone", "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}}
            ],
        )
        for member in range(30):
            pk = {"S": f"MEMBER#{member:03d}"}
            client.put_item(TableName=TABLE, Item={"pk": pk, "sk": {"S": "PROFILE"}, "phone": {"S": f"+86135{member:08d}"}})
            for entry in range(12):
                client.put_item(TableName=TABLE, Item={"pk": pk, "sk": {"S": f"LEDGER#{entry:04d}"}, "points": {"N": str(entry - 3)}})
        yield client


QUERIES: list[dict[str, Any]] = [
    {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "MEMBER#007"}}},
    {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "MEMBER#999"}}},  # no such partition
    {
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :ledger)",
        "ExpressionAttributeValues": {":pk": {"S": "MEMBER#007"}, ":ledger": {"S": "LEDGER#"}},
        "ScanIndexForward": False,
        "ConsistentRead": True,
    },
    {
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :a AND :b",
        "ExpressionAttributeValues": {":pk": {"S": "MEMBER#012"}, ":a": {"S": "LEDGER#0003"}, ":b": {"S": "LEDGER#0008"}},
        "FilterExpression": "points > :zero",
        "ExpressionAttributeValues_extra": {":zero": {"N": "2"}},
    },
    {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "MEMBER#020"}}, "Select": "COUNT"},
    {"IndexName": "by_phone", "KeyConditionExpression": "phone = :p", "ExpressionAttributeValues": {":p": {"S": "+8613500000011"}}},
]


def _pages(dynamodb: Any, query: dict[str, Any], limit: int | None) -> list[dict[str, Any]]:
    """Every page of the query's answer, following LastEvaluatedKey."""
    query = dict(query)
    query["ExpressionAttributeValues"] = {**query["ExpressionAttributeValues"], **query.pop("ExpressionAttributeValues_extra", {})}
    pages, start = [], None
    while True:
        page = dynamodb.query(TableName=TABLE, **query, **({"Limit": limit} if limit else {}), **({"ExclusiveStartKey": start} if start else {}))
        page.pop("ResponseMetadata")
        pages.append(page)
        start = page.get("LastEvaluatedKey")
        if not start:
            return pages


@pytest.mark.parametrize("limit", [None, 5])
def test_given_partitions_and_an_index_then_every_query_answers_the_same_pages_with_the_patch(dynamodb, limit):
    plain = [_pages(dynamodb, q, limit) for q in QUERIES]
    with partition_queries():
        patched = [_pages(dynamodb, q, limit) for q in QUERIES]
    assert patched == plain
    assert [sum(p["Count"] for p in pages) for pages in plain] == [13, 0, 12, 3, 13, 1]


def test_with_the_patch_a_query_on_the_tables_key_reads_one_partition_and_an_index_query_still_reads_them_all(dynamodb, monkeypatch):
    from moto.dynamodb.models.table import Table

    walked: list[int] = []
    all_items = Table.all_items
    monkeypatch.setattr(Table, "all_items", lambda self: walked.append(len(items := all_items(self))) or items)

    with partition_queries():
        dynamodb.query(TableName=TABLE, **QUERIES[0])
        dynamodb.query(TableName=TABLE, **QUERIES[-1])
    dynamodb.query(TableName=TABLE, **QUERIES[0])

    assert walked == [13, 30 * 13, 30 * 13]  # the partition; an index (every item); without the patch, every item
