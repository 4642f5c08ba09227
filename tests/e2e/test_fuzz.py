"""Property-based API fuzzing with schemathesis, against openapi.yaml and the running stack.

Bounded and reproducible: a fixed number of examples per operation and a fixed
seed. Checks: no 5xx, responses match the documented schemas and content types,
and only documented status codes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.factories import signed_in_member
from tests.support.stack import ROOT, developer_env

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "10"))
SEED = 20261122
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def test_given_the_documented_api_when_fuzzed_then_no_5xx_and_every_answer_is_documented(stack, tmp_path):
    member = signed_in_member(stack)
    st = Path(sys.executable).with_name("st")
    done = subprocess.run(
        [
            str(st),
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
            "--checks",
            CHECKS,
            "--header",
            f"Authorization: Bearer {member.token}",
            "--header",
            "x-api-key: local-dev-key",
            "--generation-database",
            "none",
            "--workers",
            "2",
            "--no-color",
        ],
        cwd=tmp_path,
        env=developer_env(),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    report = done.stdout[-6000:]
    assert done.returncode == 0, report
    assert "passed" in report
