"""The synthesized templates pass cfn-lint (errors fail; warnings are listed) and cdk-nag."""

from __future__ import annotations

import json

from infra.stages import STAGES


def test_cfn_lint_finds_no_errors(synthesized, stage_name):
    from cfnlint.api import lint

    matches = lint(json.dumps(synthesized.templates[stage_name]), regions=[STAGES[stage_name].region])
    errors = [f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches if m.rule.id.startswith("E")]
    for warning in (m for m in matches if not m.rule.id.startswith("E")):
        print(f"cfn-lint {warning.rule.id}: {warning.message}")
    assert errors == []


def test_cdk_nag_ran_and_every_accepted_finding_has_a_reason(template):
    """Synthesis fails on an unacknowledged AwsSolutions finding (the session fixture would
    have raised); the acknowledged ones are written into the template with their reasons."""
    acknowledged = {
        (logical_id, rule["id"]): rule["reason"]
        for logical_id, resource in template["Resources"].items()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    }
    assert acknowledged, "cdk-nag wrote no acknowledgements: did AwsSolutionsChecks run?"
    for (logical_id, rule), reason in acknowledged.items():
        assert rule.startswith("AwsSolutions-"), rule
        assert len(reason) > 40, f"{logical_id} {rule}: {reason!r}"
    # The wildcard resource is accepted only on the function roles (SMS, X-Ray), the policy that sets the SMS spend limit
    # and, in a stage with push, the policies of the calls that make its platform applications (CreatePlatformApplication).
    wildcard = {logical_id for logical_id, rule in acknowledged if rule == "AwsSolutions-IAM5[Resource::*]"}
    roles = {f["Properties"]["Role"]["Fn::GetAtt"][0] for f in template["Resources"].values() if f["Type"] == "AWS::Serverless::Function"}
    spend_limit = {k for k in template["Resources"] if k.startswith("SmsMonthlySpendLimitCustomResourcePolicy")}
    assert len(spend_limit) == 1
    push_applications = {k for k in template["Resources"] if k.startswith("PushApplication") and "CustomResourcePolicy" in k}
    assert wildcard == roles | spend_limit | push_applications
