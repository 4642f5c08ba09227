"""One member per openid, over HTTP against the running local stack and its fake of WeChat's APIs
(localstage/wechat_fake.py): the same WeChat ticket bound by many requests at once binds exactly
once, the others get a clean 409 wechat_taken and write nothing (no member enrolled, the SMS code
left unused); the same phone proven many times at once signs one member in with one binding and
one welcome bonus; two openids binding one phone at once end as a bind and a rebind, the member
bound to exactly one of them (docs/wechat.md, "Concurrency")."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest
import requests

from tests.e2e.factories import TIMEOUT, assert_problem, bearer, code_sent_to, ledger, new_phone, signup
from tests.e2e.test_concurrency import all_at_once, assert_no_server_error

pytestmark = pytest.mark.e2e


def new_user() -> str:
    """A WeChat user of the fake nobody else in this session uses (its codes are `<user>.<n>`)."""
    return f"wx{uuid.uuid4().hex[:12]}"


def session(stack: Any, code: str) -> dict[str, Any]:
    reply = requests.post(stack.url("/v1/wechat/sessions"), json={"code": code}, timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def ticket(stack: Any, user: str) -> str:
    body = session(stack, f"{user}.{uuid.uuid4().hex[:6]}")
    assert body["status"] == "phone_required", body
    return str(body["wechat_ticket"])


def bind(stack: Any, body: dict[str, Any]) -> requests.Response:
    return requests.post(stack.url("/v1/wechat/bindings"), json=body, timeout=4 * TIMEOUT)


def bind_with_phone(stack: Any, wechat_ticket: str, phone: str) -> requests.Response:
    """getPhoneNumber, as the mini-program does it: WeChat slow to answer on this shared machine
    (`503 wechat_unavailable`, nothing written) is retried with a new code, as documented."""
    for _ in range(3):
        reply = bind(stack, {"wechat_ticket": wechat_ticket, "phone_code": phone_code(phone)})
        if reply.status_code != 503 or reply.json().get("code") != "wechat_unavailable":
            return reply
    return reply


def phone_code(phone: str) -> str:
    """getPhoneNumber's code for `phone` in the fake (single use: a suffix makes each one new)."""
    return f"phone-{phone.removeprefix('+86')}.{uuid.uuid4().hex[:6]}"


def member_of(stack: Any, phone: str) -> dict[str, Any] | None:
    found = requests.get(stack.url("/v1/admin/members"), params={"phone": phone}, timeout=TIMEOUT)
    assert found.status_code == 200, found.text
    items = found.json()["items"]
    return items[0] if items else None


def audit_actions(stack: Any, member_id: str) -> list[str]:
    audit = requests.get(stack.url("/v1/admin/audit"), params={"member_id": member_id, "limit": 100}, timeout=TIMEOUT)
    assert audit.status_code == 200, audit.text
    return [entry["action"] for entry in audit.json()["items"] if entry["action"].startswith("member.wechat.")]


def signed_in_member_id(stack: Any, user: str) -> str | None:
    """Whom a fresh wx.login code of `user` signs in (None: phone_required, nobody's)."""
    body = session(stack, f"{user}.{uuid.uuid4().hex[:6]}")
    return str(body["member"]["member_id"]) if body["status"] == "signed_in" else None


def assert_one_winner(replies: list[requests.Response]) -> requests.Response:
    assert_no_server_error(replies)
    statuses = Counter(r.status_code for r in replies)
    assert statuses == {200: 1, 409: len(replies) - 1}, [(r.status_code, r.text[:200]) for r in replies]
    for reply in replies:
        if reply.status_code == 409:
            assert_problem(reply, 409, "wechat_taken")
    [winner] = [r for r in replies if r.status_code == 200]
    return winner


