"""What an attacker tries against the running stack, with real concurrent requests (issue 10):
guessing a code all at once, pumping SMS to many numbers from one client."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import requests

from tests.e2e.factories import TIMEOUT, bearer, code_sent_to, new_phone, outbox_messages, signed_in_member, signup
from tests.support.outbox import messages
from tests.support.stack import set_sending_limits

pytestmark = pytest.mark.e2e

GUESSES = 100


def _all_at_once(calls: list) -> list[requests.Response]:
    with ThreadPoolExecutor(max_workers=25) as pool:
        return list(pool.map(lambda call: call(), calls))


def _wrong_codes(right: str, n: int) -> list[str]:
    wrong = [f"{i:06d}" for i in range(n + 1) if f"{i:06d}" != right]
    return wrong[:n]


def test_given_100_guesses_at_a_sign_in_code_at_once_then_at_most_5_are_judged_and_the_rest_are_429(stack):
    phone = new_phone()
    assert signup(stack, phone).status_code == 202
    right = code_sent_to(stack, phone)
    guesses = [*_wrong_codes(right, GUESSES - 1), right]  # the right code is among them
    url = stack.url("/v1/auth/verify")
    answers = _all_at_once([lambda code=code: requests.post(url, json={"phone": phone, "code": code}, timeout=TIMEOUT) for code in guesses])
    statuses = Counter(a.status_code for a in answers)
    judged = statuses[401] + statuses[200]
    assert judged <= 5, statuses
    assert statuses[429] >= GUESSES - 5, statuses
    assert set(statuses) <= {200, 401, 429}, statuses
    # and afterwards the phone is locked out, the right code included, unless the right code won
    if statuses[200] == 0:
        late = requests.post(url, json={"phone": phone, "code": right}, timeout=TIMEOUT)
        assert late.status_code == 429 and int(late.headers["Retry-After"]) > 0


def test_given_100_guesses_at_a_phone_change_code_at_once_then_at_most_5_are_judged(stack):
    member = signed_in_member(stack)
    new = new_phone()
    assert requests.post(stack.url("/v1/me/phone"), json={"phone": new}, headers=bearer(member.token), timeout=TIMEOUT).status_code == 202
    right = code_sent_to(stack, new)
    url = stack.url("/v1/me/phone/verify")
    calls = [
        lambda code=code: requests.post(url, json={"phone": new, "code": code}, headers=bearer(member.token), timeout=TIMEOUT)
        for code in _wrong_codes(right, GUESSES)
    ]
    statuses = Counter(a.status_code for a in _all_at_once(calls))
    assert statuses[401] <= 5 and statuses[401] + statuses[429] == GUESSES, statuses


def test_given_one_client_signing_up_100_numbers_at_once_then_most_are_refused_and_the_sms_sent_stay_within_the_limit(stack):
    limit = 10
    before = set_sending_limits(stack.base, {"per_client_per_minute": limit})
    try:
        phones = [new_phone() for _ in range(100)]
        sent_before = len(messages(stack.outbox))
        started = datetime.now(UTC)
        answers = _all_at_once([lambda phone=phone: signup(stack, phone) for phone in phones])
        minutes = int((datetime.now(UTC).replace(second=0, microsecond=0) - started.replace(second=0, microsecond=0)).total_seconds() // 60) + 1
    finally:
        set_sending_limits(stack.base, before)
    statuses = Counter(a.status_code for a in answers)
    assert statuses[202] <= limit * minutes and statuses[429] >= 100 - limit * minutes, statuses
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.json()["code"] == "too_many_attempts" and int(refused.headers["Retry-After"]) >= 1
    sms = [m for m in messages(stack.outbox)[sent_before:] if m["to"] in set(phones)]
    assert len(sms) == statuses[202]  # every accepted signup sent one code; no refused one sent anything
    for answer, phone in zip(answers, phones, strict=True):
        if answer.status_code == 429:
            assert outbox_messages(stack, phone) == []
