"""Time travel in the local stage: `make job` takes any AS_OF and acts as the
schedule would have by that date, so points earned today can be watched
expiring (after their two reminders) a year and more ahead.

Its own stack: moving a stack's members a year on would surprise the tests
sharing the session stack.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.books import assert_every_members_books_balance
from tests.e2e.factories import code_sent_to, ledger, me, new_phone, outbox_messages, purchase, signup, verify
from tests.support.stack import RunningStack, run_module, running_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with running_stack(tmp_path_factory.mktemp("time-travel")) as running:
        yield running


def make_job(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`make job` as a developer runs it (python -m localstage.job, which make calls)."""
    return run_module("localstage.job", *args, "--state-dir", str(state_dir), timeout=300)


def summary(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout[done.stdout.index("{\n") :]))


def test_given_points_earned_today_when_expiry_runs_for_a_date_past_it_then_they_expire_after_two_reminders(own_stack):
    phone = new_phone()
    assert signup(own_stack, phone, consents={"sms_marketing": True}).status_code == 202
    token = verify(own_stack, phone, code_sent_to(own_stack, phone)).json()["access_token"]
    assert purchase(own_stack, phone=phone, amount=10000).status_code == 201
    points = me(own_stack, token)["points"]
    assert points["balance"] == 200
    [lot] = points["expiring"]
    expires_on = date.fromisoformat(lot["expires_on"])
    later = (expires_on + timedelta(days=15)).isoformat()

    # As the console would: that one day alone, on which nothing falls due.
    alone = summary(make_job(own_stack.state_dir, "expire-points", later, "--no-catch-up"))
    assert (alone["as_of"], alone["points_moved"], "caught_up" in alone) == (later, 0, False)
    assert me(own_stack, token)["points"]["balance"] == 200

    # As the schedule would have by then: the reminders 30 and 7 days before, then the expiry.
    travelled = summary(make_job(own_stack.state_dir, "expire-points", later))
    days = [(expires_on - timedelta(days=30)).isoformat(), (expires_on - timedelta(days=7)).isoformat(), expires_on.isoformat()]
    assert [day["as_of"] for day in travelled["caught_up"]] == days
    assert [day.get("deferred_then_sent", 0) for day in travelled["caught_up"]] == [1, 1, 0]  # 00:05 is in quiet hours
    assert travelled["caught_up"][-1]["points_moved"] == 200
    assert travelled["as_of"] == later and travelled["points_moved"] == 0

    after = me(own_stack, token)["points"]
    assert (after["balance"], after["expiring"], after["lifetime_earned"]) == (0, [], 200)
    newest = ledger(own_stack, token)[0]
    assert (newest["kind"], newest["points"], newest["balance_after"]) == ("expire", -200, 0)
    reminders = outbox_messages(own_stack, phone, "expiry_reminder")
    assert len(reminders) == 2 and all(f"200 of your points expire on {expires_on}" in m["body"] for m in reminders)

    again = summary(make_job(own_stack.state_dir, "expire-points", later))
    assert sum(day["points_moved"] for day in again["caught_up"]) == 0  # nothing twice
    assert len(outbox_messages(own_stack, phone, "expiry_reminder")) == 2
    assert_every_members_books_balance(own_stack)


@pytest.mark.parametrize(
    ("as_of", "reason"),
    [("2027-02-30", "day is out of range for month"), ("tomorrow", "not written YYYY-MM-DD"), ("2027-1-5", "not written YYYY-MM-DD")],
)
def test_given_a_malformed_as_of_then_make_job_says_how_to_write_it_and_runs_nothing(tmp_path, as_of, reason):
    done = make_job(tmp_path, "expire-points", as_of)  # no stack needed: refused before it is looked for
    assert done.returncode == 2
    assert f"AS_OF='{as_of}' is not a date ({reason}); write it YYYY-MM-DD" in done.stderr
    assert done.stdout == ""