def test_given_one_ticket_when_eight_new_phones_bind_it_at_once_with_get_phone_number_then_one_binding_and_nobody_else_enrolled(stack):
    user = new_user()
    wechat_ticket = ticket(stack, user)
    phones = [new_phone() for _ in range(8)]

    replies = all_at_once([lambda p=p: bind_with_phone(stack, wechat_ticket, p) for p in phones], workers=8)

    winner = assert_one_winner(replies)
    winner_id = winner.json()["member"]["member_id"]
    losers = [p for p, r in zip(phones, replies, strict=True) if r.status_code == 409]
    assert all(member_of(stack, p) is None for p in losers)  # a rejected binding enrolled nobody
    assert signed_in_member_id(stack, user) == winner_id
    assert audit_actions(stack, winner_id) == ["member.wechat.bind"]


def test_given_one_ticket_when_six_members_bind_it_at_once_with_their_sms_codes_then_one_binding_and_the_other_codes_unused(stack):
    user = new_user()
    wechat_ticket = ticket(stack, user)
    phones = [new_phone() for _ in range(6)]
    for phone in phones:
        assert signup(stack, phone).status_code == 202
    codes = {phone: code_sent_to(stack, phone) for phone in phones}

    replies = all_at_once(
        [lambda p=p: bind(stack, {"wechat_ticket": wechat_ticket, "phone": p, "code": codes[p]}) for p in phones],
        workers=6,
    )

    winner = assert_one_winner(replies)
    assert signed_in_member_id(stack, user) == winner.json()["member"]["member_id"]
    for phone, reply in zip(phones, replies, strict=True):
        if reply.status_code == 409:
            loser = member_of(stack, phone)
            assert loser is not None and loser["status"] == "pending"  # not activated, no welcome points
            # Nothing was written: the code is still unused, and signs the member in without WeChat.
            verified = requests.post(stack.url("/v1/auth/verify"), json={"phone": phone, "code": codes[phone]}, timeout=TIMEOUT)
            assert verified.status_code == 200, verified.text
            assert verified.json()["member"]["member_id"] != winner.json()["member"]["member_id"]


def test_given_one_ticket_when_one_new_phone_is_proven_six_times_at_once_then_one_member_one_binding_one_welcome_bonus(stack):
    user = new_user()
    wechat_ticket = ticket(stack, user)
    phone = new_phone()

    replies = all_at_once([lambda: bind_with_phone(stack, wechat_ticket, phone) for _ in range(6)], workers=6)

    # The same WeChat account and the same proven phone: every proof signs the same member in.
    assert_no_server_error(replies)
    assert [r.status_code for r in replies] == [200] * 6, [r.text[:200] for r in replies]
    member_ids = {r.json()["member"]["member_id"] for r in replies}
    assert len(member_ids) == 1
    [member_id] = member_ids
    assert signed_in_member_id(stack, user) == member_id
    assert audit_actions(stack, member_id) == ["member.wechat.bind"]
    token = replies[0].json()["access_token"]
    assert [(e["kind"], e["points"]) for e in ledger(stack, token)] == [("bonus", 100)]  # the welcome bonus once
    me = requests.get(stack.url("/v1/me/wechat"), headers=bearer(token), timeout=TIMEOUT).json()
    assert [b["app"] for b in me["bindings"]] == ["mini_program"]


def test_given_two_wechat_accounts_when_they_bind_one_phone_at_once_then_a_bind_and_a_rebind_and_exactly_one_stays_bound(stack):
    users = [new_user(), new_user()]
    tickets = [ticket(stack, user) for user in users]
    phone = new_phone()

    replies = all_at_once([lambda t=t: bind_with_phone(stack, t, phone) for t in tickets], workers=2)

    # Documented outcome: one WeChat account per app and membership; the later binding replaces the
    # earlier one (a rebind, audited), so both sign in once, and the member ends bound to one of them.
    assert_no_server_error(replies)
    assert [r.status_code for r in replies] == [200, 200], [r.text[:200] for r in replies]
    [member_id] = {r.json()["member"]["member_id"] for r in replies}
    assert sorted(audit_actions(stack, member_id)) == ["member.wechat.bind", "member.wechat.rebind"]
    signed_in = [signed_in_member_id(stack, user) for user in users]
    assert sorted(signed_in, key=str) == sorted([member_id, None], key=str)  # exactly one still signs in; the other is nobody's
    token = replies[0].json()["access_token"]
    assert [(e["kind"], e["points"]) for e in ledger(stack, token)] == [("bonus", 100)]
