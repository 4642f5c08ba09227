"""The local stack's reads of the table's change stream (localstage/aws.py,
`plain_stream_reads`): a reader gets exactly what moto's own serializer gives, for
every attribute type, inserts, changes and removals, and any page size."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws

from localstage.aws import plain_stream_reads

TABLE = "stream-reads-test"


@pytest.fixture
def clients() -> Any:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        described = dynamodb.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        every_type = {
            "name": {"S": "张伟"},
            "points": {"N": "-12.5"},
            "digest": {"B": b"\x00\xffcode"},
            "tags": {"SS": ["vip", "咖啡"]},
            "counts": {"NS": ["1", "2"]},
            "keys": {"BS": [b"a", b"\x01"]},
            "items": {"L": [{"S": "x"}, {"N": "3"}, {"NULL": True}]},
            "address": {"M": {"city": {"S": "上海"}, "active": {"BOOL": False}}},
        }
        for n in range(7):
            dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": f"MEMBER#{n}"}, "sk": {"S": "PROFILE"}, **every_type})
        dynamodb.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "MEMBER#3"}, "sk": {"S": "PROFILE"}},
            UpdateExpression="SET points = :p REMOVE tags",
            ExpressionAttributeValues={":p": {"N": "40"}},
        )
        dynamodb.delete_item(TableName=TABLE, Key={"pk": {"S": "MEMBER#5"}, "sk": {"S": "PROFILE"}})
        streams = boto3.client("dynamodbstreams", region_name="us-east-1", endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com")
        yield streams, described["TableDescription"]["LatestStreamArn"]


def _read_all(streams: Any, arn: str, limit: int) -> list[dict[str, Any]]:
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records: list[dict[str, Any]] = []
    for _ in range(20):
        page = streams.get_records(ShardIterator=iterator, Limit=limit)
        if not page["Records"]:
            return records
        records += page["Records"]
        iterator = page["NextShardIterator"]
    raise AssertionError("the stream never ended")


@pytest.mark.parametrize("limit", [1, 4, 1000])
def test_a_reader_gets_the_same_records_as_through_motos_serializer(clients, limit):
    streams, arn = clients
    through_moto = _read_all(streams, arn, limit)
    with plain_stream_reads():
        plain = _read_all(streams, arn, limit)

    assert plain == through_moto
    assert [r["eventName"] for r in plain] == ["INSERT"] * 7 + ["MODIFY", "REMOVE"]
    first = plain[0]["dynamodb"]
    assert first["NewImage"]["digest"] == {"B": b"\x00\xffcode"}
    assert first["NewImage"]["address"]["M"]["city"] == {"S": "上海"}
    assert first["ApproximateCreationDateTime"].tzinfo is not None


def test_an_unknown_iterator_is_refused_as_before(clients):
    streams, arn = clients
    with plain_stream_reads(), pytest.raises(Exception) as refused:
        streams.get_records(ShardIterator=arn + "/stream/x|1|nope")
    assert type(refused.value).__name__ != "TypeError"
