"""End-to-end tests: the real local stack (`make run`'s) in a subprocess,
driven over HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.support.browser import browser  # noqa: F401  (one Chromium per session, for the web app's tests)
from tests.support.stack import RunningStack, running_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        allow_codes_from_one_client(running)
        yield running


def allow_codes_from_one_client(stack: RunningStack) -> None:
    """Every test is the same client address (127.0.0.1): the per-client limits on code requests
    (10 a minute by default) would refuse the suite's sign-ups, so this stack allows many more.
    The other limits (per recipient, in all) and the resend interval stay as the rules have them."""
    current = requests.get(stack.url("/v1/admin/rules"), timeout=25).json()["rules"]
    current["code_send_limits"] |= {"per_client_per_minute": 100_000, "per_client_per_day": 10_000_000}
    reply = requests.put(stack.url("/v1/admin/rules"), json={"rules": current, "reason": "e2e: one client address for every test"}, timeout=25)
    assert reply.status_code == 200, reply.text
