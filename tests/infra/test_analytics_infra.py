"""The analytics engine's resources (infra/analytics.py): the bucket, Glue, Athena, grants, widgets."""

from __future__ import annotations

import json

from infra.analytics import EXPIRY_DAYS
from infra.stages import stage_environment
from tests.infra.conftest import resources
from tests.infra.test_iam import as_list

ANALYTICS_ACTIONS = {"dynamodb:ExportTableToPointInTime", "athena:StartQueryExecution", "glue:CreateTable"}


def analytics_bucket(template):
    [(logical_id, bucket)] = [(k, v) for k, v in resources(template, "AWS::S3::Bucket").items() if k.startswith("Analytics")]
    return logical_id, bucket["Properties"]


def test_the_analytics_bucket_is_private_encrypted_tls_only_and_forgets_old_exports(template):
    logical_id, bucket = analytics_bucket(template)
    blocks = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
    assert all(bucket["PublicAccessBlockConfiguration"][k] for k in blocks)
    [rule] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert "LoggingConfiguration" in bucket
    expiry = {r["Prefix"]: r["ExpirationInDays"] for r in bucket["LifecycleConfiguration"]["Rules"]}
    assert expiry == EXPIRY_DAYS and expiry["exports/"] <= 7
    [policy] = [p for p in resources(template, "AWS::S3::BucketPolicy").values() if p["Properties"]["Bucket"] == {"Ref": logical_id}]
    denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_glue_database_and_athena_workgroup_are_named_as_the_functions_expect(template, stage_name):
    env = stage_environment(stage_name)
    assert env["ANALYTICS_ENGINE"] == "athena"
    [database] = resources(template, "AWS::Glue::Database").values()
    assert database["Properties"]["DatabaseInput"]["Name"] == env["ANALYTICS_DATABASE"]
    [workgroup] = resources(template, "AWS::Athena::WorkGroup").values()
    props = workgroup["Properties"]
    assert props["Name"] == env["ANALYTICS_WORKGROUP"]
    config = props["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True and config["BytesScannedCutoffPerQuery"] > 0
    assert config["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] == "SSE_S3"
    assert "athena-results/" in json.dumps(config["ResultConfiguration"]["OutputLocation"])


def test_only_the_api_the_worker_and_the_analytics_job_may_export_and_query(template):
    roles = resources(template, "AWS::IAM::Role")
    granted = set()
    for logical_id, function in resources(template, "AWS::Serverless::Function").items():
        role = roles[function["Properties"]["Role"]["Fn::GetAtt"][0]]
        statements = [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
        actions = {a for s in statements for a in as_list(s["Action"])}
        if actions >= ANALYTICS_ACTIONS:
            granted.add(logical_id)
            env = function["Properties"]["Environment"]["Variables"]
            assert "ANALYTICS_BUCKET" in env, logical_id
            for statement in statements:
                if any(a.startswith(("s3:", "athena:", "glue:")) for a in as_list(statement["Action"])):
                    assert "*" not in as_list(statement["Resource"]), (logical_id, statement)
        else:
            assert not actions & ANALYTICS_ACTIONS, logical_id
    assert granted == {"APIHandler", "JobWorker", "AnalyticsRefresh"}


def test_the_dashboard_shows_the_daily_business_figures(template):
    [dashboard] = resources(template, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"]).replace('\\"', '"')
    for metric in ("ActiveMembers", "NewMembers", "PointsLiability", "RedemptionRatePercent", "RepeatPurchaseRatePercent"):
        assert f'"Huiyuan","{metric}"' in body, metric
