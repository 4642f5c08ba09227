"""The CDK app: `python infra/app.py` synthesizes every stage into infra/cdk.out.

    make synth                       all stages, offline (no AWS account needed)
    make deploy STAGE=dev            the cdk CLI runs this file with `-c stage=dev`

`-c stage=<name>` (or HUIYUAN_DEPLOY_STAGE) builds one stage only. cdk-nag's
AwsSolutions checks run on every synth; an unsuppressed error fails it.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# jsii warns on every start that Node 20 is past its end of life (the machines have 20; see TOOL-NOTES).
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk  # noqa: E402
from aws_cdk import cx_api  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from infra.chalice_app import clean_packages  # noqa: E402
from infra.stack import HuiyuanStack  # noqa: E402
from infra.stages import STAGES, Stage  # noqa: E402

DEFAULT_OUTDIR = ROOT / "infra" / "cdk.out"


def build(outdir: str | None = None, stages: list[str] | None = None) -> tuple[cdk.App, dict[str, HuiyuanStack]]:
    # The cdk CLI passes its output directory in CDK_OUTDIR; on our own we write infra/cdk.out.
    app = cdk.App(
        outdir=outdir or os.environ.get("CDK_OUTDIR") or str(DEFAULT_OUTDIR),
        # CDK's own template validation takes ~13 s a stack here and overlaps cfn-lint,
        # which the checks run on every template (tests/infra/test_lint.py).
        builtin_cloud_formation_validation=False,
    )
    wanted = stages or _stages_from_context(app) or list(STAGES)
    unknown = sorted(set(wanted) - set(STAGES))
    if unknown:
        raise SystemExit(f"unknown stage(s) {', '.join(unknown)}; stages: {', '.join(STAGES)}")
    # The account comes from the CLI's credentials when deploying; synth without them is account-agnostic.
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    stacks = {name: HuiyuanStack(app, _with_context(app, STAGES[name]), account=account) for name in wanted}
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True))
    return app, stacks


def _with_context(app: cdk.App, stage: Stage) -> Stage:
    """`-c sms_provider=aliyun|tencent|sns` chooses the stage's SMS provider at synth/deploy;
    `-c wechat_mini_program_appid=...` / `-c wechat_official_account_appid=...` its WeChat apps;
    `-c wechat_mp_verify_token=XXXX` WeChat's domain verification file (a bad token fails the synth)."""
    changes: dict[str, str] = {}
    for setting in ("sms_provider", "wechat_mini_program_appid", "wechat_official_account_appid", "wechat_mp_verify_token"):
        value = app.node.try_get_context(setting)
        if value:
            changes[setting] = str(value)
    return dataclasses.replace(stage, **changes) if changes else stage  # type: ignore[arg-type]


def _stages_from_context(app: cdk.App) -> list[str]:
    chosen = app.node.try_get_context("stage") or os.environ.get("HUIYUAN_DEPLOY_STAGE")
    return [s for s in str(chosen).split(",") if s] if chosen else []


def main() -> int:
    app, stacks = build()
    try:
        assembly = app.synth()  # raises on a cdk-nag finding that is not acknowledged (infra/nag.py)
    finally:
        clean_packages()
    errors = 0
    for artifact in assembly.stacks:
        for message in artifact.messages:
            print(f"{message.level.value} {message.id}: {message.entry.data}", file=sys.stderr)
            errors += message.level == cx_api.SynthesisMessageLevel.ERROR
    for name, stack in stacks.items():
        print(f"{name}: {stack.stack_name} -> {Path(assembly.directory) / stack.template_file}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
