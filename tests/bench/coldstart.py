"""Cold start: `import app` against `import boto3`, each in fresh interpreters.

Each sample is a new `python -c` whose own `time.perf_counter()` brackets the
import, so interpreter start-up is left out. Runs alternate (app, boto3,
app, ...) so that machine noise hits both alike; one discarded run of each
first writes the bytecode caches, into a fresh folder of their own
(`PYTHONPYCACHEPREFIX`, and `PYTHONDONTWRITEBYTECODE` lifted): so neither side
compiles source in a measured run, whatever caches the checkout has and
whether the shell forbids writing them (with it forbidden and the app's caches
stale, every sample compiled a few dozen of the app's modules again, which
`import boto3`, with the venv's caches, never did). One more `-X importtime`
run of the app says where its import time goes.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

SNIPPET = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
# The route modules load their use cases on first use (chalicelib/lazy.py): what that
# first use adds, per kind of request, measured after `import app` in the same child.
DEFERRED = {
    "purchase": "chalicelib.api.schemas.merchants, chalicelib.usecases.merchants, chalicelib.usecases.purchases",
    "GET /v1/me": "chalicelib.domain.tokens, chalicelib.store.parameters, chalicelib.usecases.members",
    "operator API": (
        "chalicelib.api.schemas.operators, chalicelib.usecases.operations.member_lookup, "
        "chalicelib.usecases.operations.member_status_and_tier, chalicelib.usecases.audit"
    ),
    "job worker": "chalicelib.jobs.runner",
}
DEFERRED_SNIPPET = "import app, time; t = time.perf_counter(); import {modules}; print(time.perf_counter() - t)"


@dataclass
class ColdStart:
    app_ms: list[float] = field(default_factory=list)
    boto3_ms: list[float] = field(default_factory=list)
    self_ms: dict[str, float] = field(default_factory=dict)  # top-level package -> summed self time of `import app`
    deferred_ms: dict[str, float] = field(default_factory=dict)  # kind of request -> its modules' first load (median)
    error: str | None = None

    @property
    def app_median(self) -> float:
        return statistics.median(self.app_ms)

    @property
    def boto3_median(self) -> float:
        return statistics.median(self.boto3_ms)

    def heaviest(self, top: int = 6) -> list[tuple[str, float]]:
        return sorted(self.self_ms.items(), key=lambda kv: -kv[1])[:top]

    @property
    def ratio(self) -> float:
        return self.app_median / self.boto3_median


def _seconds(code: str, root: Path, env: dict[str, str]) -> float:
    done = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{code!r} failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}")
    return float(done.stdout.strip().splitlines()[-1])


def _import_seconds(module: str, root: Path, env: dict[str, str]) -> float:
    return _seconds(SNIPPET.format(module=module), root, env)


def _self_time_by_package(root: Path, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import app"], cwd=root, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    by_package: dict[str, float] = defaultdict(float)
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        try:
            self_us, _cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
            by_package[name.split(".")[0]] += int(self_us) / 1000
        except ValueError:
            continue
    return dict(by_package)


def measure_cold_start(root: Path, env: dict[str, str], runs: int = 7) -> ColdStart:
    with tempfile.TemporaryDirectory(prefix="huiyuan-pycache-") as caches:
        env = {name: value for name, value in env.items() if name != "PYTHONDONTWRITEBYTECODE"}
        return _measure(root, {**env, "PYTHONPYCACHEPREFIX": caches}, runs)


def _measure(root: Path, env: dict[str, str], runs: int) -> ColdStart:
    result = ColdStart()
    try:
        _import_seconds("app", root, env)
        _import_seconds("boto3", root, env)
        for _ in range(runs):
            result.app_ms.append(_import_seconds("app", root, env) * 1000)
            result.boto3_ms.append(_import_seconds("boto3", root, env) * 1000)
        result.self_ms = _self_time_by_package(root, env)
        for kind, modules in DEFERRED.items():
            result.deferred_ms[kind] = statistics.median(_seconds(DEFERRED_SNIPPET.format(modules=modules), root, env) * 1000 for _ in range(3))
    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
        result.error = str(exc)
    return result
