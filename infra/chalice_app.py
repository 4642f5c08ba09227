"""Package the Chalice app for one stage with the `chalice.cdk.Chalice` construct,
and describe the functions it made.

Chalice builds the package by importing `app.py` with the stage's environment,
and the code reads some of it at import time (the job worker's queue name is a
decorator argument). Python keeps an imported module, so a second stage in the
same process (or a test process that already imported the app for the local
stage) would be packaged with the first one's values. Each stage is therefore
packaged from a fresh import, and the process's modules, environment and
working directory are put back afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constructs import Construct

from .lambda_package import prune_zip
from .stages import ROOT, Stage

# The construct writes its intermediate packages under the working directory: one
# temporary directory per process, so two synths at once never share (or delete) them.
_work_dir: Path | None = None


def _package_dir() -> Path:
    global _work_dir
    if _work_dir is None:
        _work_dir = Path(tempfile.mkdtemp(prefix="huiyuan-chalice-"))
    return _work_dir


# Chalice's package always names the role of every function; the stack replaces it
# on each function with that function's own role (see HuiyuanStack._roles).
PLACEHOLDER_ROLE_ARN = "arn:aws:iam::000000000000:role/replaced-by-the-cdk-stack"


def _is_app_module(name: str) -> bool:
    return name == "app" or name == "chalicelib" or name.startswith("chalicelib.")


@contextlib.contextmanager
def fresh_app_import(stage: Stage) -> Iterator[None]:
    """Import the app anew for `stage`, then restore modules, environment, cwd and powertools metric state."""
    saved_modules = {name: module for name, module in sys.modules.items() if _is_app_module(name)}
    saved_environ = dict(os.environ)
    saved_metrics = _metric_state()
    saved_cwd = os.getcwd()
    for name in saved_modules:
        del sys.modules[name]
    # Chalice's packager needs a region even though nothing here calls AWS.
    os.environ["AWS_DEFAULT_REGION"] = stage.region
    os.environ.pop("AWS_PROFILE", None)
    os.chdir(_package_dir())
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_environ)
        for name in [n for n in sys.modules if _is_app_module(n)]:
            del sys.modules[name]
        sys.modules.update(saved_modules)
        _restore_metric_state(saved_metrics)


# powertools' Metrics keep their dimensions and metric set in class attributes shared by
# every instance: the stage's import sets its own `stage` default dimension there.
_METRIC_STATE = ("_default_dimensions", "_dimensions", "_metrics", "_metadata")


def _metric_state() -> dict[str, dict[str, Any]]:
    from aws_lambda_powertools.metrics import Metrics

    return {attr: dict(getattr(Metrics, attr)) for attr in _METRIC_STATE}


def _restore_metric_state(saved: dict[str, dict[str, Any]]) -> None:
    from aws_lambda_powertools.metrics import Metrics

    for attr, values in saved.items():
        shared = getattr(Metrics, attr)
        shared.clear()
        shared.update(values)


def clean_packages() -> None:
    """Remove this process's intermediate packages (~25 MB a stage); the assembly keeps its own copies."""
    global _work_dir
    if _work_dir is not None:
        shutil.rmtree(_work_dir, ignore_errors=True)
        _work_dir = None


def package(scope: Construct, construct_id: str, stage: Stage) -> Any:
    """The Chalice construct for `stage` (`scope` must be the stack whose id is the stage name)."""
    from chalice.cdk import Chalice

    stage_config = {
        "autogen_policy": False,
        "manage_iam_role": False,
        "iam_role_arn": PLACEHOLDER_ROLE_ARN,
        "xray": True,
        "lambda_memory_size": stage.memory_mb,
    }

    class _SlimChalice(Chalice):
        # The construct packages the app and then makes the zip a CDK asset, both in its
        # __init__: the zip is pruned in between (the method is chalice 1.34's).
        def _package_app(self) -> None:
            super()._package_app()
            prune_zip(Path(self._sam_package_dir) / "deployment.zip", stage.sms_provider)

    with fresh_app_import(stage):
        return _SlimChalice(scope, construct_id, source_dir=str(ROOT), stage_config=stage_config)


def sam_template(chalice: Any) -> dict[str, Any]:
    """The SAM template Chalice generated (before the stack's overrides)."""
    # The construct keeps its package directory in a private attribute (chalice 1.34).
    template = json.loads((Path(chalice._sam_package_dir) / "sam.json").read_text(encoding="utf-8"))
    if not isinstance(template, dict):
        raise ValueError("Chalice's sam.json is not a JSON object")
    return template


@dataclass(frozen=True)
class FunctionInfo:
    logical_id: str  # in the SAM template
    chalice_name: str  # kebab-case: api, member-token, expire-points, job-worker
    kind: str  # "api" | "authorizer" | "job" | "worker" | "events" | "webhooks"
    handler: str
    events: dict[str, Any]

    @property
    def schedule(self) -> str | None:
        return next((e["Properties"]["Schedule"] for e in self.events.values() if e["Type"] == "Schedule"), None)

    @property
    def stream_event(self) -> str | None:
        return next((name for name, e in self.events.items() if e["Type"] == "DynamoDB"), None)

    @property
    def sqs_event(self) -> str | None:
        return next((name for name, e in self.events.items() if e["Type"] == "SQS"), None)


def _kebab(logical_id: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", logical_id).lower()


def functions(template: dict[str, Any]) -> list[FunctionInfo]:
    """Every function in the package, by what it is for (which decides its permissions)."""
    resources = template["Resources"]
    definitions = resources["RestAPI"]["Properties"]["DefinitionBody"].get("securityDefinitions", {}) if "RestAPI" in resources else {}
    authorizer_uris = json.dumps([d.get("x-amazon-apigateway-authorizer", {}) for d in definitions.values()])
    found = []
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        events = resource["Properties"].get("Events", {})
        types = {e["Type"] for e in events.values()}
        if logical_id == "APIHandler":
            kind, name = "api", "api"
        elif types == {"Schedule"}:
            kind, name = "job", _kebab(logical_id)
        elif types == {"SQS"} and _kebab(logical_id) == "webhook-worker":
            kind, name = "webhooks", _kebab(logical_id)  # its own queue (infra/stack.py _event_routes)
        elif types == {"SQS"}:
            kind, name = "worker", _kebab(logical_id)
        elif types == {"DynamoDB"}:
            kind, name = "events", _kebab(logical_id)  # the table's stream -> business events
        elif not events and "${" + logical_id + ".Arn}" in authorizer_uris:
            kind, name = "authorizer", _kebab(logical_id)
        else:
            raise ValueError(f"{logical_id}: a kind of function the stack does not know how to permit ({types or 'no events'})")
        found.append(FunctionInfo(logical_id, name, kind, resource["Properties"]["Handler"], events))
    return found
