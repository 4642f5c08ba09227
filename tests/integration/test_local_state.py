"""The local stage's memory (localstage/persistence.py): the embedded AWS
endpoint in-process with a state directory, driven by boto3 over loopback.

A "restart" is a stop, moto emptied (as a new process would find it), and a
start on the same directory. A crash is a copy of the directory taken while
the endpoint runs: what a killed process leaves on disk.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from localstage.aws import EmbeddedAws
from localstage.persistence import JOURNAL, SNAPSHOT, StateError, reset

TABLE = "state-test"


def _forget_everything() -> None:
    """Empty moto's backends: what a new process starts with."""
    from moto.moto_api._internal import moto_api_backend

    moto_api_backend.reset()


@contextlib.contextmanager
def endpoint(state_dir: Path) -> Iterator[EmbeddedAws]:
    _forget_everything()
    aws = EmbeddedAws(state_dir=state_dir).start()
    try:
        yield aws
    finally:
        aws.stop()
        _forget_everything()


def client(aws: EmbeddedAws, service: str) -> Any:
    return boto3.client(service, endpoint_url=aws.endpoint, region_name="us-east-1", aws_access_key_id="local", aws_secret_access_key="local")


def create_table(aws: EmbeddedAws) -> None:
    dynamodb = client(aws, "dynamodb")
    dynamodb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    dynamodb.update_time_to_live(TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})


EVERY_TYPE: dict[str, Any] = {
    "pk": {"S": "MEMBER#types"},
    "sk": {"S": "PROFILE"},
    "name": {"S": "张伟"},
    "balance": {"N": "-12"},
    "rate": {"N": "1.25"},
    "active": {"BOOL": False},
    "email": {"NULL": True},
    "digest": {"B": b"\x00\xffbytes"},
    "tags": {"SS": ["a", "b"]},
    "months": {"NS": ["1", "2"]},
    "blobs": {"BS": [b"\x01", b"\x02"]},
    "lots": {"M": {"2026-11": {"N": "100"}, "notes": {"L": [{"S": "x"}, {"M": {"deep": {"BOOL": True}}}]}}},
}


def add_to_balance(aws: EmbeddedAws, member: str, points: int, entry: str) -> None:
    """A balance and its ledger entry in one transaction, as the service writes them."""
    client(aws, "dynamodb").transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": {"pk": {"S": member}, "sk": {"S": "PROFILE"}},
                    "UpdateExpression": "ADD balance :p",
                    "ExpressionAttributeValues": {":p": {"N": str(points)}},
                }
            },
            {
                "Put": {
                    "TableName": TABLE,
                    "Item": {"pk": {"S": member}, "sk": {"S": f"LEDGER#{entry}"}, "points": {"N": str(points)}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
    )


def books(aws: EmbeddedAws, member: str) -> tuple[int, int]:
    """(balance, sum of the ledger)."""
    items = client(aws, "dynamodb").query(
        TableName=TABLE, KeyConditionExpression="pk = :m", ExpressionAttributeValues={":m": {"S": member}}, ConsistentRead=True
    )["Items"]
    balance = sum(int(i["balance"]["N"]) for i in items if i["sk"]["S"] == "PROFILE")
    ledger = sum(int(i["points"]["N"]) for i in items if i["sk"]["S"].startswith("LEDGER#"))
    return balance, ledger


def crash_copy(state_dir: Path, to: Path) -> Path:
    """What is on disk now: what a process killed at this moment would leave."""
    shutil.copytree(state_dir, to)
    (to / "lock").unlink()
    return to


@pytest.mark.parametrize("moto_internals", ["read directly", "changed in a moto release"])
def test_given_items_transactions_and_parameters_when_the_endpoint_restarts_then_all_are_back_and_expired_ttl_items_are_not(
    tmp_path, monkeypatch, moto_internals
):
    if moto_internals != "read directly":  # then the snapshot is read by Scan and replayed as requests

        def changed(*_: Any) -> Any:
            raise AttributeError("not in this moto")

        monkeypatch.setattr("localstage.persistence._wire", changed)
        monkeypatch.setattr("localstage.persistence._write_batch_directly", lambda *_: False)
    state = tmp_path / "aws"
    with endpoint(state) as aws:
        create_table(aws)
        add_to_balance(aws, "MEMBER#1", 100, "a")
        add_to_balance(aws, "MEMBER#1", 250, "b")
        dynamodb = client(aws, "dynamodb")
        dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "CODE#old"}, "sk": {"S": "CODE"}, "ttl": {"N": str(int(time.time()) - 60)}})
        dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "CODE#new"}, "sk": {"S": "CODE"}, "ttl": {"N": str(int(time.time()) + 600)}})
        dynamodb.put_item(TableName=TABLE, Item=EVERY_TYPE)
        ssm = client(aws, "ssm")
        ssm.put_parameter(Name="/rules", Value="v1", Type="String")
        ssm.put_parameter(Name="/rules", Value="v2 规则", Type="String", Overwrite=True)
        ssm.put_parameter(Name="/key", Value="secret", Type="SecureString")
    assert aws.compacted is not None and aws.compacted.expired_items_dropped == 1

    with endpoint(state) as aws:
        assert books(aws, "MEMBER#1") == (350, 350)
        dynamodb = client(aws, "dynamodb")
        assert "Item" in dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "CODE#new"}, "sk": {"S": "CODE"}})
        assert "Item" not in dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "CODE#old"}, "sk": {"S": "CODE"}})
        assert dynamodb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLED"
        assert dynamodb.get_item(TableName=TABLE, Key={"pk": EVERY_TYPE["pk"], "sk": EVERY_TYPE["sk"]})["Item"] == EVERY_TYPE
        rules = client(aws, "ssm").get_parameter(Name="/rules")["Parameter"]
        assert (rules["Value"], rules["Version"]) == ("v2 规则", 2)  # the version an operator sees survives
        assert client(aws, "ssm").get_parameter(Name="/key", WithDecryption=True)["Parameter"]["Value"] == "secret"
        add_to_balance(aws, "MEMBER#1", -50, "c")  # and it goes on from there

    with endpoint(state) as aws:
        assert books(aws, "MEMBER#1") == (300, 300)


