"""The bulk imports' bucket (infra/stack.py `_imports_bucket`): private, encrypted, TLS only,
uploads forgotten after a week; only the API and the jobs worker reach it, each for what it does."""

from __future__ import annotations

import json

from infra.stack import IMPORT_KEPT_DAYS
from tests.infra.conftest import resources
from tests.infra.test_iam import as_list, statements


def imports_bucket(template):
    [(logical_id, bucket)] = [(k, v) for k, v in resources(template, "AWS::S3::Bucket").items() if k.startswith("Imports")]
    return logical_id, bucket["Properties"]


def test_the_imports_bucket_is_private_encrypted_tls_only_and_forgets_uploads_within_a_week(template):
    logical_id, bucket = imports_bucket(template)
    blocks = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
    assert all(bucket["PublicAccessBlockConfiguration"][k] for k in blocks)
    [rule] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert "LoggingConfiguration" in bucket
    [lifecycle] = bucket["LifecycleConfiguration"]["Rules"]
    assert lifecycle["ExpirationInDays"] == IMPORT_KEPT_DAYS <= 7
    [policy] = [p for p in resources(template, "AWS::S3::BucketPolicy").values() if p["Properties"]["Bucket"] == {"Ref": logical_id}]
    denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_only_the_api_and_the_worker_reach_the_imports_bucket_and_only_the_worker_deletes_results(template):
    logical_id, _ = imports_bucket(template)
    reaching: dict[str, set[str]] = {}
    for role, statement in statements(template):
        if logical_id in json.dumps(statement.get("Resource")):
            reaching.setdefault(role, set()).update(as_list(statement["Action"]))
    roles = resources(template, "AWS::IAM::Role")
    kinds = {}
    for function_id, function in resources(template, "AWS::Serverless::Function").items():
        kinds[function["Properties"]["Role"]["Fn::GetAtt"][0]] = function_id
    reached_by = {kinds.get(role, role) for role in reaching if role in roles}
    assert reached_by == {"APIHandler", "JobWorker"}, reached_by
    for role, actions in reaching.items():
        assert actions <= {"s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:ListBucket"}
        assert ("s3:DeleteObject" in actions) == (kinds.get(role) == "JobWorker")
