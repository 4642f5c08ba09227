"""Least privilege: each function's role holds what its kind of function uses, named."""

from __future__ import annotations

import json

from infra.stack import CAPABILITIES
from tests.infra.conftest import resources

# The actions AWS authorises on nothing narrower than "*" (see infra/nag.py).
EXPORT_ACTIONS = {"dynamodb:ExportTableToPointInTime", "dynamodb:DescribeTable", "dynamodb:DescribeExport"}
WILDCARD_RESOURCE_ACTIONS = {"sns:Publish", "xray:PutTraceSegments", "xray:PutTelemetryRecords", "sns:SetSMSAttributes"}


def statements(template):
    """(resource id, statement) for every IAM statement the stack defines."""
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        documents = []
        if resource["Type"] == "AWS::IAM::Role":
            documents += [p["PolicyDocument"] for p in props.get("Policies", [])]
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(props["PolicyDocument"])
        for document in documents:
            for statement in document["Statement"]:
                yield logical_id, statement


def as_list(value):
    return value if isinstance(value, list) else [value]


def function_roles(template):
    """Function kind -> the actions its role allows (from the role's inline policy)."""
    roles = resources(template, "AWS::IAM::Role")
    found = {}
    for logical_id, function in resources(template, "AWS::Serverless::Function").items():
        role = roles[function["Properties"]["Role"]["Fn::GetAtt"][0]]
        actions = {a for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"] for a in as_list(s["Action"])}
        found[logical_id] = actions
    return found


def test_no_iam_statement_allows_a_wildcard_action(template):
    for logical_id, statement in statements(template):
        for action in as_list(statement.get("Action", [])):
            assert "*" not in action, f"{logical_id}: {action}"
        assert "NotAction" not in statement, logical_id


def test_only_sms_and_tracing_are_allowed_on_every_resource(template):
    for logical_id, statement in statements(template):
        if statement["Effect"] == "Allow" and "*" in as_list(statement["Resource"]):
            assert set(as_list(statement["Action"])) <= WILDCARD_RESOURCE_ACTIONS, f"{logical_id}: {statement}"


def test_only_the_deploy_time_spend_limit_call_may_change_sms_settings(template):
    holders = {logical_id for logical_id, s in statements(template) if "sns:SetSMSAttributes" in as_list(s["Action"])}
    assert len(holders) == 1
    (holder,) = holders
    (statement,) = [s for logical_id, s in statements(template) if logical_id == holder]
    assert as_list(statement["Action"]) == ["sns:SetSMSAttributes"]
    assert template["Resources"][holder]["Type"] == "AWS::IAM::Policy"  # on CDK's custom resource provider, not a function


def test_the_authorizer_reads_the_signing_key_and_nothing_else(template):
    """It checks the token only: the member routes admit the session on their own read."""
    actions = function_roles(template)["MemberToken"]
    assert actions == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "ssm:GetParameter",
        "secretsmanager:GetSecretValue",
    }


def test_only_the_api_writes_the_rules_and_reads_the_signing_key(template):
    for logical_id, actions in function_roles(template).items():
        if logical_id == "APIHandler":
            assert {"ssm:PutParameter", "secretsmanager:GetSecretValue", "dynamodb:PutItem", "ses:SendEmail", "sns:Publish"} <= actions
            # It hands operators' bulk work to the jobs queue and replays webhook deliveries: it sends, never receives.
            assert {a for a in actions if a.startswith("sqs:")} == {"sqs:GetQueueUrl", "sqs:SendMessage"}
        elif logical_id == "WebhookWorker":  # webhook secrets are derived from the signing key when signing
            assert "ssm:PutParameter" not in actions and "secretsmanager:GetSecretValue" in actions, logical_id
        elif logical_id != "MemberToken":
            assert "ssm:PutParameter" not in actions and "secretsmanager:GetSecretValue" not in actions, logical_id


