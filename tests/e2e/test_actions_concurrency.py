"""Points for actions under concurrent requests against the running local stack: a daily limit
is never passed however many reports race, one event id awards once, one day gets one
check-in, and never a 5xx; the books still balance."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.e2e.books import assert_every_members_books_balance
from tests.e2e.factories import TIMEOUT, WELCOME_POINTS, balance, bearer, ledger, merchant_headers, signed_in_member
from tests.e2e.test_concurrency import all_at_once, assert_no_server_error

pytestmark = pytest.mark.e2e

REVIEW_POINTS, REVIEWS_PER_DAY, CHECK_IN_POINTS = 20, 3, 5


def _put_rules(stack: Any, changes: dict[str, Any], reason: str) -> dict[str, Any]:
    """As an operator would: GET the rules, change them, PUT them back; the rules before."""
    rules = requests.get(stack.url("/v1/admin/rules"), timeout=TIMEOUT).json()["rules"]
    reply = requests.put(stack.url("/v1/admin/rules"), json={"rules": {**rules, **changes}, "reason": reason}, timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text
    return rules


@pytest.fixture(scope="module")
def action_rules(stack: Any) -> Iterator[None]:
    review = {"type": "review", "label": "Product review", "points": REVIEW_POINTS, "max_per_member_per_day": REVIEWS_PER_DAY}
    before = _put_rules(stack, {"action_rules": [review], "check_in": {"points": CHECK_IN_POINTS, "streak_bonuses": {}}}, "action tests")
    yield
    _put_rules(stack, {"action_rules": before["action_rules"], "check_in": before["check_in"]}, "action tests over")


def _report(stack: Any, member_id: str, event_id: str) -> requests.Response:
    body = {"event_id": event_id, "member_id": member_id, "type": "review"}
    return requests.post(stack.url("/v1/actions"), json=body, headers=merchant_headers(), timeout=TIMEOUT)


def test_given_a_limit_of_three_reviews_a_day_when_twenty_reviews_are_reported_at_once_then_exactly_three_earn(stack, action_rules):
    member = signed_in_member(stack)

    replies = all_at_once([lambda n=n: _report(stack, member.member_id, f"rv-{uuid.uuid4().hex}-{n}") for n in range(20)], workers=20)

    assert_no_server_error(replies)
    assert {r.status_code for r in replies} == {201}
    outcomes = Counter((r.json()["points_awarded"], r.json()["limit_reached"]) for r in replies)
    assert outcomes == {(REVIEW_POINTS, None): REVIEWS_PER_DAY, (0, "day"): 20 - REVIEWS_PER_DAY}
    assert balance(stack, member.token) == WELCOME_POINTS + REVIEWS_PER_DAY * REVIEW_POINTS
    assert [e["points"] for e in ledger(stack, member.token) if e["kind"] == "action"] == [REVIEW_POINTS] * REVIEWS_PER_DAY
    assert_every_members_books_balance(stack)


def test_given_one_event_sent_eight_times_at_once_then_it_is_awarded_once_and_every_answer_is_the_first(stack, action_rules):
    member = signed_in_member(stack)
    event_id = f"rv-{uuid.uuid4().hex}"

    replies = all_at_once([lambda: _report(stack, member.member_id, event_id) for _ in range(8)], workers=8)

    assert_no_server_error(replies)
    assert sorted(r.status_code for r in replies) == [200] * 7 + [201]
    assert len({r.text for r in replies}) == 1
    assert balance(stack, member.token) == WELCOME_POINTS + REVIEW_POINTS


def test_given_ten_check_ins_at_once_then_the_day_gets_one_and_every_answer_is_it(stack, action_rules):
    member = signed_in_member(stack)

    def check_in() -> requests.Response:
        return requests.post(stack.url("/v1/me/check-ins"), headers=bearer(member.token), timeout=TIMEOUT)

    replies = all_at_once([check_in for _ in range(10)], workers=10)

    assert_no_server_error(replies)
    assert sorted(r.status_code for r in replies) == [200] * 9 + [201]
    assert len({r.text for r in replies}) == 1
    assert replies[0].json()["streak"] == 1
    assert [e["points"] for e in ledger(stack, member.token) if e["kind"] == "check_in"] == [CHECK_IN_POINTS]
    assert balance(stack, member.token) == WELCOME_POINTS + CHECK_IN_POINTS
