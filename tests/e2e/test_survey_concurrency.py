"""Surveys under concurrent requests against the running local stack: a member answering the same
survey from twelve requests at once is counted and rewarded exactly once, and never a 5xx."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.e2e.factories import TIMEOUT, assert_problem, balance, bearer, ledger, signed_in_member
from tests.e2e.test_concurrency import all_at_once, assert_no_server_error

pytestmark = pytest.mark.e2e

SURVEY = {
    "title": "满意度",
    "questions": [
        {"question_id": "score", "kind": "rating", "text": "Rate us", "scale": "0-10"},
        {"question_id": "note", "kind": "free_text", "text": "Why?", "required": False},
    ],
    "reward": {"points": 30},
}


def _published(stack) -> str:
    now = datetime.now(UTC)
    body = {**SURVEY, "opens_at": (now - timedelta(minutes=5)).isoformat(), "closes_at": (now + timedelta(days=1)).isoformat()}
    made = requests.post(stack.url("/v1/admin/surveys"), json=body, timeout=TIMEOUT)
    assert made.status_code == 201, made.text
    survey_id = made.json()["survey_id"]
    assert requests.post(stack.url(f"/v1/admin/surveys/{survey_id}/publish"), json={}, timeout=TIMEOUT).status_code == 200
    return survey_id


def test_given_a_member_when_twelve_answers_race_then_exactly_one_wins_and_the_reward_is_paid_once(stack):
    survey_id = _published(stack)
    member = signed_in_member(stack)
    before = balance(stack, member.token)

    def answer(n: int) -> requests.Response:
        body = {"answers": {"score": n % 11, "note": f"answer {n}"}}
        return requests.post(stack.url(f"/v1/me/surveys/{survey_id}/responses"), json=body, headers=bearer(member.token), timeout=TIMEOUT)

    replies = all_at_once([lambda n=n: answer(n) for n in range(12)], workers=12)
    assert_no_server_error(replies)
    assert Counter(r.status_code for r in replies) == {201: 1, 409: 11}
    for reply in replies:
        if reply.status_code == 409:
            assert_problem(reply, 409, "already_answered")
    assert balance(stack, member.token) == before + 30
    assert [e["ref"] for e in ledger(stack, member.token)].count(f"survey:{survey_id}") == 1
    results = requests.get(stack.url(f"/v1/admin/surveys/{survey_id}"), timeout=TIMEOUT).json()["results"]
    assert results["responses"] == 1 and sum(results["questions"][0]["distribution"].values()) == 1
