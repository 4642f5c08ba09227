"""What the outside scan found (issue 18), fixed: encryption with the stage key, an on-failure
destination for every asynchronously invoked function, reserved concurrency for the jobs,
SMS-only publishing; and the optional settings both ways (the `variant` fixture: prod with a
customer-managed data key, no spend limit, no reservations, no general rate rule)."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.jobs.schedules import SCHEDULES
from tests.infra.conftest import resources, the_one
from tests.infra.test_iam import as_list, statements
from tests.infra.test_synth import alarm_named, metric_of, notifies_the_alarm_topic


def key_ref(template: dict[str, Any]) -> dict[str, Any]:
    key_id, _ = the_one(template, "AWS::KMS::Key")
    return {"Fn::GetAtt": [key_id, "Arn"]}


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources(template, "AWS::Serverless::Function")


def role_statements(template: dict[str, Any], function_id: str) -> list[dict[str, Any]]:
    role_id = functions(template)[function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    return [s for logical_id, s in statements(template) if logical_id == role_id]


def key_services(template: dict[str, Any], function_id: str) -> set[str]:
    """The services through which a function's role may use the stage key."""
    found = [s for s in role_statements(template, function_id) if s.get("Sid") == "UseStageKey"]
    if not found:
        return set()
    (statement,) = found
    assert statement["Resource"] == key_ref(template)
    return {v.split(".")[0] for v in as_list(statement["Condition"]["StringEquals"]["kms:ViaService"])}


def scheduled(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: f for k, f in functions(template).items() if any(e["Type"] == "Schedule" for e in f["Properties"].get("Events", {}).values())}


# --- the stage key ---


def test_the_stage_key_rotates_and_encrypts_the_alarm_topic_and_every_queue(template, stage):
    _, key = the_one(template, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    _, alias = the_one(template, "AWS::KMS::Alias")
    assert alias["Properties"]["AliasName"] == f"alias/huiyuan-{stage.name}"
    _, topic = the_one(template, "AWS::SNS::Topic")
    assert topic["Properties"]["KmsMasterKeyId"] == key_ref(template)
    for queue in resources(template, "AWS::SQS::Queue").values():
        assert queue["Properties"]["KmsMasterKeyId"] == key_ref(template), queue["Properties"]["QueueName"]
    # CloudWatch can publish alarms to the encrypted topic.
    allowed = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert allowed and set(as_list(allowed[0]["Action"])) == {"kms:Decrypt", "kms:GenerateDataKey"}


def test_by_default_data_at_rest_stays_with_aws_keys(template, stage):
    assert not stage.customer_managed_data_key
    _, table = the_one(template, "AWS::DynamoDB::Table")
    assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True}
    # The signing key, the CloudFront origin secret, WeChat Pay's keys, a template SMS provider's keys, the WeChat app secrets.
    secrets = resources(template, "AWS::SecretsManager::Secret")
    assert len(secrets) == 3 + (stage.sms_provider != "sns") + stage.wechat_configured
    assert all("KmsKeyId" not in secret["Properties"] for secret in secrets.values())
    for group in resources(template, "AWS::Logs::LogGroup").values():
        assert "KmsKeyId" not in group["Properties"]
    # ... and no function may use the key through DynamoDB or Secrets Manager.
    for function_id in functions(template):
        assert key_services(template, function_id) <= {"sqs"}, function_id


def test_a_customer_managed_data_key_encrypts_the_table_its_backups_every_log_group_and_the_secret(variant):
    template = variant["template"]
    key = key_ref(template)
    _, table = the_one(template, "AWS::DynamoDB::Table")
    # Point-in-time and on-demand backups are encrypted with the table's key.
    assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": key}
    assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    # The signing key, the CloudFront origin secret, WeChat Pay's keys, a template SMS provider's keys, the WeChat app secrets.
    secrets = resources(template, "AWS::SecretsManager::Secret")
    expected = 3 + (variant["stage"].sms_provider != "sns") + variant["stage"].wechat_configured
    assert len(secrets) == expected and all(secret["Properties"]["KmsKeyId"] == key for secret in secrets.values())
    groups = resources(template, "AWS::Logs::LogGroup")
    assert len(groups) >= 12
    for group in groups.values():
        assert group["Properties"]["KmsKeyId"] == key
    _, kms_key = the_one(template, "AWS::KMS::Key")
    logs_statement = [s for s in kms_key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "CloudWatchLogsGroups"]
    assert logs_statement and logs_statement[0]["Principal"] == {"Service": "logs.ap-southeast-1.amazonaws.com"}
    # Each function may use the key through exactly the services whose data it touches.
    assert key_services(template, "APIHandler") == {"dynamodb", "secretsmanager", "sqs"}  # sqs: operators' bulk work queued
    assert key_services(template, "MemberToken") == {"secretsmanager"}  # the signing key only: it reads no member
    # secretsmanager: this variant's template SMS provider's keys and WeChat app secrets (the jobs send reminders and campaigns).
    assert key_services(template, "JobWorker") == {"dynamodb", "secretsmanager", "sqs"}
    assert key_services(template, "Reconcile") == {"dynamodb", "sqs"}


# --- asynchronous invocations: on-failure destination ---


def test_every_scheduled_function_sends_a_failed_invocation_to_a_queue_that_alarms(template, stage):
    queue_id = next(k for k, q in resources(template, "AWS::SQS::Queue").items() if q["Properties"]["QueueName"].endswith("-failed-invocations"))
    jobs = scheduled(template)
    assert len(jobs) == len(SCHEDULES)  # every scheduled job of jobs/schedules.py
    for function_id, function in functions(template).items():
        config = function["Properties"].get("EventInvokeConfig")
        if function_id not in jobs:
            assert config is None, f"{function_id} is invoked synchronously or by a queue mapping"
            continue
        assert config["DestinationConfig"]["OnFailure"] == {"Type": "SQS", "Destination": {"Fn::GetAtt": [queue_id, "Arn"]}}
        assert config["MaximumRetryAttempts"] == stage.job_retry_attempts
        assert config["MaximumEventAgeInSeconds"] == stage.job_event_max_age_seconds
        # Lambda sends the record with the function's own role, and checks it may when configured.
        sends = [s for s in role_statements(template, function_id) if "sqs:SendMessage" in as_list(s["Action"])]
        assert {"Fn::GetAtt": [queue_id, "Arn"]} in [r for s in sends for r in as_list(s["Resource"])], function_id
        assert "sqs" in key_services(template, function_id)
    failed = alarm_named(template, f"huiyuan-{stage.name}-job-invocations-failed")
    metric = metric_of(failed)
    assert metric["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert metric["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    assert (failed["Threshold"], failed["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert notifies_the_alarm_topic(failed, template)


# --- concurrency ---


def test_job_functions_run_one_at_a_time_and_the_worker_has_exactly_its_queue_s_maximum(template, stage):
    assert stage.reserve_job_concurrency
    jobs = scheduled(template)
    for function_id, function in functions(template).items():
        reserved = function["Properties"].get("ReservedConcurrentExecutions")
        if function_id in jobs:
            assert reserved == 1, function_id
        elif function_id == "JobWorker":
            (mapping,) = [e["Properties"] for e in function["Properties"]["Events"].values() if e["Type"] == "SQS"]
            # Below the mapping's maximum, throttled batches would count as receives and dead-letter units.
            assert reserved == mapping["ScalingConfig"]["MaximumConcurrency"] == stage.worker_max_concurrency
        else:
            # The API and the authorizer are bounded by the stage's throttling and WAF, not a reservation.
            assert reserved is None, function_id


def test_without_reservations_no_function_reserves_concurrency(variant):
    for function_id, function in functions(variant["template"]).items():
        assert "ReservedConcurrentExecutions" not in function["Properties"], function_id


# --- SMS only ---


def test_functions_that_send_sms_cannot_publish_to_any_topic_and_reconcile_sends_nothing(template):
    for function_id in functions(template):
        mine = role_statements(template, function_id)
        allows_publish = any(s["Effect"] == "Allow" and "sns:Publish" in as_list(s["Action"]) for s in mine)
        if function_id in ("Reconcile", "MemberToken", "EventPublisher", "WebhookWorker", "WechatPaySweep"):  # they send no SMS or email
            assert not allows_publish and not any("ses:SendEmail" in as_list(s["Action"]) for s in mine), function_id
            continue
        assert allows_publish, function_id
        denied = [s for s in mine if s["Effect"] == "Deny" and as_list(s["Action"]) == ["sns:Publish"]]
        assert len(denied) == 1, function_id
        if "Resource" in denied[0]:  # a stage without push: every topic and endpoint
            assert json.dumps(denied[0]["Resource"]).endswith(':sns:*:*:*"]]}'), denied[0]["Resource"]
        else:  # a stage with push spares only its own applications' endpoints (tests/infra/test_iam.py)
            assert all(":endpoint/" in json.dumps(r) for r in as_list(denied[0]["NotResource"])), denied[0]["NotResource"]


# --- the other optional settings ---


def test_without_the_spend_limit_setting_the_account_is_left_alone_but_spend_still_alarms(variant):
    template, stage = variant["template"], variant["stage"]
    assert not any("setSMSAttributes" in json.dumps(r["Properties"]) for r in resources(template, "Custom::AWS").values())
    assert not any("sns:SetSMSAttributes" in as_list(s["Action"]) for _, s in statements(template))
    assert alarm_named(template, f"huiyuan-{stage.name}-sms-spend")["Threshold"] > 0


def test_without_a_general_rate_the_code_routes_are_still_limited(variant):
    _, acl = the_one(variant["template"], "AWS::WAFv2::WebACL")
    names = [r["Name"] for r in acl["Properties"]["Rules"]]
    assert "requests-per-ip" not in names and "code-requests-per-ip" in names
    assert sorted(r["Priority"] for r in acl["Properties"]["Rules"]) == list(range(len(names)))


def test_the_cheaper_setting_drops_the_web_acl_and_the_dashboard_and_keeps_every_alarm(synthesized, lean):
    # Given prod with web_acl=False and dashboard=False (docs/cost.md, "A cheaper setting"), synthesized with cdk-nag
    template, prod = lean["template"], synthesized.templates["prod"]
    # Then there is no web ACL, association or WAF log group, and no dashboard
    for kind in ("AWS::WAFv2::WebACL", "AWS::WAFv2::WebACLAssociation", "AWS::WAFv2::LoggingConfiguration", "AWS::CloudWatch::Dashboard"):
        assert resources(prod, kind), kind
        assert not resources(template, kind), kind
    assert not any(
        str(r["Properties"].get("LogGroupName", "")).startswith("aws-waf-logs-") for r in resources(template, "AWS::Logs::LogGroup").values()
    )
    # And every alarm of prod still notifies the alarm topic
    alarm_names = {r["Properties"]["AlarmName"] for r in resources(template, "AWS::CloudWatch::Alarm").values()}
    assert alarm_names == {r["Properties"]["AlarmName"] for r in resources(prod, "AWS::CloudWatch::Alarm").values()}
    # And the API Gateway throttle stays
    assert json.dumps(template).count('"ThrottlingRateLimit"') == json.dumps(prod).count('"ThrottlingRateLimit"') > 0
