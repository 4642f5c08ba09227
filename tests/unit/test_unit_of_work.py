"""The unit of work's retry policy, without AWS: how long it backs off, and that requests for
one member in one process take turns instead of racing."""

from __future__ import annotations

import threading
import time

import pytest

from chalicelib.domain.errors import TemporarilyUnavailable
from chalicelib.store import unit_of_work
from chalicelib.store.unit_of_work import Retryable, backoff, run


def test_given_a_lost_race_then_the_backoff_window_starts_at_the_attempts_duration_and_doubles_up_to_the_cap():
    for _ in range(200):
        assert 0 <= backoff(0, 0.010) <= 0.010  # DynamoDB: an attempt of ~10 ms waits at most that
        assert 0 <= backoff(0, 0.0) <= unit_of_work.BACKOFF_FLOOR
        assert 0 <= backoff(2, 0.050) <= 0.200
        assert 0 <= backoff(20, 0.200) <= unit_of_work.BACKOFF_CAP
    assert max(backoff(3, 0.1) for _ in range(500)) > 0.4  # the window really grows


def test_given_contention_that_outlasts_the_budget_then_run_answers_503_in_time(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(unit_of_work, "RETRY_BUDGET_SECONDS", 0.3)
    tries = []

    def attempt(_uow: object) -> None:
        tries.append(1)
        time.sleep(0.05)
        raise Retryable("the member changed meanwhile")

    began = time.monotonic()
    with pytest.raises(TemporarilyUnavailable):
        run(attempt)
    assert time.monotonic() - began < 0.6
    assert 1 < len(tries) < 30


def test_given_one_key_when_requests_run_at_once_then_they_take_turns_and_other_keys_do_not_wait():
    inside: dict[str, int] = {}
    most: dict[str, int] = {}
    lock = threading.Lock()

    def work(key: str) -> None:
        def attempt(_uow: object) -> None:
            group = "hot" if key == "hot" else "other"
            with lock:
                inside[group] = inside.get(group, 0) + 1
                most[group] = max(most.get(group, 0), inside[group])
            time.sleep(0.05)
            with lock:
                inside[group] -= 1

        run(attempt, one_at_a_time=key)

    threads = [threading.Thread(target=work, args=("hot",)) for _ in range(6)]
    threads += [threading.Thread(target=work, args=(f"other-{n}",)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most["hot"] == 1  # six requests for one member, one at a time
    assert most["other"] > 1  # different members do not wait for each other
