"""Synthesize every stage once for the whole session (~15 s), as `make synth` does.

The app module is imported first on purpose, with the test environment (local
stage), as the integration tests do: the stacks must still be packaged from
each stage's own import (admin routes behind IAM, the stage's queue).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@dataclass
class Synthesized:
    stacks: dict[str, Any]  # stage name -> HuiyuanStack
    templates: dict[str, dict[str, Any]]  # stage name -> template JSON
    assembly_dir: Path
    seconds: float
    environ_before: dict[str, str]
    environ_after: dict[str, str]
    app_module_before: Any
    app_module_after: Any
    cwd_before: str
    cwd_after: str


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    import sys

    import app as chalice_app_module  # noqa: F401  (as an integration test would have)
    from infra.app import build
    from infra.chalice_app import clean_packages

    environ_before, cwd_before, module_before = dict(os.environ), os.getcwd(), sys.modules["app"]
    outdir = tmp_path_factory.mktemp("cdk.out")
    started = time.perf_counter()
    cdk_app, stacks = build(outdir=str(outdir))
    try:
        assembly = cdk_app.synth()  # raises if cdk-nag reports a finding nobody acknowledged
    finally:
        clean_packages()
    seconds = time.perf_counter() - started
    templates = {name: json.loads((Path(assembly.directory) / stack.template_file).read_text()) for name, stack in stacks.items()}
    return Synthesized(
        stacks=stacks,
        templates=templates,
        assembly_dir=Path(assembly.directory),
        seconds=seconds,
        environ_before=environ_before,
        environ_after=dict(os.environ),
        app_module_before=module_before,
        app_module_after=sys.modules.get("app"),
        cwd_before=cwd_before,
        cwd_after=os.getcwd(),
    )


@pytest.fixture(scope="session")
def variant(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """prod with every optional setting the other way round (~10 s, only for the tests that ask):
    a customer-managed key for data, no SMS spend limit, no reserved concurrency, no general rate rule,
    SMS by Alibaba Cloud (a template provider: its keys' secret), WeChat apps (their secrets)."""
    return synthesize_variant(
        tmp_path_factory,
        customer_managed_data_key=True,
        set_sms_spend_limit=False,
        reserve_job_concurrency=False,
        waf_requests_per_ip=None,
        sms_provider="aliyun",
        wechat_mini_program_appid="wx00000000000000a1",
        wechat_official_account_appid="wx00000000000000b2",
    )


@pytest.fixture(scope="session")
def lean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """prod with the cheaper setting of docs/cost.md (~10 s, only for the tests that ask): no web ACL, no dashboard."""
    return synthesize_variant(tmp_path_factory, web_acl=False, dashboard=False)


def synthesize_variant(tmp_path_factory: pytest.TempPathFactory, **changes: Any) -> dict[str, Any]:
    """prod with `changes` to its settings, synthesized with cdk-nag's checks."""
    import dataclasses

    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks

    from infra.chalice_app import clean_packages
    from infra.stack import HuiyuanStack
    from infra.stages import STAGES

    stage = dataclasses.replace(STAGES["prod"], **changes)
    app = cdk.App(outdir=str(tmp_path_factory.mktemp("cdk.out.variant")), builtin_cloud_formation_validation=False)
    stack = HuiyuanStack(app, stage)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True))
    try:
        assembly = app.synth()  # cdk-nag: every finding acknowledged with these settings too
    finally:
        clean_packages()
    template: dict[str, Any] = json.loads((Path(assembly.directory) / stack.template_file).read_text())
    return {"stage": stage, "stack": stack, "template": template, "path": Path(assembly.directory) / stack.template_file}


STAGE_NAMES = ("dev", "prod")


@pytest.fixture(params=STAGE_NAMES)
def stage_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def template(synthesized: Synthesized, stage_name: str) -> dict[str, Any]:
    return synthesized.templates[stage_name]


@pytest.fixture
def stage(stage_name: str):
    from infra.stages import STAGES

    return STAGES[stage_name]


@pytest.fixture(scope="session")
def assertions(synthesized: Synthesized) -> dict[str, Any]:
    """aws_cdk.assertions.Template per stage (built once)."""
    from aws_cdk.assertions import Template

    return {name: Template.from_json(t) for name, t in synthesized.templates.items()}


@pytest.fixture
def cdk_template(assertions: dict[str, Any], stage_name: str) -> Any:
    return assertions[stage_name]


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def the_one(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    found = resources(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))
