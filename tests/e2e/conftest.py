"""End-to-end tests: the real local stack (`make run`'s) in a subprocess,
driven over HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.support.browser import browser  # noqa: F401  (one Chromium per session, for the web app's tests)
from tests.support.rules import SUITE_SEND_LIMITS
from tests.support.stack import RunningStack, running_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        allow_codes_from_one_client(running)
        yield running


def allow_codes_from_one_client(stack: RunningStack) -> None:
    """Every test is the same client address (127.0.0.1): the stack's sending limits are the suite's
    (tests/support/rules.py), as the in-process tests' are; the resend interval stays as the rules have it."""
    current = requests.get(stack.url("/v1/admin/rules"), timeout=25).json()["rules"]
    current["code_send_limits"] = SUITE_SEND_LIMITS
    reply = requests.put(stack.url("/v1/admin/rules"), json={"rules": current, "reason": "e2e: one client address for every test"}, timeout=25)
    assert reply.status_code == 200, reply.text
