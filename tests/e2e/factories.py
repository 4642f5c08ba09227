"""Factories for the end-to-end tests: fresh phones, ids, members, purchases,
redemptions, all over HTTP against the shared local stack.

The stack is session-scoped and shared by every test, so every helper here
hands out values nobody else has used: phones from a process-wide set, order
ids, refund ids and idempotency keys from uuid4.
"""

from __future__ import annotations

import random
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import requests

from tests.support.outbox import last_code, messages

MERCHANT_KEY = "local-dev-key"
WELCOME_POINTS = 100
TIMEOUT = 25  # seconds per request: a purchase on a contended member can take ~20 s locally
PROBLEM_JSON = "application/problem+json"

_random = random.SystemRandom()
_issued_phones: set[str] = set()
_phones_lock = threading.Lock()


def new_phone() -> str:
    """A valid CN mobile number (E.164) no other test in this session has used."""
    with _phones_lock:
        while True:
            phone = "+86139" + "".join(_random.choice("0123456789") for _ in range(8))
            if phone not in _issued_phones:
                _issued_phones.add(phone)
                return phone


def new_order_id() -> str:
    return f"ord-{uuid.uuid4().hex}"


def new_refund_id() -> str:
    return f"rfd-{uuid.uuid4().hex}"


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def merchant_headers(key: str = MERCHANT_KEY) -> dict[str, str]:
    return {"x-api-key": key}


# --- calls -------------------------------------------------------------------


def signup(stack: Any, phone: str, name: str = "张伟", **extra: Any) -> requests.Response:
    return requests.post(stack.url("/v1/signup"), json={"phone": phone, "name": name, **extra}, timeout=TIMEOUT)


def verify(stack: Any, phone: str, code: str) -> requests.Response:
    return requests.post(stack.url("/v1/auth/verify"), json={"phone": phone, "code": code}, timeout=TIMEOUT)


def code_sent_to(stack: Any, phone: str) -> str:
    """The latest verification code the stack texted to `phone` (from the outbox)."""
    return last_code(stack.outbox, phone)


def outbox_messages(stack: Any, to: str, kind: str | None = None) -> list[dict[str, Any]]:
    return [m for m in messages(stack.outbox) if m["to"] == to and (kind is None or m["kind"] == kind)]


def purchase(
    stack: Any,
    *,
    phone: str | None = None,
    member_id: str | None = None,
    amount: int,
    order_id: str | None = None,
    currency: str = "CNY",
    **extra: Any,
) -> requests.Response:
    body: dict[str, Any] = {"order_id": order_id or new_order_id(), "amount": amount, "currency": currency, **extra}
    if phone is not None:
        body["phone"] = phone
    if member_id is not None:
        body["member_id"] = member_id
    return requests.post(stack.url("/v1/purchases"), json=body, headers=merchant_headers(), timeout=TIMEOUT)


def refund(stack: Any, order_id: str, *, amount: int, refund_id: str | None = None) -> requests.Response:
    return requests.post(
        stack.url(f"/v1/purchases/{order_id}/refunds"),
        json={"refund_id": refund_id or new_refund_id(), "amount": amount},
        headers=merchant_headers(),
        timeout=TIMEOUT,
    )


def redeem(stack: Any, token: str, reward_id: str, key: str | None = None) -> requests.Response:
    headers = {**bearer(token), "Idempotency-Key": key or new_idempotency_key()}
    return requests.post(stack.url("/v1/me/redemptions"), json={"reward_id": reward_id}, headers=headers, timeout=TIMEOUT)


def me(stack: Any, token: str) -> dict[str, Any]:
    reply = requests.get(stack.url("/v1/me"), headers=bearer(token), timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text
    return reply.json()


def balance(stack: Any, token: str) -> int:
    return int(me(stack, token)["points"]["balance"])


def ledger(stack: Any, token: str) -> list[dict[str, Any]]:
    """Every ledger entry, newest first, following `next_cursor` to the end."""
    entries: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        reply = requests.get(stack.url("/v1/me/ledger"), headers=bearer(token), params=params, timeout=TIMEOUT)
        assert reply.status_code == 200, reply.text
        page = reply.json()
        entries.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return entries
    raise AssertionError("the ledger's cursor never ended")


# --- members -----------------------------------------------------------------


@dataclass
class SignedInMember:
    phone: str
    member_id: str
    token: str
    signed_in: dict[str, Any]  # the body of POST /v1/auth/verify


def signed_in_member(stack: Any, phone: str | None = None, name: str = "张伟") -> SignedInMember:
    """A member who signed up and verified with the texted code (so holds the welcome points)."""
    phone = phone or new_phone()
    reply = signup(stack, phone, name)
    assert reply.status_code == 202, reply.text
    verified = verify(stack, phone, code_sent_to(stack, phone))
    assert verified.status_code == 200, verified.text
    body = verified.json()
    return SignedInMember(phone=phone, member_id=body["member"]["member_id"], token=body["access_token"], signed_in=body)


def member_with_balance(stack: Any, points_from_purchase: int) -> SignedInMember:
    """A signed-in base-tier member whose balance is WELCOME_POINTS + `points_from_purchase`.

    A base-tier member earns 1 point per 100 minor units, so the purchase is
    `points_from_purchase * 100`.
    """
    member = signed_in_member(stack)
    if points_from_purchase:
        reply = purchase(stack, member_id=member.member_id, amount=points_from_purchase * 100)
        assert reply.status_code == 201, reply.text
        assert reply.json()["points_earned"] == points_from_purchase
    return member


# --- problem details -----------------------------------------------------------


def assert_problem(reply: requests.Response, status: int, code: str) -> dict[str, Any]:
    """`reply` is an RFC 9457 problem with this status and machine-readable code."""
    assert reply.status_code == status, f"expected {status} {code}, got {reply.status_code}: {reply.text[:500]}"
    content_type = reply.headers.get("Content-Type", "")
    assert content_type.split(";")[0].strip() == PROBLEM_JSON, content_type
    body = reply.json()
    assert {"type", "title", "status", "detail", "code"} <= body.keys(), body
    assert body["status"] == status
    assert body["code"] == code
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body
