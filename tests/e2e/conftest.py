"""End-to-end tests: the real local stack (`make run`'s) in a subprocess,
driven over HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.stack import ROOT, RunningStack, developer_env, free_port, running_stack

__all__ = ["ROOT", "Stack", "developer_env", "free_port"]

Stack = RunningStack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running
