"""A store's key acts for its store: it refunds only what its store recorded, and another
store's ids tell it nothing. A brand-wide key (a head-office backend) acts for every store."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.store.models import BaseItem
from tests.integration.conftest import MERCHANT, bearer


def _issue(api, store_id: str, scope: str | None = None) -> dict[str, str]:
    body: dict[str, Any] = {"store_id": store_id, "reason": "new till"}
    if scope:
        body["scope"] = scope
    issued = api.post("/v1/admin/merchant-keys", body)
    assert issued.status == 201, issued.text
    assert issued.json()["scope"] == (scope or "store")
    return {"x-api-key": issued.json()["api_key"]}


def _problem(reply, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status, reply.text
    assert reply.content_type.startswith("application/problem+json")
    assert reply.json()["code"] == code
    return reply.json()


def _items() -> list[tuple[str, str, Any]]:
    return sorted((i.pk, i.sk, i.attribute_values.get("version")) for i in BaseItem.scan())


def _purchase(api, key, order_id: str, phone: str, amount: int = 10000, **extra: Any):
    return api.post("/v1/purchases", {"order_id": order_id, "phone": phone, "amount": amount, "currency": "CNY", **extra}, headers=key)


@pytest.fixture
def stores(api) -> dict[str, dict[str, str]]:
    return {"a": _issue(api, "store-a"), "b": _issue(api, "store-b"), "hq": _issue(api, "head-office", "brand")}


def test_given_another_stores_key_then_refunding_its_order_is_403_and_nothing_changes(api, members, stores):
    token, body = members.verified()
    phone = body["member"]["phone"]
    assert _purchase(api, stores["a"], "A-1", phone).status == 201
    before = _items()
    refused = api.post("/v1/purchases/A-1/refunds", {"refund_id": "r-1", "amount": 10000}, headers=stores["b"])
    _problem(refused, 403, "forbidden")
    assert _items() == before
    assert api.get("/v1/me", headers=bearer(token)).json()["points"]["balance"] == 200
    # its own store may, once
    assert api.post("/v1/purchases/A-1/refunds", {"refund_id": "r-1", "amount": 10000}, headers=stores["a"]).json()["points_reversed"] == 100


def test_given_a_brand_wide_key_then_it_refunds_any_stores_order(api, members, stores):
    _, body = members.verified()
    assert _purchase(api, stores["a"], "A-1", body["member"]["phone"]).status == 201
    refunded = api.post("/v1/purchases/A-1/refunds", {"refund_id": "r-1", "amount": 5000}, headers=stores["hq"])
    assert (refunded.status, refunded.json()["points_reversed"]) == (201, 50)


def test_given_a_brand_key_reporting_for_a_store_then_that_stores_key_may_refund_it(api, members, stores):
    _, body = members.verified()
    assert _purchase(api, stores["hq"], "HQ-1", body["member"]["phone"], store_id="store-a").status == 201
    assert api.post("/v1/purchases/HQ-1/refunds", {"refund_id": "r-1", "amount": 5000}, headers=stores["a"]).status == 201
    _problem(api.post("/v1/purchases/HQ-1/refunds", {"refund_id": "r-2", "amount": 5000}, headers=stores["b"]), 403, "forbidden")


def test_given_another_stores_order_id_then_a_replay_reveals_nothing_about_that_order(api, members, stores):
    _, body = members.verified()
    phone = body["member"]["phone"]
    first = _purchase(api, stores["a"], "A-1", phone)
    # store B sends store A's exact request: not A's answer (member, balance), only "that id is taken"
    replay = _purchase(api, stores["b"], "A-1", phone)
    problem = _problem(replay, 409, "idempotency_conflict")
    text = replay.text
    assert body["member"]["member_id"] not in text and str(first.json()["balance"]) not in text and phone not in text
    other_body = _problem(_purchase(api, stores["b"], "A-1", phone, amount=1), 409, "idempotency_conflict")
    assert other_body["detail"] == problem["detail"]  # same answer whatever the body: nothing to compare with
    assert _purchase(api, stores["a"], "A-1", phone).json() == first.json()  # store A still gets its answer


def test_given_a_store_key_naming_another_store_then_403_and_nothing_recorded(api, members, stores):
    before = _items()
    refused = _purchase(api, stores["a"], "A-1", members.phone(), store_id="store-b")
    assert "store-a" in _problem(refused, 403, "forbidden")["detail"]
    assert _items() == before
    assert _purchase(api, stores["a"], "A-2", members.phone(), store_id="store-a").status == 201  # its own name is fine


def test_given_another_stores_key_then_refunding_a_wallet_payment_is_403_and_the_wallet_is_unchanged(api, members, stores):
    token, body = members.verified()
    phone = body["member"]["phone"]
    topup = api.post("/v1/wallet/topups", {"topup_id": "t-1", "phone": phone, "amount": 10000, "currency": "CNY"}, headers=stores["a"])
    assert topup.status == 201, topup.text
    paid = api.post("/v1/wallet/payments", {"payment_id": "p-1", "phone": phone, "amount": 3000, "currency": "CNY"}, headers=stores["a"])
    assert paid.status == 201, paid.text
    before = _items()
    refused = api.post("/v1/wallet/payments/p-1/refunds", {"refund_id": "r-1", "amount": 3000}, headers=stores["b"])
    _problem(refused, 403, "forbidden")
    assert _items() == before
    assert api.get("/v1/me/wallet", headers=bearer(token)).json()["balance"] == 7000
    assert api.post("/v1/wallet/payments/p-1/refunds", {"refund_id": "r-1", "amount": 3000}, headers=stores["hq"]).status == 201


@pytest.mark.parametrize(("path", "id_field"), [("/v1/wallet/topups", "topup_id"), ("/v1/wallet/payments", "payment_id")])
def test_given_another_stores_wallet_id_then_a_replay_reveals_nothing(api, members, stores, path, id_field):
    _, body = members.verified()
    phone = body["member"]["phone"]
    api.post("/v1/wallet/topups", {"topup_id": "seed", "phone": phone, "amount": 10000, "currency": "CNY"}, headers=stores["a"])
    request = {id_field: "X-1", "phone": phone, "amount": 1000, "currency": "CNY"}
    first = api.post(path, request, headers=stores["a"])
    assert first.status == 201, first.text
    replay = api.post(path, request, headers=stores["b"])
    _problem(replay, 409, "idempotency_conflict")
    assert body["member"]["member_id"] not in replay.text and str(first.json()["balance"]) not in replay.text


def test_given_keys_issued_then_the_audit_and_the_list_record_their_scope(api, stores):
    listed = {k["store_id"]: k["scope"] for k in api.get("/v1/admin/merchant-keys").json()["items"]}
    assert listed["store-a"] == "store" and listed["head-office"] == "brand"
    from datetime import datetime
    from zoneinfo import ZoneInfo

    day = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    audit = api.get(f"/v1/admin/audit?day={day}").json()["items"]
    issued = [e for e in audit if e["action"] == "merchant_key.issue"]
    assert {e["after"]["scope"] for e in issued} == {"store", "brand"}


def test_given_an_unknown_scope_then_400_and_no_key(api):
    before = _items()
    _problem(api.post("/v1/admin/merchant-keys", {"store_id": "store-c", "scope": "everything"}), 400, "validation_error")
    assert _items() == before


def test_given_the_local_key_then_it_is_brand_wide(api, members):
    _, body = members.verified()
    assert _purchase(api, MERCHANT, "L-1", body["member"]["phone"], store_id="any-store").status == 201
