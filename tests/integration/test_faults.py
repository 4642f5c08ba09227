"""Faults moto cannot produce, injected with a botocore `before-call` hook:
the client gets a success or a clean retryable error, never a 500, and the
ledger still sums to the balance: the member's, and after every test every
member's (the reconcile routine)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from chalicelib.settings import get_settings
from chalicelib.store import keys, unit_of_work
from chalicelib.store.models import BaseItem, LedgerEntry, Member
from chalicelib.store.unit_of_work import connection
from chalicelib.usecases.reconcile import reconcile_table
from tests.integration.conftest import bearer


@pytest.fixture(autouse=True)
def every_members_books_balance_afterwards(aws: Any) -> Any:
    """Whatever a test injected, no member's ledger or wallet drifts from its balance."""
    yield
    report = reconcile_table(connection().client, get_settings().table_name)
    assert report.members_checked >= 1
    assert (report.drifting, report.unsettled) == ({}, [])


def _clients() -> list[Any]:
    """Every botocore client the store uses (each PynamoDB model class has its own)."""
    models = [BaseItem, *BaseItem.__subclasses__()]
    clients = {id(c): c for c in [connection().client, *(m._get_connection().connection.client for m in models)]}
    return list(clients.values())


def _error(code: str, reasons: list[dict[str, str]] | None = None) -> tuple[AWSResponse, dict[str, Any]]:
    parsed: dict[str, Any] = {"Error": {"Code": code, "Message": "injected"}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    if reasons is not None:
        parsed["CancellationReasons"] = reasons
    return AWSResponse("http://injected", 400, {}, None), parsed


@contextmanager
def inject(operation: str, fault: Callable[[], Any], times: int) -> Iterator[list[int]]:
    """Answer the next `times` calls of `operation` with `fault()`; yields the count injected.
    Meanwhile the unit of work retries without its backoff waits (what it does after a fault is
    the same; tests/unit/test_unit_of_work.py covers the waits): the suite does not sleep through
    a 20-second retry budget per fault."""
    injected = [0]
    waits = unit_of_work.backoff

    def handler(**_: Any) -> Any:
        if injected[0] < times:
            injected[0] += 1
            return fault()
        return None

    event = f"before-call.dynamodb.{operation}"
    try:
        unit_of_work.backoff = lambda number, seconds: 0.0
        for client in _clients():
            client.meta.events.register(event, handler, unique_id=f"fault-{operation}")
        yield injected
    finally:
        unit_of_work.backoff = waits
        for client in _clients():
            client.meta.events.unregister(event, unique_id=f"fault-{operation}")


def transaction_conflict():
    return _error("TransactionCanceledException", [{"Code": "TransactionConflict", "Message": "conflict"}] * 4)


def throttled():
    return _error("ProvisionedThroughputExceededException")


def _invariant_holds(member_id: str) -> tuple[int, int]:
    member = Member.get(keys.member_pk(member_id), keys.PROFILE, consistent_read=True)
    total = sum(int(e.points) for e in LedgerEntry.query(keys.member_pk(member_id), LedgerEntry.sk.startswith(keys.LEDGER_PREFIX)))
    assert total == int(member.balance)
    return total, int(member.balance)


def test_given_transaction_conflicts_when_a_purchase_is_reported_then_it_is_retried_and_awarded_once(api, members):
    _, body = members.verified()
    with inject("TransactWriteItems", transaction_conflict, times=2) as injected:
        reply = members.purchase("o-1", 10000, phone=body["member"]["phone"])
    assert injected[0] == 2
    assert reply.status == 201
    assert _invariant_holds(body["member"]["member_id"]) == (200, 200)


def test_given_a_member_without_a_phone_guard_when_a_purchase_meets_contention_then_the_retry_still_awards_that_member(api, members):
    """Members written straight to the table (an import, the bench's seed) have no phone guard: a
    retry after contention finds them by the index as the first try did, and never enrols a
    second member with the same phone."""
    from chalicelib.store.models import PhoneGuard

    _, body = members.verified()
    phone, member_id = body["member"]["phone"], body["member"]["member_id"]
    PhoneGuard(keys.phone_pk(phone), keys.GUARD).delete()
    with inject("TransactWriteItems", transaction_conflict, times=2) as injected:
        reply = members.purchase("o-1", 10000, phone=phone)
    assert injected[0] == 2
    assert (reply.status, reply.json()["member_id"]) == (201, member_id)
    assert _invariant_holds(member_id) == (200, 200)
    assert [m.member_id for m in Member.scan(Member.phone == phone)] == [member_id]


def test_given_conflicts_that_do_not_stop_then_the_client_gets_503_retryable_and_nothing_is_written(api, members):
    _, body = members.verified()
    with inject("TransactWriteItems", transaction_conflict, times=10_000):
        reply = members.purchase("o-1", 10000, phone=body["member"]["phone"])
    assert reply.status == 503
    assert reply.json()["code"] == "temporarily_unavailable"
    assert int(reply.headers["Retry-After"]) >= 1
    assert _invariant_holds(body["member"]["member_id"]) == (100, 100)
    retried = members.purchase("o-1", 10000, phone=body["member"]["phone"])
    assert retried.status == 201
    assert _invariant_holds(body["member"]["member_id"]) == (200, 200)


def test_given_a_throttled_read_then_503_not_500_and_a_retry_succeeds(api, members):
    token, _ = members.verified()
    with inject("GetItem", throttled, times=10_000):
        reply = api.get("/v1/me", headers=bearer(token))
    assert reply.status == 503
    assert reply.content_type.startswith("application/problem+json")
    assert api.get("/v1/me", headers=bearer(token)).status == 200


def test_given_a_throttled_transaction_during_redemption_then_nothing_is_spent_twice(api, members):
    token, body = members.verified()
    members.purchase("o-1", 50000, phone=body["member"]["phone"])
    headers = {**bearer(token), "Idempotency-Key": "k-1"}
    with inject("TransactWriteItems", throttled, times=10_000):
        failed = api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers=headers)
    assert failed.status == 503
    ok = api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers=headers)
    again = api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers=headers)
    assert (ok.status, again.status, again.headers.get("Idempotent-Replayed")) == (201, 200, "true")
    assert ok.json() == again.json()
    assert _invariant_holds(body["member"]["member_id"]) == (100, 100)


