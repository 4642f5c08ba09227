"""The outside scan (issue 18): checkov over every stage's synthesized template, and over prod
with the optional settings the other way round. Any finding fails unless infra/checkov_skips.py
accepts it, on that resource, with a reason.

checkov runs from its own venv (.venv-checkov, `make checkov-venv`; `make test` builds it):
it pins boto3 and packaging versions the project's venv cannot share. One checkov process
scans the four templates (~20 s of CPU, most of it checkov's start-up).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from infra.stages import ROOT

CHECKOV = Path(os.environ.get("CHECKOV", ROOT / ".venv-checkov" / "bin" / "checkov"))
CHECKOV_VERSION = "3.3.30"  # infra/requirements-checkov.txt
# What a customer-managed data key turns from accepted to passed.
DATA_KEY_CHECKS = {"CKV_AWS_119", "CKV_AWS_149", "CKV_AWS_158"}


def scan(templates: dict[str, dict[str, Any]], workdir: Path) -> tuple[dict[str, Any], float]:
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}: run `make checkov-venv` (make test does)")
    args = [str(CHECKOV), "--framework", "cloudformation", "--output", "json", "--compact", "--skip-download"]
    for name, template in templates.items():
        path = workdir / f"{name}.template.json"
        path.write_text(json.dumps(template), encoding="utf-8")
        args += ["--file", str(path)]
    started = time.perf_counter()
    # Exit code 1 means findings: the test lists them.
    done = subprocess.run(args, cwd=workdir, capture_output=True, text=True, timeout=600, env={**os.environ, "LOG_LEVEL": "WARNING"})
    seconds = time.perf_counter() - started
    assert done.returncode in (0, 1), done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert isinstance(report, dict), "checkov reported more than one framework"
    return report, seconds


def by_template(results: list[dict[str, Any]]) -> Counter[str]:
    return Counter(Path(r["file_path"]).name.removesuffix(".template.json") for r in results)


def test_checkov_finds_nothing_that_is_not_accepted_with_a_reason(synthesized, variant, lean, tmp_path):
    templates = {**synthesized.templates, "prod-variant": variant["template"], "prod-lean": lean["template"]}
    report, seconds = scan(templates, tmp_path)
    summary, results = report["summary"], report["results"]
    assert summary["checkov_version"] == CHECKOV_VERSION
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] > 150

    failed = [f"{r['file_path']}: {r['check_id']} {r['resource']}: {r['check_name']}" for r in results["failed_checks"]]
    assert failed == [], "accept each in infra/checkov_skips.py with a reason, or fix it:\n" + "\n".join(failed)

    skipped = results["skipped_checks"]
    for r in skipped:
        reason = r.get("check_result", {}).get("suppress_comment", "")
        assert len(reason) > 80 and reason != "No comment provided", f"{r['check_id']} {r['resource']}: {reason!r}"

    passed, accepted = by_template(results["passed_checks"]), by_template(skipped)
    print(f"\ncheckov {summary['checkov_version']}, {len(templates)} templates in {seconds:.1f} s")
    for name in templates:
        print(f"  {name}: passed {passed[name]}, failed 0, accepted with a reason {accepted[name]}")
    assert set(passed) == set(accepted) == set(templates)

    # With a customer-managed data key the table, secret and log groups pass instead of being accepted.
    variant_skips = {r["check_id"] for r in skipped if Path(r["file_path"]).name.startswith("prod-variant")}
    prod_skips = {r["check_id"] for r in skipped if Path(r["file_path"]).name == "prod.template.json"}
    assert prod_skips >= DATA_KEY_CHECKS
    assert not DATA_KEY_CHECKS & variant_skips
