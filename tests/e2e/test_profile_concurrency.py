"""Profile changes racing other writers on the running local stack: a phone is never held twice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.e2e.factories import TIMEOUT, bearer, code_sent_to, me, new_order_id, new_phone, purchase, signed_in_member

pytestmark = pytest.mark.e2e

RACES = 6


def test_given_members_moving_to_phones_a_till_enrols_at_the_same_moment_then_each_phone_ends_with_exactly_one_member(stack):
    movers = [signed_in_member(stack) for _ in range(RACES)]
    targets = [new_phone() for _ in range(RACES)]
    codes = []
    for mover, target in zip(movers, targets, strict=True):
        asked = requests.post(stack.url("/v1/me/phone"), json={"phone": target}, headers=bearer(mover.token), timeout=TIMEOUT)
        assert asked.status_code == 202, asked.text
        codes.append(code_sent_to(stack, target))

    def move(i: int) -> requests.Response:
        body = {"phone": targets[i], "code": codes[i]}
        return requests.post(stack.url("/v1/me/phone/verify"), json=body, headers=bearer(movers[i].token), timeout=TIMEOUT)

    def enrol(i: int) -> requests.Response:
        return purchase(stack, phone=targets[i], amount=1000, order_id=new_order_id())

    with ThreadPoolExecutor(max_workers=2 * RACES) as pool:
        moves = [pool.submit(move, i) for i in range(RACES)]
        enrolments = [pool.submit(enrol, i) for i in range(RACES)]
        moved, enrolled = [f.result() for f in moves], [f.result() for f in enrolments]

    for i in range(RACES):
        assert moved[i].status_code in (200, 409), moved[i].text
        assert enrolled[i].status_code == 201, enrolled[i].text
        holder = enrolled[i].json()["member_id"]  # the till credits whoever holds the phone
        if moved[i].status_code == 200:
            assert moved[i].json()["phone"] == targets[i]
            assert holder == movers[i].member_id  # the move won: the purchase went to the mover
        else:
            assert moved[i].json()["code"] == "phone_taken"
            assert me(stack, movers[i].token)["phone"] == movers[i].phone  # the till won: the mover kept their phone
            assert holder != movers[i].member_id