def test_given_one_conflict_during_verification_then_the_welcome_bonus_is_granted_once(api, members, outbox_path):
    from tests.support.outbox import last_code

    phone = members.signed_up()
    with inject("TransactWriteItems", transaction_conflict, times=1):
        reply = api.post("/v1/auth/verify", {"phone": phone, "code": last_code(outbox_path, phone)})
    assert reply.status == 200
    assert _invariant_holds(reply.json()["member"]["member_id"]) == (100, 100)


def _lost_answer(operation: str):
    """Let the call through, then lose its answer (a read timeout after DynamoDB committed)."""
    from botocore.exceptions import ReadTimeoutError

    lost = [0]

    def handler(**_: Any) -> None:
        if lost[0] == 0:
            lost[0] += 1
            raise ReadTimeoutError(endpoint_url="https://dynamodb.injected")

    return handler, lost


def test_given_a_purchase_whose_commit_answer_is_lost_then_the_retry_still_answers_201_and_invites_the_new_member(api, members, outbox_path):
    from tests.support.outbox import messages

    handler, lost = _lost_answer("TransactWriteItems")
    for client in _clients():
        client.meta.events.register("after-call.dynamodb.TransactWriteItems", handler, unique_id="lose-answer")
    try:
        phone = members.phone()
        reply = members.purchase("o-lost", 10000, phone=phone)
    finally:
        for client in _clients():
            client.meta.events.unregister("after-call.dynamodb.TransactWriteItems", unique_id="lose-answer")
    assert lost[0] == 1
    assert reply.status == 201
    assert [m["kind"] for m in messages(outbox_path) if m["to"] == phone] == ["invite"]
    assert _invariant_holds(reply.json()["member_id"]) == (100, 100)
    assert members.purchase("o-lost", 10000, phone=phone).status == 200


def test_given_a_redemption_whose_commit_answer_is_lost_then_the_retry_answers_201_once_and_a_later_retry_is_a_replay(api, members):
    token, body = members.verified()
    members.purchase("o-1", 50000, phone=body["member"]["phone"])
    headers = {**bearer(token), "Idempotency-Key": "k-lost"}
    handler, lost = _lost_answer("TransactWriteItems")
    for client in _clients():
        client.meta.events.register("after-call.dynamodb.TransactWriteItems", handler, unique_id="lose-answer")
    try:
        reply = api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers=headers)
    finally:
        for client in _clients():
            client.meta.events.unregister("after-call.dynamodb.TransactWriteItems", unique_id="lose-answer")
    assert lost[0] == 1
    assert (reply.status, reply.headers.get("Idempotent-Replayed")) == (201, None)
    again = api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers=headers)
    assert (again.status, again.headers.get("Idempotent-Replayed"), again.json()) == (200, "true", reply.json())
    assert _invariant_holds(body["member"]["member_id"]) == (100, 100)


def test_given_a_refund_whose_commit_answer_is_lost_then_the_retry_answers_201_and_a_later_retry_is_a_replay(api, members):
    from tests.integration.conftest import MERCHANT

    _, body = members.verified()
    members.purchase("o-rl", 10000, phone=body["member"]["phone"])
    handler, lost = _lost_answer("TransactWriteItems")
    for client in _clients():
        client.meta.events.register("after-call.dynamodb.TransactWriteItems", handler, unique_id="lose-answer")
    try:
        reply = api.post("/v1/purchases/o-rl/refunds", {"refund_id": "r-lost", "amount": 2500}, headers=MERCHANT)
    finally:
        for client in _clients():
            client.meta.events.unregister("after-call.dynamodb.TransactWriteItems", unique_id="lose-answer")
    assert lost[0] == 1
    assert (reply.status, reply.headers.get("Idempotent-Replayed"), reply.json()["points_reversed"]) == (201, None, 25)
    again = api.post("/v1/purchases/o-rl/refunds", {"refund_id": "r-lost", "amount": 2500}, headers=MERCHANT)
    assert (again.status, again.headers.get("Idempotent-Replayed"), again.json()) == (200, "true", reply.json())
    assert _invariant_holds(body["member"]["member_id"]) == (175, 175)


