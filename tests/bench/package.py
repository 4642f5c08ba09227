"""Deployment package: `chalice package --stage dev` on a copy of the project,
then pruned as the CDK stack prunes it (`infra.lambda_package.prune_zip`:
botocore keeps the models of the services the app uses), so the zip measured
is the zip deployed.

The copy (app.py, chalicelib/, vendor/ if any, requirements.txt and
.chalice/config.json) lives in a temporary directory, so chalice's build cache
(`.chalice/deployments/`) never lands in the working tree. The venv's chalice
runs under the venv's interpreter (3.13), which is the runtime it targets.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from infra.lambda_package import prune_zip

STAGE = "dev"


@dataclass
class Package:
    zip_bytes: int = 0
    unzipped_bytes: int = 0
    files: int = 0
    runtimes: list[str] = field(default_factory=list)
    largest: list[tuple[str, int]] = field(default_factory=list)
    top_level: set[str] = field(default_factory=set)  # importable names at the zip's root
    seconds: float = 0.0
    pruned_files: int = 0  # botocore service models left out
    pruned_unzipped_bytes: int = 0
    unpruned_zip_bytes: int = 0
    error: str | None = None


def _chalice() -> list[str]:
    beside = Path(sys.executable).with_name("chalice")
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "chalice.cli"]


def _copy_project(root: Path, into: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    into.mkdir(parents=True)
    shutil.copy2(root / "app.py", into / "app.py")
    shutil.copy2(root / "requirements.txt", into / "requirements.txt")
    shutil.copytree(root / "chalicelib", into / "chalicelib", ignore=ignore)
    if (root / "vendor").is_dir():
        shutil.copytree(root / "vendor", into / "vendor", ignore=ignore)
    (into / ".chalice").mkdir()
    shutil.copy2(root / ".chalice" / "config.json", into / ".chalice" / "config.json")


def _runtimes(template: dict) -> list[str]:
    found = []
    for resource in template.get("Resources", {}).values():
        runtime = resource.get("Properties", {}).get("Runtime")
        if runtime:
            found.append(runtime)
    runtime = template.get("Globals", {}).get("Function", {}).get("Runtime")
    if runtime:
        found.append(runtime)
    return sorted(set(found))


def build_package(root: Path, out: Path, env: dict[str, str], timeout: int = 240) -> str | None:
    """`chalice package --stage dev` of a copy of `root` into `out` (deployment.zip, sam.json), unpruned;
    the error if it failed. The copy is made in `out`'s parent (a temporary directory of the caller's)."""
    env = {**env, "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION", "us-east-1")}
    project = out.parent / "project"
    _copy_project(root, project)
    try:
        done = subprocess.run(
            [*_chalice(), "--project-dir", str(project), "package", "--stage", STAGE, str(out)],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"chalice package did not finish in {timeout} s (offline pip download?)"
    except OSError as exc:
        return f"chalice could not start: {exc}"
    if done.returncode != 0 or not (out / "deployment.zip").exists():
        lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        return f"chalice package exited {done.returncode}: " + (lines[-1] if lines else "no output")
    return None


def measure_package(root: Path, env: dict[str, str], timeout: int = 240) -> Package:
    result = Package()
    with tempfile.TemporaryDirectory(prefix="huiyuan-package-") as tmp:
        out = Path(tmp) / "out"
        started = time.perf_counter()
        result.error = build_package(root, out, env, timeout)
        if result.error:
            return result
        result.seconds = time.perf_counter() - started
        zip_path, sam_path = out / "deployment.zip", out / "sam.json"
        pruned = prune_zip(zip_path)
        result.seconds = time.perf_counter() - started
        result.pruned_files, result.pruned_unzipped_bytes = pruned.files, pruned.unzipped_bytes
        result.unpruned_zip_bytes = pruned.zip_bytes_before
        result.zip_bytes = zip_path.stat().st_size
        with zipfile.ZipFile(zip_path) as archive:
            infos = archive.infolist()
        result.files = len(infos)
        result.unzipped_bytes = sum(i.file_size for i in infos)
        top: Counter[str] = Counter()
        for info in infos:
            top[info.filename.split("/")[0]] += info.file_size
        result.largest = top.most_common(4)
        result.top_level = {name.split(".")[0] for name in top}
        if sam_path.exists():
            result.runtimes = _runtimes(json.loads(sam_path.read_text()))
    return result


def environment_for_chalice(base: dict[str, str]) -> dict[str, str]:
    env = dict(base)
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    env.pop("AWS_PROFILE", None)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env
