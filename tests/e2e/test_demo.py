"""`make demo` against the running local stack: a small café chain as an operator
and the demo's own member see it, made once however often it runs.

Its own stack: the demo creates rewards, freezes a member and raises the
program's sending limits for its run, which the tests sharing the session
stack should not meet.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from devtools.demo.cafe import REWARDS
from devtools.demo.plan import EXPECTED_TIER, make_plan
from tests.e2e.books import assert_every_members_books_balance
from tests.support.outbox import messages
from tests.support.stack import RunningStack, run_module, running_stack

pytestmark = pytest.mark.e2e

MEMBERS, SEED = 7, 5  # one of each kind of member (plan.FIRST_KINDS)
STATUS = {"pending": "pending", "frozen": "frozen"}  # every other kind signs up: active


def make_demo(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`make demo` as a developer runs it (python -m devtools.demo, which make calls)."""
    return run_module("devtools.demo", "--state-dir", str(state_dir), *args, timeout=600)


def demo_summary(stack: RunningStack) -> dict[str, Any]:
    done = make_demo(stack.state_dir, "--members", str(MEMBERS), "--seed", str(SEED), "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout))


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with running_stack(tmp_path_factory.mktemp("demo")) as running:
        yield running


@pytest.fixture(scope="module")
def first_run(own_stack: RunningStack) -> dict[str, Any]:
    return demo_summary(own_stack)


def operator_view(stack: RunningStack, phone: str) -> dict[str, Any]:
    [member] = requests.get(stack.url("/v1/admin/members"), params={"phone": phone}, timeout=30).json()["items"]
    return dict(member)


def table_items(stack: RunningStack) -> int:
    pages = stack.dynamodb().get_paginator("scan").paginate(TableName=stack.table_name, Select="COUNT")
    return sum(page["Count"] for page in pages)


def test_given_a_running_stack_when_the_demo_runs_then_an_operator_finds_its_members_across_tiers_and_statuses(own_stack, first_run):
    plan = make_plan(SEED, MEMBERS, datetime.now(UTC), ZoneInfo("Asia/Shanghai"))  # phones and kinds do not depend on the day
    seen = Counter()
    for planned in plan.members:
        member = operator_view(own_stack, planned.phone)
        assert (member["status"], member["tier"]) == (STATUS.get(planned.kind, "active"), EXPECTED_TIER[planned.kind]), planned.kind
        if planned.profile:
            assert member["name"] == planned.profile.name  # 张伟 and friends, unchanged
        seen[member["tier"], member["status"]] += 1
    assert {("member", "active"), ("member", "pending"), ("member", "frozen"), ("silver", "active"), ("gold", "active")} <= set(seen)

    assert first_run["members"] == {"made_now": MEMBERS, "already_there": 0, "left_alone": {}, "failed": {}}
    assert {tier: sum(counts.values()) for tier, counts in first_run["by_tier_and_status"].items()} == {
        tier: sum(1 for p in plan.members if EXPECTED_TIER[p.kind] == tier) for tier in ("member", "silver", "gold")
    }
    assert first_run["lapsed"] >= 1
    assert all(store["purchases"] > 0 for store in first_run["stores"].values())  # three stores, each with sales
    assert sum(store["purchases"] for store in first_run["stores"].values()) == sum(len(p.purchases) for p in plan.members)
    assert first_run["redemptions"] and first_run["wallet"]["payments"] > 0 and first_run["feedback"]["sent"] > 0
    rewards = requests.get(own_stack.url("/v1/rewards"), timeout=30).json()["items"]
    assert {r.reward_id for r in REWARDS} <= {r["reward_id"] for r in rewards}
    # It says it raised the local program's code-sending limits for its sign-ups, and left them so.
    limits = requests.get(own_stack.url("/v1/admin/rules"), timeout=30).json()["rules"]["code_send_limits"]
    assert first_run["code_send_limits_raised"]["before"]["per_client_per_minute"] == 10
    assert limits == first_run["code_send_limits_raised"]["after"] and limits["per_client_per_day"] > 200


def test_when_the_demo_runs_again_then_it_makes_nothing_and_sends_nothing(own_stack, first_run):
    items, sent = table_items(own_stack), len(messages(own_stack.outbox))

    again = demo_summary(own_stack)

    assert again["members"]["made_now"] == 0 and again["members"]["already_there"] == MEMBERS
    assert again["requests"]["writes_made"] == 0 and again["code_send_limits_raised"] is None
    assert (table_items(own_stack), len(messages(own_stack.outbox))) == (items, sent)
    same = ("by_tier_and_status", "stores", "points", "redemptions", "wallet", "feedback", "history")
    assert {k: again[k] for k in same} == {k: first_run[k] for k in same}


def test_every_members_books_balance_after_the_demo(own_stack, first_run):
    assert first_run["books"] == {"members_checked": MEMBERS, "drifting": []}  # summed over the ledgers the API shows
    report = assert_every_members_books_balance(own_stack)  # and as the reconcile job checks them, wallets too
    assert report.members_checked == MEMBERS
    assert (report.outstanding_points, report.outstanding_stored_value) == (first_run["points"]["outstanding"], first_run["wallet"]["stored_value"])


def test_the_demo_member_it_names_has_a_few_months_at_the_cafe_to_show(own_stack, first_run):
    # As an operator sees them: signing in as them takes a new code, one a minute per phone,
    # and the demo signed them in moments ago (the demo's own requests as that member prove sign-in).
    member = operator_view(own_stack, first_run["demo_member"]["phone"])
    assert (member["name"], member["tier"], member["email"], member["profile_completed"]) == ("张伟", "silver", "zhangwei@example.com", True)
    ledger = requests.get(own_stack.url(f"/v1/admin/members/{member['member_id']}/ledger"), params={"limit": 100}, timeout=30).json()
    assert {"earn", "bonus", "redeem", "refund"} <= {e["kind"] for e in ledger["items"]}
    answered = requests.get(own_stack.url("/v1/admin/feedback"), params={"status": "answered"}, timeout=30).json()["items"]
    assert member["member_id"] in {f["member_id"] for f in answered}


def test_given_no_running_stack_then_the_demo_says_how_to_start_one_and_makes_nothing(tmp_path):
    done = make_demo(tmp_path, "--members", "3")
    assert done.returncode == 2
    assert "No local stack is running here" in done.stderr and "make run" in done.stderr
    assert done.stdout == ""