def test_given_a_signups_send_reservation_whose_answer_is_lost_then_503_not_a_429_for_a_code_never_sent(api, members):
    """The reservation is committed once: a lost answer is a retryable 503, never "a code was sent
    moments ago" (its own resend marker found by a retry) for a code that was never sent."""
    members.verified()  # someone else's membership: the connection and its client exist
    handler, lost = _lost_answer("TransactWriteItems")
    phone = members.phone()
    for client in _clients():
        client.meta.events.register("after-call.dynamodb.TransactWriteItems", handler, unique_id="lose-answer")
    try:
        reply = api.post("/v1/signup", {"phone": phone, "name": "张伟"})
    finally:
        for client in _clients():
            client.meta.events.unregister("after-call.dynamodb.TransactWriteItems", unique_id="lose-answer")
    assert (lost[0], reply.status, reply.json().get("code")) == (1, 503, "temporarily_unavailable"), reply.json()


def test_given_dynamodb_does_not_answer_then_503_not_500(api, members):
    from botocore.exceptions import ReadTimeoutError

    token, _ = members.verified()

    def no_answer() -> Any:
        raise ReadTimeoutError(endpoint_url="https://dynamodb.injected")

    with inject("GetItem", no_answer, times=10_000):
        reply = api.get("/v1/me", headers=bearer(token))
    assert reply.status == 503
    assert reply.json()["code"] == "temporarily_unavailable"


@contextmanager
def counting(*operations: str) -> Iterator[dict[str, int]]:
    """How many calls of each DynamoDB operation the block made."""
    counts = dict.fromkeys(operations, 0)

    def handler(model: Any, **_: Any) -> None:
        if model.name in counts:
            counts[model.name] += 1

    for client in _clients():
        client.meta.events.register("before-call.dynamodb", handler, unique_id="count-calls")
    try:
        yield counts
    finally:
        for client in _clients():
            client.meta.events.unregister("before-call.dynamodb", unique_id="count-calls")


def test_given_a_lagging_phone_index_when_a_purchase_loses_the_version_check_then_the_retry_uses_the_member_dynamodb_returned(api, members):
    """In AWS the `by_phone` index is eventually consistent: a retry that read it again could get the
    same old version and lose again, attempt after attempt. The cancellation returns the member as
    it is now (ALL_OLD); the retry writes from that, with no read."""
    _, body = members.verified()
    phone, member_id = body["member"]["phone"], body["member"]["member_id"]
    client, table = connection().client, get_settings().table_name
    key = {"pk": {"S": keys.member_pk(member_id)}, "sk": {"S": keys.PROFILE}}
    stale = client.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    # Someone else changed the member (a new version, same balance); the index has not caught up.
    client.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET #v = #v + :one",
        ExpressionAttributeNames={"#v": "version"},
        ExpressionAttributeValues={":one": {"N": "1"}},
    )

    def lagging_index() -> tuple[AWSResponse, dict[str, Any]]:
        return AWSResponse("http://injected", 200, {}, None), {
            "Items": [stale],
            "Count": 1,
            "ScannedCount": 1,
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }

    members.purchase("o-warm", 100, phone=members.phone())  # the merchant key, read once per container
    with inject("Query", lagging_index, times=1000) as queries, counting("GetItem", "TransactWriteItems") as calls:
        reply = members.purchase("o-1", 10000, phone=phone)
    assert reply.status == 201, reply.text
    assert reply.json()["balance"] == 200
    assert (queries[0], calls) == (1, {"GetItem": 0, "TransactWriteItems": 2})
    assert _invariant_holds(member_id) == (200, 200)


def _recipient_counters() -> list[Any]:
    from chalicelib.store.models import SendCounter

    return [c for c in BaseItem.scan() if isinstance(c, SendCounter) and c.pk.startswith("SENDLIMIT#TO#")]


def test_given_an_unknown_phone_when_a_purchase_enrols_it_then_the_invitation_is_reserved_in_the_same_transaction(api, members, outbox_path):
    """Two round trips: the index read and one transaction (enrolment, points and the invitation's
    send reservation); the invitation still goes out, and is counted against the limits."""
    from tests.support.outbox import messages

    members.purchase("o-warm", 100, member_id=members.verified()[1]["member"]["member_id"])  # the merchant key, read once
    phone = members.phone()
    recipients_before = len(_recipient_counters())
    with counting("Query", "GetItem", "TransactWriteItems", "UpdateItem") as calls:
        reply = members.purchase("o-new", 10000, phone=phone)
    assert reply.status == 201
    assert calls == {"Query": 1, "GetItem": 0, "TransactWriteItems": 1, "UpdateItem": 0}
    assert [m["kind"] for m in messages(outbox_path) if m["to"] == phone] == ["invite"]
    assert len(_recipient_counters()) == recipients_before + 1  # the new phone's own day counter
