"""The local stack (`make run`'s) in a subprocess on a free loopback port: for the
end-to-end tests and the load benchmark."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
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


def run_module(module: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """`python -m <module> <args>` as `make` runs it for a developer (`make job`, `make demo`,
    `make reset`): from the repo root, in a developer's environment. The caller judges the
    exit code and the output."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=developer_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class RunningStack:
    base: str
    state_dir: Path
    log: Path
    aws_endpoint: str
    pid: int

    @property
    def outbox(self) -> Path:
        return self.state_dir / "outbox.jsonl"

    def url(self, path: str) -> str:
        return self.base + path

    def dynamodb(self) -> Any:
        """A DynamoDB client on the stack's embedded AWS endpoint."""
        credentials = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
        return boto3.client("dynamodb", endpoint_url=self.aws_endpoint, region_name="us-east-1", **credentials)

    @property
    def table_name(self) -> str:
        """The local stage's table, the one the stack's app writes to."""
        config = json.loads((ROOT / ".chalice" / "config.json").read_text())
        return str(config["stages"]["local"]["environment_variables"]["TABLE_NAME"])


@contextlib.contextmanager
def running_stack(
    state_dir: Path, start_timeout: float = 60, stop_timeout: float = 10, *, access_log: bool = False, extra_env: dict[str, str] | None = None
) -> Iterator[RunningStack]:
    """`python -m localstage.stack` with a developer's environment (access log off unless
    asked for: it goes to the stack's log), once it answers /v1/health; stopped on exit (SIGTERM:
    it saves its data in `state_dir`, so a stack started again on the same directory has it;
    killed after `stop_timeout`)."""
    port = free_port()
    log = state_dir / "stack.log"
    env = developer_env()
    env["HUIYUAN_ACCESS_LOG"] = "1" if access_log else "0"
    env.update(extra_env or {})  # what a developer may set for `make run` (HUIYUAN_SMS_PROVIDER=tencent...)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "localstage.stack", "--port", str(port), "--state-dir", str(state_dir)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                if requests.get(base + "/v1/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or busy (restoring its state) past the second
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("local stack did not start:\n" + log.read_text(errors="replace")[-4000:])
            time.sleep(0.2)
        endpoints = json.loads((state_dir / "stack.json").read_text())
        yield RunningStack(base, state_dir, log, endpoints["aws_endpoint"], proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def set_sending_limits(base_url: str, limits: dict[str, int] | None = None) -> dict[str, int]:
    """Set the running stack's `code_send_limits` as an operator would (GET the rules, change them,
    PUT them back), and return the ones in force before. With no `limits`, the suite's: every
    test client is 127.0.0.1, so a shared stack needs far more codes a minute than one real
    client may send (tests/support/rules.py)."""
    from tests.support.rules import SUITE_SEND_LIMITS

    rules = requests.get(f"{base_url}/v1/admin/rules", timeout=10).json()["rules"]
    before = dict(rules["code_send_limits"])
    rules["code_send_limits"] = {**before, **(limits if limits is not None else SUITE_SEND_LIMITS)}
    reply = requests.put(f"{base_url}/v1/admin/rules", json={"rules": rules, "reason": "test suite sending limits"}, timeout=10)
    reply.raise_for_status()
    return before


def run_job(stack: RunningStack, job: str, as_of: str | None = None, *, timeout: float = 300) -> tuple[int, dict[str, Any], str]:
    """`make job JOB=<job> AS_OF=<as_of>` against `stack` (`python -m localstage.job`, a
    developer's environment): its exit status, the summary it printed (JSON), its stderr."""
    done = run_module("localstage.job", job, *([as_of] if as_of else []), "--state-dir", str(stack.state_dir), timeout=timeout)
    start = done.stdout.find("{\n")
    summary = json.loads(done.stdout[start:]) if start >= 0 else {}
    return done.returncode, summary, done.stderr
