"""End-to-end tests: the real local stack (`make run`'s) in a subprocess,
driven over HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.browser import browser  # noqa: F401  (one Chromium per session, for the web app's tests)
from tests.support.stack import RunningStack, running_stack, set_sending_limits


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        set_sending_limits(running.base)  # every test is one client address (127.0.0.1)
        yield running