def test_given_a_crash_then_every_answered_write_is_back_and_a_torn_last_line_is_dropped(tmp_path):
    state = tmp_path / "aws"
    with endpoint(state) as aws:
        create_table(aws)
        for n in range(20):
            add_to_balance(aws, "MEMBER#1", 10, f"e{n}")
        crashed = crash_copy(state, tmp_path / "crashed")
    # The kill came in the middle of writing one more transaction (never answered).
    with open(crashed / JOURNAL, "ab") as journal:
        journal.write(b'{"region":"us-east-1","target":"DynamoDB_20120810.TransactWriteItems","request":{"TransactItems":[{"Upd')

    with endpoint(crashed) as aws:
        assert aws.restored is not None and aws.restored.dropped_torn_line and aws.restored.failed == 0
        assert books(aws, "MEMBER#1") == (200, 200)
        add_to_balance(aws, "MEMBER#1", 5, "after")  # journaled after the dropped fragment, not glued to it
        crashed_again = crash_copy(crashed, tmp_path / "crashed-again")
    with endpoint(crashed_again) as aws:
        assert aws.restored is not None and aws.restored.failed == 0
        assert books(aws, "MEMBER#1") == (205, 205)


def test_given_a_stop_cut_short_between_the_snapshot_and_the_new_journal_then_nothing_is_applied_twice(tmp_path):
    state = tmp_path / "aws"
    visits = {"TableName": TABLE, "Key": {"pk": {"S": "COUNTER"}, "sk": {"S": "VISITS"}}, "UpdateExpression": "ADD n :one"}
    with endpoint(state) as aws:
        create_table(aws)
        for _ in range(3):  # a write that adds again each time it is applied
            client(aws, "dynamodb").update_item(**visits, ExpressionAttributeValues={":one": {"N": "1"}})
        crashed = crash_copy(state, tmp_path / "crashed")  # journal (generation 0) holding the three updates
    shutil.copy(state / SNAPSHOT, crashed / SNAPSHOT)  # the stop's snapshot (generation 1) is in; the journal was not yet replaced

    with endpoint(crashed) as aws:
        item = client(aws, "dynamodb").get_item(TableName=TABLE, Key=visits["Key"])["Item"]
        assert item["n"] == {"N": "3"}


def test_given_a_journal_larger_than_the_snapshot_then_it_is_compacted_while_running_and_a_crash_replays_only_the_rest(tmp_path, monkeypatch):
    monkeypatch.setattr("localstage.persistence.COMPACT_AFTER_BYTES", 4000)
    state = tmp_path / "aws"
    with endpoint(state) as aws:
        create_table(aws)
        for n in range(30):  # about 400 bytes of journal each
            add_to_balance(aws, "MEMBER#1", 10, f"e{n}")
        assert (state / SNAPSHOT).exists()  # written while running, not only at the stop
        assert (state / JOURNAL).stat().st_size < 4000
        crashed = crash_copy(state, tmp_path / "crashed")
    with endpoint(crashed) as aws:
        assert aws.restored is not None and aws.restored.failed == 0
        assert aws.restored.journal_bytes < 4000  # what is left to replay after a crash stays small
        assert books(aws, "MEMBER#1") == (300, 300)


def test_given_a_running_endpoint_then_a_second_one_and_a_reset_are_refused_on_its_directory(tmp_path):
    state = tmp_path / "aws"
    with endpoint(state) as aws:
        create_table(aws)
        with pytest.raises(StateError, match="in use"):
            EmbeddedAws(state_dir=state).start()
        with pytest.raises(StateError, match="in use"):
            reset(state)
        assert client(aws, "dynamodb").list_tables()["TableNames"] == [TABLE]  # the refused ones changed nothing

    reset(state)
    with endpoint(state) as aws:
        assert client(aws, "dynamodb").list_tables()["TableNames"] == []
