"""Property-based API fuzzing with schemathesis, against openapi.yaml and the running stack.

Bounded and reproducible: a fixed number of examples per operation and a fixed
seed. Every check schemathesis has (`--checks all`): no 5xx, responses match the
documented schemas, content types, headers and status codes, valid requests are
accepted and invalid ones refused, authentication is not ignored. The few rules
OpenAPI cannot state are listed, with reasons, in tests/e2e/schemathesis.toml.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.factories import signed_in_member
from tests.support.stack import ROOT, RunningStack, developer_env, running_stack, set_sending_limits

pytestmark = pytest.mark.e2e

# The three phases each test every operation: `examples` sends the ones openapi.yaml gives,
# `coverage` the schema's boundaries and every invalid shape (deterministic: ~2/3 of the run), and
# `fuzzing` this many random draws per operation and mode. 5 keeps every operation fuzzed (the
# test asserts that every operation was tested) at about half the fuzzing phase's cost of 10
# (~135 s of ~495 s on a busy 2-core machine); FUZZ_EXAMPLES=10 or more for a deeper run.
EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "5"))
SEED = 20261122
CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.fixture(scope="module")
def fuzzed_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A stack of its own: the fuzzer retires rewards, revokes keys and rewrites the rules, which
    the other tests on a shared stack must not meet."""
    with running_stack(tmp_path_factory.mktemp("fuzzed-stack")) as running:
        set_sending_limits(running.base)
        yield running


def test_given_the_documented_api_when_fuzzed_then_no_5xx_and_every_answer_is_documented(fuzzed_stack, tmp_path):
    stack = fuzzed_stack
    # One member to act as, and one each for the two operations that end a session.
    tokens = {name: signed_in_member(stack).token for name in ("FUZZ_MEMBER_TOKEN", "FUZZ_SIGN_OUT_TOKEN", "FUZZ_CLOSE_TOKEN")}
    st = Path(sys.executable).with_name("st")
    done = subprocess.run(
        [
            str(st),
            "--config-file",
            str(CONFIG),
            "run",
            str(ROOT / "openapi.yaml"),
            "--url",
            stack.base,
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--seed",
            str(SEED),
            "--phases",
            "examples,coverage,fuzzing",
            "--generation-database",
            "none",
            "--workers",
            "2",
            "--no-color",
        ],
        cwd=tmp_path,
        env={**developer_env(), **tokens, "PYTHONPATH": str(ROOT)},  # the hooks module, the tokens the config names
        capture_output=True,
        text=True,
        timeout=900,  # 99 operations: ~6 minutes on a busy 2-core machine, more under the full suite
        check=False,
    )
    report = done.stdout[-8000:]
    (tmp_path / "fuzz-report.txt").write_text(done.stdout)
    assert done.returncode == 0, report
    assert "passed" in report
    # Every operation of openapi.yaml was selected and tested (none skipped by every phase).
    selected = re.search(r"Selected: (\d+)/(\d+)", done.stdout)
    tested = re.search(r"Tested: (\d+)", done.stdout)
    assert selected and tested, report
    assert int(selected[1]) == int(selected[2]) == int(tested[1]) > 0, report
