"""End-to-end tests: the real local stack (`make run`'s) in a subprocess,
driven over HTTP on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def developer_env() -> dict[str, str]:
    """The environment of a developer's shell: none of the test run's AWS or app settings."""
    prefixes = ("AWS_", "TABLE_NAME", "RULES_", "SIGNING_", "OUTBOX_", "HUIYUAN_", "POWERTOOLS_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


@dataclass
class Stack:
    base: str
    state_dir: Path
    log: Path

    @property
    def outbox(self) -> Path:
        return self.state_dir / "outbox.jsonl"

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    state_dir = tmp_path_factory.mktemp("stack")
    port = free_port()
    log = state_dir / "stack.log"
    env = developer_env()
    env["HUIYUAN_ACCESS_LOG"] = "0"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "chalicelib.local.stack", "--port", str(port), "--state-dir", str(state_dir)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(base + "/v1/health", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("local stack did not start:\n" + log.read_text(errors="replace")[-4000:])
        time.sleep(0.2)
    try:
        yield Stack(base=base, state_dir=state_dir, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
