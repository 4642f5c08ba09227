"""Least privilege: each function's role holds what its kind of function uses, named."""

from __future__ import annotations

import json

from infra.stack import CAPABILITIES
from tests.infra.conftest import resources

# The actions AWS authorises on nothing narrower than "*" (see infra/nag.py).
EXPORT_ACTIONS = {"dynamodb:ExportTableToPointInTime", "dynamodb:DescribeTable", "dynamodb:DescribeExport"}
WILDCARD_RESOURCE_ACTIONS = {
    "sns:Publish",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "sns:SetSMSAttributes",
    "sns:CreatePlatformApplication",  # the deploy-time call that makes a stage's push application
}


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
        if statement["Effect"] == "Allow" and "*" in as_list(statement.get("Resource", [])):
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
        elif logical_id in ("WebhookWorker", "WechatPaySweep"):  # webhook secrets come from the signing key; the sweep reads WeChat Pay's
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


# --- push (SNS mobile push) ----------------------------------------------------------------------

ACCOUNT, REGION = "123456789012", "ap-southeast-1"


def rendered(value):
    """A template value with the pseudo parameters filled in (Fn::Join of strings and Refs)."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": "aws"}[value["Ref"]]
    separator, parts = value["Fn::Join"]
    return separator.join(rendered(p) for p in parts)


def function_statements(template, sid):
    """The statement `sid` of every function role that sends messages."""
    roles = resources(template, "AWS::IAM::Role")
    found = []
    for function in resources(template, "AWS::Serverless::Function").values():
        role = roles[function["Properties"]["Role"]["Fn::GetAtt"][0]]
        for policy in role["Properties"]["Policies"]:
            found += [s for s in policy["PolicyDocument"]["Statement"] if s.get("Sid") == sid]
    return found


def denied(statement, arn: str, has_account: bool) -> bool:
    """IAM's answer for one Deny statement of the shape the stack writes (Resource or NotResource,
    and the Null condition on aws:ResourceAccount)."""
    import fnmatch

    null = statement.get("Condition", {}).get("Null", {}).get("aws:ResourceAccount")
    if null == "false" and not has_account:
        return False
    if "NotResource" in statement:
        return not any(fnmatch.fnmatchcase(arn, rendered(r)) for r in as_list(statement["NotResource"]))
    return any(fnmatch.fnmatchcase(arn, rendered(r)) for r in as_list(statement["Resource"]))


def test_a_stage_with_push_may_publish_to_its_own_endpoints_and_still_to_phones_but_never_to_topics(synthesized):
    template = synthesized.templates["prod"]
    endpoint = f"arn:aws:sns:{REGION}:{ACCOUNT}:endpoint/APNS/huiyuan-prod-apns/6f1c2f0e-1c2d-3f4a-9b8c-0d1e2f3a4b5c"
    fcm_endpoint = f"arn:aws:sns:{REGION}:{ACCOUNT}:endpoint/GCM/huiyuan-prod-fcm/0d1e2f3a-4b5c-6f1c-2f0e-1c2d3f4a9b8c"
    others = [
        f"arn:aws:sns:{REGION}:{ACCOUNT}:huiyuan-prod-alarms",  # a topic of this account
        "arn:aws:sns:us-east-1:999999999999:someone-elses-topic",
        f"arn:aws:sns:{REGION}:{ACCOUNT}:endpoint/APNS/another-app/6f1c2f0e",  # another application's device
        f"arn:aws:sns:{REGION}:{ACCOUNT}:endpoint/GCM/huiyuan-dev-fcm/6f1c2f0e",  # another stage's
    ]
    denies = function_statements(template, "NoTopics")
    assert denies
    for deny in denies:
        assert deny["Effect"] == "Deny" and as_list(deny["Action"]) == ["sns:Publish"]
        assert not denied(deny, endpoint, True) and not denied(deny, fcm_endpoint, True)
        assert not denied(deny, "+8613800138000", False)  # SMS: a phone number has no account
        for arn in others:
            assert denied(deny, arn, True), arn
    for push in function_statements(template, "PushToDevices"):
        assert set(as_list(push["Action"])) == {"sns:Publish", "sns:SetEndpointAttributes", "sns:DeleteEndpoint"}
        patterns = [rendered(r) for r in as_list(push["Resource"])]
        assert patterns == [
            f"arn:aws:sns:{REGION}:{ACCOUNT}:endpoint/APNS/huiyuan-prod-apns/*",
            f"arn:aws:sns:{REGION}:{ACCOUNT}:endpoint/GCM/huiyuan-prod-fcm/*",
        ]
    for register in function_statements(template, "RegisterDevices"):
        assert as_list(register["Action"]) == ["sns:CreatePlatformEndpoint"]
        apps = [rendered(r) for r in as_list(register["Resource"])]
        assert apps == [f"arn:aws:sns:{REGION}:{ACCOUNT}:app/APNS/huiyuan-prod-apns", f"arn:aws:sns:{REGION}:{ACCOUNT}:app/GCM/huiyuan-prod-fcm"]
    assert len(function_statements(template, "PushToDevices")) == len(denies) == len(function_statements(template, "RegisterDevices"))


def test_a_stage_with_push_makes_its_platform_applications_from_secrets_never_in_the_template_and_gives_the_functions_their_arns(synthesized):
    template = synthesized.templates["prod"]
    calls = [r for r in resources(template, "Custom::AWS").values() if "createPlatformApplication" in json.dumps(r["Properties"].get("Create", ""))]
    assert len(calls) == 2
    text = json.dumps(calls)
    assert "{{resolve:secretsmanager:huiyuan/prod/push-apns:SecretString:credential}}" in text
    assert "{{resolve:secretsmanager:huiyuan/prod/push-fcm:SecretString:credential}}" in text
    for function in resources(template, "AWS::Serverless::Function").values():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        if "PUSH_APNS_APPLICATION" in variables:
            assert rendered(variables["PUSH_APNS_APPLICATION"]) == f"arn:aws:sns:{REGION}:{ACCOUNT}:app/APNS/huiyuan-prod-apns"
            assert rendered(variables["PUSH_FCM_APPLICATION"]) == f"arn:aws:sns:{REGION}:{ACCOUNT}:app/GCM/huiyuan-prod-fcm"


def test_a_stage_without_push_credentials_deploys_without_applications_and_push_off(synthesized):
    template = synthesized.templates["dev"]
    assert "PlatformApplication" not in json.dumps([r.get("Properties", {}).get("Create", "") for r in resources(template, "Custom::AWS").values()])
    assert function_statements(template, "PushToDevices") == [] and function_statements(template, "RegisterDevices") == []
    senders = 0
    for function in resources(template, "AWS::Serverless::Function").values():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        if "PUSH_APNS_APPLICATION" in variables:
            senders += 1
            assert (variables["PUSH_APNS_APPLICATION"], variables["PUSH_FCM_APPLICATION"]) == ("off", "off")
    assert senders
    for deny in function_statements(template, "NoTopics"):
        assert denied(deny, f"arn:aws:sns:{REGION}:{ACCOUNT}:endpoint/GCM/huiyuan-dev-fcm/x", True)
        assert not denied(deny, "+8613800138000", False)


def test_bulk_files_are_reached_only_under_the_bulk_prefix_of_the_exports_bucket_and_listed_only_under_bulk_exports(template):
    bulk = [(logical_id, s) for logical_id, s in statements(template) if s.get("Sid") in ("BulkFiles", "BulkExportParts")]
    assert {s["Sid"] for _, s in bulk} == {"BulkFiles", "BulkExportParts"}
    for _, statement in bulk:
        assert statement["Effect"] == "Allow"
        if statement["Sid"] == "BulkFiles":
            assert set(as_list(statement["Action"])) == {"s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"}
            assert statement["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [exports_bucket(template), "Arn"]}, "/bulk/*"]]}
        else:
            assert as_list(statement["Action"]) == ["s3:ListBucket"]
            assert statement["Condition"] == {"StringLike": {"s3:prefix": ["bulk/exports/*"]}}
            assert statement["Resource"] == {"Fn::GetAtt": [exports_bucket(template), "Arn"]}


def exports_bucket(template):
    (logical_id,) = [k for k in resources(template, "AWS::S3::Bucket") if k.startswith("Exports")]
    return logical_id


def test_only_the_api_and_the_wechat_pay_sweep_read_the_wechat_pay_secret_which_holds_no_key_in_the_template(template):
    secrets = {lid: r for lid, r in template["Resources"].items() if r["Type"] == "AWS::SecretsManager::Secret" and "WeChatPay" in lid}
    ((secret_id, secret),) = secrets.items()
    assert "SecretString" not in secret["Properties"]  # generated placeholder; the brand puts its keys in
    readers = set()
    for logical_id, statement in statements(template):
        resources = json.dumps(statement.get("Resource"))
        if secret_id in resources and "secretsmanager:GetSecretValue" in as_list(statement["Action"]):
            readers.add(logical_id)
    api = template["Resources"]["APIHandler"]["Properties"]
    sweep = template["Resources"]["WechatPaySweep"]["Properties"]
    assert readers == {api["Role"]["Fn::GetAtt"][0], sweep["Role"]["Fn::GetAtt"][0]}
    for function in (api, sweep):
        variables = function["Environment"]["Variables"]
        assert variables["WECHAT_PAY_NOTIFY_URL"].endswith("/v1/wechat-pay/notifications")
        assert "WECHAT_PAY_SECRET" in variables
    # The sweep asks WeChat Pay and writes the table; it sends no message and touches no queue's messages
    sweep_actions = function_roles(template)["WechatPaySweep"]
    assert not {a for a in sweep_actions if a.startswith(("sns:", "ses:", "sqs:Receive"))}
