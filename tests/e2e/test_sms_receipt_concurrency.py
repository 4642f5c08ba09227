"""SMS delivery receipts under concurrency, over HTTP against a running local stack that sends SMS
by Tencent Cloud's fake (HUIYUAN_SMS_PROVIDER=tencent, receipts held back so the test posts them):
the same message's receipt posted many times at once, some saying SUCCESS and some FAIL, is
recorded exactly once and every copy is answered as handled (docs/sms-providers.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests

from tests.e2e.factories import TIMEOUT, new_phone, signup
from tests.e2e.test_concurrency import all_at_once, assert_no_server_error
from tests.support.stack import RunningStack, running_stack, set_sending_limits

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tencent_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    env = {"HUIYUAN_SMS_PROVIDER": "tencent", "HUIYUAN_SMS_RECEIPT_DELAY_SECONDS": "off"}
    with running_stack(tmp_path_factory.mktemp("tencent-stack"), extra_env=env) as running:
        set_sending_limits(running.base)
        yield running


def receipt_token(stack: RunningStack) -> str:
    """The token the stage's fake was given (the SMS credentials, as the service reads them)."""
    ssm = boto3.client("ssm", endpoint_url=stack.aws_endpoint, region_name="us-east-1", aws_access_key_id="local", aws_secret_access_key="local")
    value = ssm.get_parameter(Name="/huiyuan/local/sms-credentials", WithDecryption=True)["Parameter"]["Value"]
    return str(json.loads(value)["receipt_token"])


def sends(stack: RunningStack) -> dict[str, dict[str, Any]]:
    """Every kept send, by message id: its status and error code."""
    items = stack.dynamodb().scan(
        TableName=stack.table_name,
        FilterExpression="#t = :t",
        ExpressionAttributeNames={"#t": "type"},
        ExpressionAttributeValues={":t": {"S": "SmsSend"}},
    )["Items"]
    return {item["pk"]["S"].split("#", 2)[2]: {"status": item["status"]["S"], "error_code": item.get("error_code", {}).get("S")} for item in items}


def test_given_one_sms_when_its_receipt_arrives_12_times_at_once_saying_both_things_then_it_is_recorded_once(tencent_stack):
    stack = tencent_stack
    before = set(sends(stack))
    assert signup(stack, new_phone()).status_code == 202
    [message_id] = set(sends(stack)) - before
    assert sends(stack)[message_id] == {"status": "sent", "error_code": None}
    url = stack.url(f"/v1/sms/receipts/tencent/{receipt_token(stack)}")
    success = [{"sid": message_id, "report_status": "SUCCESS", "errmsg": "DELIVRD", "mobile": "13900000000"}]
    failure = [{"sid": message_id, "report_status": "FAIL", "errmsg": "MK:100D", "mobile": "13900000000"}]

    bodies = [success if n % 2 else failure for n in range(12)]
    replies = all_at_once([lambda body=body: requests.post(url, json=body, timeout=TIMEOUT) for body in bodies], workers=12)

    assert_no_server_error(replies)
    assert [r.status_code for r in replies] == [200] * 12, [r.text[:200] for r in replies]
    assert all(r.json() == {"result": 0, "errmsg": "OK"} for r in replies)
    recorded = sends(stack)[message_id]
    assert recorded in ({"status": "delivered", "error_code": None}, {"status": "failed", "error_code": "MK:100D"})
    logged = [json.loads(line) for line in stack.log.read_text(encoding="utf-8").splitlines() if '"SMS receipts"' in line]
    assert sum(entry["recorded"] for entry in logged) == 1 and sum(entry["replayed"] for entry in logged) == 11
    assert "13900000000" not in stack.log.read_text(encoding="utf-8")  # the phone a receipt repeats is never logged
