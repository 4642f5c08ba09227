"""The local stack's memory stays with its data (localstage/aws.py, `untracked_models`): moto keeps
every model object it ever made on its class, for its own dashboard, so a long-running `make run`
grew with every request (found by `make soak`). While the embedded endpoint runs it keeps none."""

from __future__ import annotations

import gc
import weakref

import boto3
from moto import mock_aws
from moto.dynamodb.models.dynamo_type import Item

from localstage.aws import untracked_models

TABLE = "memory-test"


def _table() -> object:
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    return client


def test_given_the_local_endpoint_when_items_are_written_read_and_deleted_then_moto_keeps_only_what_the_table_holds():
    with mock_aws(), untracked_models():
        client = _table()
        for n in range(20):
            client.put_item(TableName=TABLE, Item={"pk": {"S": f"MEMBER#{n}"}, "balance": {"N": str(n)}})
        # Reads that make moto copy the item (a projection), as the app's reads do.
        for n in range(20):
            got = client.get_item(TableName=TABLE, Key={"pk": {"S": f"MEMBER#{n}"}}, ProjectionExpression="balance")
            assert got["Item"] == {"balance": {"N": str(n)}}
        assert Item.instances_tracked == []  # type: ignore[attr-defined]

        # An item deleted from the table is gone from memory too.
        backend_items = next(iter(_tables().values())).items
        held = weakref.ref(backend_items[next(k for k in backend_items if k.value == "MEMBER#0")])
        client.delete_item(TableName=TABLE, Key={"pk": {"S": "MEMBER#0"}})
        gc.collect()
        assert held() is None


def test_given_the_local_endpoint_stopped_then_moto_tracks_its_models_again_for_everyone_else():
    with mock_aws(), untracked_models():
        _table().put_item(TableName=TABLE, Item={"pk": {"S": "MEMBER#1"}})
    with mock_aws():
        before = len(Item.instances_tracked)  # type: ignore[attr-defined]
        _table().put_item(TableName=TABLE, Item={"pk": {"S": "MEMBER#1"}})
        assert len(Item.instances_tracked) > before  # type: ignore[attr-defined]


def _tables() -> dict[str, object]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables
