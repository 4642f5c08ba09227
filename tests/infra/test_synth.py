"""What the synthesized stacks deploy, checked against what the code defines:
the table against chalicelib.store.table, the jobs against chalicelib.jobs.specs,
the functions' environment against .chalice/config.json."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

from chalicelib.api.problems import problem
from chalicelib.domain.rules import DEFAULT_RULES, ProgramRules
from chalicelib.jobs.specs import JOBS
from chalicelib.store import table as table_definition
from infra.stack import GATEWAY_PROBLEMS
from infra.stages import SECRETS_MANAGER_REFERENCE, stage_environment
from tests.infra.conftest import resources, the_one

RUNTIME_ENV = ("TABLE_NAME", "RULES_PARAMETER", "SIGNING_KEY_PARAMETER", "JOBS_QUEUE_NAME", "EMAIL_SENDER", "HUIYUAN_STAGE", "INDEX_SHARDS")


def functions(template):
    return resources(template, "AWS::Serverless::Function")


def alarm_named(template, name):
    found = [a for a in resources(template, "AWS::CloudWatch::Alarm").values() if a["Properties"]["AlarmName"] == name]
    assert len(found) == 1, f"no alarm {name}"
    return found[0]["Properties"]


def metric_of(alarm):
    """The single metric an alarm watches, whichever form CloudFormation got it in."""
    if "MetricName" in alarm:
        return {"MetricName": alarm["MetricName"], "Dimensions": alarm.get("Dimensions", []), "Stat": alarm["Statistic"], "Period": alarm["Period"]}
    (stat,) = [m["MetricStat"] for m in alarm["Metrics"] if m.get("ReturnData", True)]
    return {
        "MetricName": stat["Metric"]["MetricName"],
        "Dimensions": stat["Metric"].get("Dimensions", []),
        "Stat": stat["Stat"],
        "Period": stat["Period"],
    }


def notifies_the_alarm_topic(alarm, template):
    topic_id, _ = the_one(template, "AWS::SNS::Topic")
    return {"Ref": topic_id} in alarm["AlarmActions"]


# --- synthesis itself ---


def test_every_stage_synthesizes_in_one_process_and_leaves_it_as_it_was(synthesized):
    assert set(synthesized.templates) == {"dev", "prod"}
    # Packaging imports the app anew per stage with the stage's environment, then puts everything back.
    assert synthesized.environ_after == synthesized.environ_before
    assert synthesized.app_module_after is synthesized.app_module_before
    assert synthesized.cwd_after == synthesized.cwd_before
    print(f"\nsynthesized dev and prod in {synthesized.seconds:.1f} s")


def test_each_stage_packages_its_own_import_of_the_app(synthesized, stage_name):
    """The worker's queue is a decorator argument, read when the app is imported."""
    sam = synthesized.stacks[stage_name].sam
    queue = sam["Resources"]["JobWorker"]["Properties"]["Events"]["JobWorkerSqsEventSource"]["Properties"]["Queue"]
    assert queue["Fn::Sub"].endswith(":" + stage_environment(stage_name)["JOBS_QUEUE_NAME"])


# --- the table ---


def test_the_table_is_built_from_the_code_s_table_definition(cdk_template, template, stage):
    indexes = table_definition.INDEXES
    expected_gsis = []
    for index in indexes:
        key_schema = [{"AttributeName": index.hash_key, "KeyType": "HASH"}]
        if index.range_key:
            key_schema.append({"AttributeName": index.range_key, "KeyType": "RANGE"})
        expected_gsis.append({"IndexName": index.name, "KeySchema": key_schema, "Projection": {"ProjectionType": index.projection}})

    cdk_template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": stage.table_name,
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [
                {"AttributeName": table_definition.HASH_KEY, "KeyType": "HASH"},
                {"AttributeName": table_definition.RANGE_KEY, "KeyType": "RANGE"},
            ],
            "GlobalSecondaryIndexes": Match.array_equals(expected_gsis),
            "TimeToLiveSpecification": {"AttributeName": table_definition.TTL_ATTRIBUTE, "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},  # the AWS-managed KMS key
        },
    )
    # The same definition the local stack creates the table from.
    request = table_definition.create_table_request(stage.table_name)
    _, table = the_one(template, "AWS::DynamoDB::Table")
    by_name = lambda a: a["AttributeName"]  # noqa: E731
    assert sorted(table["Properties"]["AttributeDefinitions"], key=by_name) == sorted(request["AttributeDefinitions"], key=by_name)
    assert sorted(table["Properties"]["GlobalSecondaryIndexes"], key=lambda g: g["IndexName"]) == sorted(
        request["GlobalSecondaryIndexes"], key=lambda g: g["IndexName"]
    )