def test_only_the_worker_receives_from_the_queue_only_reconcile_can_scan_and_no_function_can_drop_the_table(template):
    for logical_id, actions in function_roles(template).items():
        assert ("sqs:ReceiveMessage" in actions) == (logical_id in ("JobWorker", "WebhookWorker")), logical_id
        assert ("dynamodb:Scan" in actions) == (logical_id in ("JobWorker", "Reconcile")), logical_id
        assert not actions & {"dynamodb:DeleteTable", "dynamodb:UpdateTable", "dynamodb:CreateTable"}


def test_every_function_has_a_known_kind(synthesized, stage_name):
    kinds = {f.kind for f in synthesized.stacks[stage_name].functions}
    assert kinds <= set(CAPABILITIES)
    assert kinds == {"api", "authorizer", "job", "worker", "events", "webhooks"}


def test_table_access_names_the_table_and_each_of_its_indexes(template):
    from chalicelib.store.table import INDEXES

    (table_id,) = resources(template, "AWS::DynamoDB::Table")
    for logical_id, statement in statements(template):
        if any(a.startswith("dynamodb:") for a in as_list(statement["Action"])):
            rendered = json.dumps(statement["Resource"])
            if set(as_list(statement["Action"])) <= EXPORT_ACTIONS:  # the analytics export (infra/analytics.py): the table's, only
                assert table_id in rendered and "/index/" not in rendered, logical_id
                assert "*" not in rendered or (as_list(statement["Action"]) == ["dynamodb:DescribeExport"] and "/export/*" in rendered), logical_id
                continue
            assert table_id in rendered and "*" not in rendered, logical_id
            if as_list(statement["Action"]) == ["dynamodb:Scan"]:  # reconcile: the table only
                assert "/index/" not in rendered, logical_id
            elif statement.get("Sid") in ("ReadTableStream", "ReadWebhookEndpoints"):  # the event publisher: the stream, one partition
                assert "/index/" not in rendered and "dynamodb:PutItem" not in as_list(statement["Action"]), logical_id
            else:
                assert "dynamodb:Scan" not in as_list(statement["Action"]), logical_id
                assert all(f"/index/{index.name}" in rendered for index in INDEXES), logical_id


def test_the_event_publisher_reads_the_stream_puts_on_its_bus_and_queues_deliveries_only(template):
    actions = function_roles(template)["EventPublisher"]
    assert {"dynamodb:GetRecords", "events:PutEvents", "sqs:SendMessage", "dynamodb:Query"} <= actions
    assert not actions & {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "sqs:ReceiveMessage", "secretsmanager:GetSecretValue"}


def test_the_stream_mapping_reports_partial_failures_bisects_and_dead_letters(template):
    (properties,) = [
        event["Properties"]
        for r in template["Resources"].values()
        for event in (r.get("Properties", {}).get("Events") or {}).values()
        if isinstance(event, dict) and event.get("Type") == "DynamoDB"
    ]
    assert "Fn::GetAtt" in json.dumps(properties["Stream"])  # the stack's table, not Chalice's placeholder
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"] and properties["BisectBatchOnFunctionError"] is True
    assert "OnFailure" in properties["DestinationConfig"]
    (bus,) = resources(template, "AWS::Events::EventBus")
    assert bus


def test_only_the_api_reads_the_wechat_pay_secret_which_holds_no_key_in_the_template(template):
    secrets = {lid: r for lid, r in template["Resources"].items() if r["Type"] == "AWS::SecretsManager::Secret" and "WeChatPay" in lid}
    ((secret_id, secret),) = secrets.items()
    assert "SecretString" not in secret["Properties"]  # generated placeholder; the brand puts its keys in
    readers = set()
    for logical_id, statement in statements(template):
        resources = json.dumps(statement.get("Resource"))
        if secret_id in resources and "secretsmanager:GetSecretValue" in as_list(statement["Action"]):
            readers.add(logical_id)
    api = template["Resources"]["APIHandler"]["Properties"]
    assert readers == {api["Role"]["Fn::GetAtt"][0]}
    handler = api["Environment"]["Variables"]
    assert handler["WECHAT_PAY_NOTIFY_URL"].endswith("/v1/wechat-pay/notifications")
    assert "WECHAT_PAY_SECRET" in handler