def test_the_prod_table_is_protected_from_deletion_and_dev_s_is_not(synthesized):
    _, prod = the_one(synthesized.templates["prod"], "AWS::DynamoDB::Table")
    _, dev = the_one(synthesized.templates["dev"], "AWS::DynamoDB::Table")
    assert prod["Properties"]["DeletionProtectionEnabled"] is True
    assert prod["DeletionPolicy"] == prod["UpdateReplacePolicy"] == "Retain"
    assert dev["Properties"].get("DeletionProtectionEnabled") is False
    assert dev["DeletionPolicy"] == "Delete"


# --- jobs: queue, dead letters, partial batch responses, schedules ---


def test_the_jobs_queue_dead_letters_after_5_receives_and_outlasts_6_worker_timeouts(template, stage):
    queues = {q["Properties"]["QueueName"]: (k, q["Properties"]) for k, q in resources(template, "AWS::SQS::Queue").items()}
    events = {f"huiyuan-{stage.name}-webhooks", f"huiyuan-{stage.name}-webhooks-dlq", f"huiyuan-{stage.name}-stream-failures"}
    assert set(queues) == {stage.jobs_queue_name, stage.jobs_dlq_name, f"huiyuan-{stage.name}-failed-invocations"} | events
    _, work = queues[stage.jobs_queue_name]
    dlq_id, dlq = queues[stage.jobs_dlq_name]
    assert work["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}, "maxReceiveCount": 5}
    worker_timeout = functions(template)["JobWorker"]["Properties"]["Timeout"]
    assert work["VisibilityTimeout"] >= 6 * worker_timeout
    (key_id,) = resources(template, "AWS::KMS::Key")
    for queue in (work, dlq):
        assert queue["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}  # the stage key (tests/infra/test_hardening.py)


def test_a_campaign_hand_over_is_swept_only_once_the_worker_that_left_it_pending_has_timed_out(template):
    """The sweep settles a record `pending` for HANDOVER_SETTLE_AFTER as `unknown`: by then the
    worker that wrote it (and could still mark it `accepted`) must have hit its timeout."""
    from chalicelib.usecases.campaigns import HANDOVER_SETTLE_AFTER

    assert functions(template)["JobWorker"]["Properties"]["Timeout"] < HANDOVER_SETTLE_AFTER.total_seconds()


def test_the_worker_reads_the_stack_s_queue_and_reports_partial_batch_failures(template, stage):
    queue_id = next(k for k, q in resources(template, "AWS::SQS::Queue").items() if q["Properties"]["QueueName"] == stage.jobs_queue_name)
    events = functions(template)["JobWorker"]["Properties"]["Events"]
    (sqs_event,) = [e["Properties"] for e in events.values() if e["Type"] == "SQS"]
    assert sqs_event["Queue"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    # Without this Lambda ignores the worker's batchItemFailures and retries the whole batch.
    assert sqs_event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert sqs_event["BatchSize"] == 10


def test_any_dead_lettered_unit_raises_an_alarm(template, stage):
    dlq_id = next(k for k, q in resources(template, "AWS::SQS::Queue").items() if q["Properties"]["QueueName"] == stage.jobs_dlq_name)
    alarm = alarm_named(template, f"huiyuan-{stage.name}-jobs-dlq-not-empty")
    metric = metric_of(alarm)
    assert metric["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert metric["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert notifies_the_alarm_topic(alarm, template)


def test_every_job_runs_on_its_schedule_and_alarms_when_it_fails_or_does_not_run(template, stage):
    scheduled = {
        f["Properties"]["FunctionName"]: e["Properties"]["Schedule"]
        for f in functions(template).values()
        for e in f["Properties"].get("Events", {}).values()
        if e["Type"] == "Schedule"
    }
    assert scheduled == {stage.function_name(name): spec.cron for name, spec in JOBS.items()}
    for name in JOBS:
        function_name = stage.function_name(name)
        missed = alarm_named(template, f"huiyuan-{stage.name}-{name}-did-not-run")
        metric = metric_of(missed)
        assert (metric["MetricName"], metric["Dimensions"]) == ("Invocations", [{"Name": "FunctionName", "Value": function_name}])
        assert (metric["Period"], missed["Threshold"], missed["ComparisonOperator"]) == (86400, 1, "LessThanThreshold")
        assert missed["TreatMissingData"] == "breaching"  # a function that did not run publishes nothing
        failed = alarm_named(template, f"huiyuan-{stage.name}-{name}-errors")
        assert (metric_of(failed)["MetricName"], failed["Threshold"], failed["ComparisonOperator"]) == ("Errors", 1, "GreaterThanOrEqualToThreshold")
        assert notifies_the_alarm_topic(missed, template) and notifies_the_alarm_topic(failed, template)


# --- functions: environment, roles, logs, tracing ---


def test_every_function_gets_the_stage_environment_from_the_chalice_config(template, stage_name):
    config = stage_environment(stage_name)
    assert all(config.get(var) for var in RUNTIME_ENV)
    for logical_id, function in functions(template).items():
        env = function["Properties"]["Environment"]["Variables"]
        assert {var: env.get(var) for var in RUNTIME_ENV} == {var: config[var] for var in RUNTIME_ENV}, logical_id


def test_the_environment_names_what_the_stack_creates(template, stage):
    env = stage_environment(stage.name)
    _, table = the_one(template, "AWS::DynamoDB::Table")
    assert table["Properties"]["TableName"] == env["TABLE_NAME"]
    # The signing key: a generated secret, read through SSM's Secrets Manager reference path.
    (secret,) = [s for s in resources(template, "AWS::SecretsManager::Secret").values() if s["Properties"]["Name"].endswith("token-signing-key")]
    assert env["SIGNING_KEY_PARAMETER"] == SECRETS_MANAGER_REFERENCE + secret["Properties"]["Name"]
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32  # the code refuses shorter keys
    # The rules: seeded with the repo's defaults, once (a deploy never overwrites what operators set).
    (seed,) = [r for r in resources(template, "Custom::AWS").values() if "putParameter" in json.dumps(r["Properties"]["Create"])]
    create = json.loads(_joined(seed["Properties"]["Create"]))
    assert "Update" not in seed["Properties"]
    assert create["parameters"]["Name"] == env["RULES_PARAMETER"]
    assert create["parameters"]["Overwrite"] is False
    assert ProgramRules.model_validate_json(create["parameters"]["Value"]) == DEFAULT_RULES
    # SES: the sender identity.
    _, identity = the_one(template, "AWS::SES::EmailIdentity")
    assert identity["Properties"]["EmailIdentity"] == env["EMAIL_SENDER"]


def _joined(value):
    """A Fn::Join of literal strings and tokens, as text (tokens as placeholders)."""
    if isinstance(value, str):
        return value
    separator, parts = value["Fn::Join"]
    return separator.join(p if isinstance(p, str) else "TOKEN" for p in parts)


def test_every_function_runs_python_3_13_traced_with_its_own_role_and_a_retained_log_group(template, stage):
    roles = resources(template, "AWS::IAM::Role")
    log_groups = {
        g["Properties"]["LogGroupName"]: g for g in resources(template, "AWS::Logs::LogGroup").values() if "LogGroupName" in g["Properties"]
    }
    used_roles = []
    for logical_id, function in functions(template).items():
        props = function["Properties"]
        assert props["Runtime"] == "python3.13"
        assert props["Tracing"] == "Active"
        role_id = props["Role"]["Fn::GetAtt"][0]
        assert role_id in roles, f"{logical_id} runs as {props['Role']}"
        used_roles.append(role_id)
        group = log_groups[f"/aws/lambda/{props['FunctionName']}"]
        assert group["Properties"]["RetentionInDays"] == stage.log_retention_days
        assert any(dep.startswith(f"{logical_id}Logs") for dep in function.get("DependsOn", []))  # created before the function writes
    assert len(used_roles) == len(set(used_roles)), "functions share a role"


# --- the API edge ---


def test_gateway_errors_answer_problem_json_with_cors_headers(template, stage):
    api = template["Resources"]["RestAPI"]["Properties"]
    responses = api["GatewayResponses"]
    expected = {
        "UNAUTHORIZED": (401, "unauthorized"),
        "ACCESS_DENIED": (403, "forbidden"),
        "MISSING_AUTHENTICATION_TOKEN": (404, "not_found"),
        "AUTHORIZER_FAILURE": (503, "temporarily_unavailable"),
    }
    for response_type, (status, code) in expected.items():
        response = responses[response_type]
        assert response["StatusCode"] == str(status)
        headers = response["ResponseParameters"]["Headers"]
        assert headers["Content-Type"] == "'application/problem+json'"
        assert headers["Access-Control-Allow-Origin"] == f"'{stage.cors_allow_origin}'"
        body = json.loads(response["ResponseTemplates"]["application/json"])
        assert body == problem(GATEWAY_PROBLEMS[response_type])[2]
        assert (body["status"], body["code"]) == (status, code)
    assert responses["AUTHORIZER_FAILURE"]["ResponseParameters"]["Headers"]["Retry-After"] == "'1'"
    for response_type in ("DEFAULT_4XX", "DEFAULT_5XX"):
        assert responses[response_type]["ResponseParameters"]["Headers"]["Access-Control-Allow-Origin"] == f"'{stage.cors_allow_origin}'"


def test_the_api_stage_is_throttled_traced_and_access_logged(template, stage):
    api = template["Resources"]["RestAPI"]["Properties"]
    (settings,) = api["MethodSettings"]
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (stage.throttle_rate, stage.throttle_burst)
    assert settings["DataTraceEnabled"] is False  # full request logs would hold phones and tokens
    assert api["TracingEnabled"] is True
    access_log_id = next(
        k for k, g in resources(template, "AWS::Logs::LogGroup").items() if g["Properties"].get("LogGroupName") == f"/huiyuan/{stage.name}/api-access"
    )
    assert {"Ref": access_log_id} in api["AccessLogSetting"]["DestinationArn"]["Fn::Join"][1]
    assert json.loads(api["AccessLogSetting"]["Format"])["requestId"] == "$context.requestId"
    assert api["Name"] == f"huiyuan-{stage.name}"  # the dashboard and alarms find the API by this name


# --- observability ---


@pytest.mark.parametrize(
    "metric",
    [
        '"AWS/ApiGateway","Count"',
        '"AWS/ApiGateway","4XXError"',
        '"AWS/ApiGateway","5XXError"',
        '"stat":"p50"',
        '"stat":"p99"',
        '"AWS/Lambda","Errors"',
        '"AWS/Lambda","Throttles"',
        '"AWS/DynamoDB","ReadThrottleEvents"',
        '"AWS/DynamoDB","WriteThrottleEvents"',
        '"AWS/SQS","ApproximateNumberOfMessagesVisible"',
        '"Huiyuan","Signups"',
        '"Huiyuan","Verifications"',
        '"Huiyuan","PointsEarned"',
        '"Huiyuan","PointsRedeemed"',
        '"Huiyuan","JobPointsMoved"',
        '"Huiyuan","OutstandingPoints"',
        '"Huiyuan","OutstandingStoredValue"',
        '"Huiyuan","LedgerDrift"',
        '"Huiyuan","RedemptionsRejected"',
    ],
)
def test_the_dashboard_shows(metric, template):
    _, dashboard = the_one(template, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"]).replace('\\"', '"')
    assert metric in body


def test_the_business_metrics_are_read_where_the_code_writes_them(template, stage_name):
    env = stage_environment(stage_name)
    _, dashboard = the_one(template, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"]).replace('\\"', '"')
    # powertools Metrics: the namespace, the service and the stage (observability.py's default dimension).
    namespace, service = env["POWERTOOLS_METRICS_NAMESPACE"], env["POWERTOOLS_SERVICE_NAME"]
    assert f'"{namespace}","Signups","service","{service}","stage","{stage_name}"' in body
    # Job counters carry the job too (observability.count_for_job): one line per scheduled job.
    for job in ("expire-points", "birthday-bonus", "reconcile"):
        assert f'"{namespace}","JobPointsMoved","job","{job}","service","{service}","stage","{stage_name}"' in body  # keys sorted


def test_webhook_dead_letters_and_the_event_queues_dead_letters_raise_alarms(template, stage):
    prefix = f"huiyuan-{stage.name}"
    dead = alarm_named(template, f"{prefix}-webhook-dead-letters")
    metric = metric_of(dead)
    assert (metric["MetricName"], metric["Stat"], metric["Period"]) == ("WebhookDeadLetters", "Sum", 300)
    assert {d["Name"]: d["Value"] for d in metric["Dimensions"]}["stage"] == stage.name
    assert (dead["Threshold"], dead["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold") and notifies_the_alarm_topic(dead, template)
    queues = {q["Properties"]["QueueName"]: k for k, q in resources(template, "AWS::SQS::Queue").items()}
    for alarm_name, queue_name in (("webhooks-dlq-not-empty", f"{prefix}-webhooks-dlq"), ("stream-failures-not-empty", f"{prefix}-stream-failures")):
        alarm = alarm_named(template, f"{prefix}-{alarm_name}")
        assert metric_of(alarm)["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queues[queue_name], "QueueName"]}}]
        assert notifies_the_alarm_topic(alarm, template)


def test_the_webhook_worker_takes_one_delivery_per_invocation_within_its_timeout(template):
    """A POST may take its whole 10 s: one delivery per invocation keeps it inside the timeout."""
    from chalicelib.domain.webhooks import DELIVERY_TIMEOUT_SECONDS

    worker = functions(template)["WebhookWorker"]["Properties"]
    (sqs_event,) = [e["Properties"] for e in worker["Events"].values() if e["Type"] == "SQS"]
    assert sqs_event["BatchSize"] == 1 and sqs_event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert worker["Timeout"] >= DELIVERY_TIMEOUT_SECONDS + 3


def test_ledger_drift_found_by_the_reconcile_job_raises_an_alarm(template, stage):
    drift = alarm_named(template, f"huiyuan-{stage.name}-ledger-drift")
    metric = metric_of(drift)
    assert (metric["MetricName"], metric["Stat"], metric["Period"]) == ("LedgerDrift", "Sum", 86400)
    assert {d["Name"]: d["Value"] for d in metric["Dimensions"]}["stage"] == stage.name
    assert drift["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" and drift["Threshold"] == 1


def test_5xx_rate_throttles_and_function_errors_alarm_to_the_alarm_topic(template, stage):
    prefix = f"huiyuan-{stage.name}"
    rate = alarm_named(template, f"{prefix}-api-5xx-rate")
    assert (metric_of(rate)["MetricName"], metric_of(rate)["Stat"], rate["Threshold"]) == ("5XXError", "Average", stage.api_5xx_rate)
    # One alarm per ten functions (an alarm's expression takes at most 10 metrics): every function in one.
    groups = [alarm_named(template, f"{prefix}-lambda-throttles")]
    groups += [
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["AlarmName"].startswith(f"{prefix}-lambda-throttles-")
    ]
    throttled = [m["MetricStat"]["Metric"]["Dimensions"][0]["Value"] for group in groups for m in group["Metrics"] if "MetricStat" in m]
    assert sorted(throttled) == sorted(f["Properties"]["FunctionName"] for f in functions(template).values())
    assert all(len([m for m in group["Metrics"] if "MetricStat" in m]) <= 10 for group in groups)
    table_throttles = alarm_named(template, f"{prefix}-table-throttles")
    assert {m["MetricStat"]["Metric"]["MetricName"] for m in table_throttles["Metrics"] if "MetricStat" in m} == {
        "ReadThrottleEvents",
        "WriteThrottleEvents",
    }
    for function in functions(template).values():
        name = function["Properties"]["FunctionName"].removeprefix(f"{prefix}-")
        assert metric_of(alarm_named(template, f"{prefix}-{name}-errors"))["MetricName"] == "Errors"
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        assert notifies_the_alarm_topic(alarm["Properties"], template), alarm["Properties"]["AlarmName"]


def test_every_alarm_names_a_runbook_section_that_docs_operations_has(template):
    import re
    from pathlib import Path

    headings = {
        name.strip()
        for line in (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("### ")
        for name in line.removeprefix("### ").split(",")
    }
    alarms = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()]
    named = {a["AlarmName"]: re.search(r"section '([^']+)'", a["AlarmDescription"]) for a in alarms}
    missing = {alarm: m.group(1) if m else None for alarm, m in named.items() if m is None or m.group(1) not in headings}
    assert missing == {}
