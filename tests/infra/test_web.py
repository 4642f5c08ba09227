"""Every stage serves the member web app (infra/web.py): web/dist in a private bucket behind
CloudFront under /app/, the stage's API under /v1/ on the same origin, pages of the app answered
with index.html (the CloudFront Function, run here in Node.js), headers as the local stage sends."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from chalicelib.api.caller_address import ORIGIN_VERIFY_HEADER, VIEWER_ADDRESS_HEADER
from infra.stages import chalice_stage_value
from localstage.webapp import CONTENT_SECURITY_POLICY, IMMUTABLE, REVALIDATE, WEB_DIST
from tests.infra.conftest import resources, the_one

# AWS managed CloudFront policies (their ids are fixed across accounts).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def distribution(template):
    _, found = the_one(template, "AWS::CloudFront::Distribution")
    return found["Properties"]["DistributionConfig"]


def origin(config, origin_id):
    (found,) = [o for o in config["Origins"] if o["Id"] == origin_id]
    return found


def behaviour(config, pattern):
    (found,) = [b for b in config["CacheBehaviors"] if b["PathPattern"] == pattern]
    return found


def headers_policy(template, ref):
    return template["Resources"][ref["Ref"]]["Properties"]["ResponseHeadersPolicyConfig"]


def cloudfront_function(template, name_ends):
    (found,) = [f for f in resources(template, "AWS::CloudFront::Function").values() if f["Properties"]["Name"].endswith(name_ends)]
    return found


def origin_secret_id(template):
    (found,) = [k for k, v in resources(template, "AWS::SecretsManager::Secret").items() if "cloudfront-origin-verify" in v["Properties"]["Name"]]
    return found


def web_bucket_id(template):
    deployment = next(iter(resources(template, "Custom::CDKBucketDeployment").values()))
    return deployment["Properties"]["DestinationBucketName"]["Ref"]


def test_the_app_is_served_from_a_private_bucket_through_origin_access_control(template):
    config = distribution(template)
    default = config["DefaultCacheBehavior"]
    bucket_origin = origin(config, default["TargetOriginId"])
    bucket_id = web_bucket_id(template)
    assert bucket_origin["DomainName"] == {"Fn::GetAtt": [bucket_id, "RegionalDomainName"]}
    assert "OriginAccessControlId" in bucket_origin and bucket_origin["S3OriginConfig"]["OriginAccessIdentity"] == ""
    bucket = template["Resources"][bucket_id]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    # Only this distribution reads it (the bucket policy CDK writes for the OAC).
    policy = next(p for p in resources(template, "AWS::S3::BucketPolicy").values() if p["Properties"]["Bucket"] == {"Ref": bucket_id})
    readers = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Principal") == {"Service": "cloudfront.amazonaws.com"}]
    assert readers and all(s["Action"] == "s3:GetObject" for s in readers)
    assert all("AWS:SourceArn" in json.dumps(s["Condition"]) for s in readers)
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"


def test_the_stage_s_api_is_behind_the_same_distribution_never_cached_with_every_method_and_header(template, stage_name):
    config = distribution(template)
    api = behaviour(config, "v1/*")
    api_origin = origin(config, api["TargetOriginId"])
    assert api_origin["DomainName"] == {"Fn::Sub": ["${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}", {"Api": {"Ref": "RestAPI"}}]}
    assert api_origin["OriginPath"] == "/" + chalice_stage_value(stage_name, "api_gateway_stage")
    assert api_origin["CustomOriginConfig"] == {"OriginProtocolPolicy": "https-only", "OriginSSLProtocols": ["TLSv1.2"]}
    assert set(api["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    # Caching off, so the Authorization header reaches the API; Host is API Gateway's own.
    assert (api["CachePolicyId"], api["OriginRequestPolicyId"]) == (CACHING_DISABLED, ALL_VIEWER_EXCEPT_HOST_HEADER)
    assert api["ViewerProtocolPolicy"] == "https-only"


def test_pages_are_revalidated_hashed_assets_cached_a_year_with_the_local_stage_s_security_headers(template):
    config = distribution(template)
    pages = headers_policy(template, config["DefaultCacheBehavior"]["ResponseHeadersPolicyId"])
    assets_behaviour = behaviour(config, "app/assets/*")
    assets = headers_policy(template, assets_behaviour["ResponseHeadersPolicyId"])
    assert pages["CustomHeadersConfig"]["Items"] == [{"Header": "Cache-Control", "Override": True, "Value": REVALIDATE}]
    assert assets["CustomHeadersConfig"]["Items"] == [{"Header": "Cache-Control", "Override": True, "Value": IMMUTABLE}]
    for policy in (pages, assets):
        security = policy["SecurityHeadersConfig"]
        assert security["ContentSecurityPolicy"]["ContentSecurityPolicy"] == CONTENT_SECURITY_POLICY
        assert security["ContentTypeOptions"]["Override"] is True
        assert security["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    assert assets_behaviour["CachePolicyId"] == CACHING_OPTIMIZED and assets_behaviour["Compress"] is True


def test_the_build_is_deployed_under_app_with_what_it_no_longer_has_pruned_and_the_pages_invalidated(template, synthesized, stage_name):
    (deployment,) = resources(template, "Custom::CDKBucketDeployment").values()
    props = deployment["Properties"]
    assert props["DestinationBucketKeyPrefix"] == "app/"
    assert props["Prune"] is True
    assert props["DistributionId"] == {"Ref": the_one(template, "AWS::CloudFront::Distribution")[0]}
    assert "/app/*" in props["DistributionPaths"]
    # The asset it copies is web/dist as built: the same index.html.
    (key,) = props["SourceObjectKeys"]
    staged = synthesized.assembly_dir / ("asset." + key.removesuffix(".zip"))
    if staged.is_dir():
        assert (staged / "index.html").read_bytes() == (WEB_DIST / "index.html").read_bytes()
    else:
        with zipfile.ZipFile(staged.with_suffix(".zip")) as archive:
            assert archive.read("index.html") == (WEB_DIST / "index.html").read_bytes()


def test_the_deployment_role_can_touch_only_app_in_the_web_bucket_and_invalidate_only_this_distribution(template):
    (deployment,) = resources(template, "Custom::CDKBucketDeployment").values()
    handler = template["Resources"][deployment["Properties"]["ServiceToken"]["Fn::GetAtt"][0]]
    role = template["Resources"][handler["Properties"]["Role"]["Fn::GetAtt"][0]]
    assert "ManagedPolicyArns" not in role["Properties"]
    statements = {s["Sid"]: s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]}
    # No DefaultPolicy with CDK's broader grants was attached to it.
    attached = [
        p
        for p in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": handler["Properties"]["Role"]["Fn::GetAtt"][0]} in p["Properties"]["Roles"]
    ]
    assert attached == []
    bucket_id = web_bucket_id(template)
    assert json.dumps(statements["SyncTheApp"]["Resource"]).count(bucket_id) == 1 and "/app/*" in json.dumps(statements["SyncTheApp"]["Resource"])
    assert statements["ListTheApp"]["Condition"] == {"StringLike": {"s3:prefix": ["app/", "app/*"]}}
    distribution_id = the_one(template, "AWS::CloudFront::Distribution")[0]
    assert distribution_id in json.dumps(statements["InvalidateThePages"]["Resource"])
    assert statements["ReadTheBuild"]["Action"] == "s3:GetObject" and ".zip" in json.dumps(statements["ReadTheBuild"]["Resource"])


def test_the_stack_says_where_the_app_is(template):
    url = template["Outputs"]["WebAppUrl"]["Value"]
    assert url == {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [the_one(template, "AWS::CloudFront::Distribution")[0], "DomainName"]}, "/app/"]]}


NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="Node.js runs CloudFront Functions' JavaScript here (make needs it for the web app anyway)")
@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("/app/", {"uri": "/app/index.html"}),
        ("/app/home", {"uri": "/app/index.html"}),
        ("/app/profile/", {"uri": "/app/index.html"}),
        ("/app/assets/index-AbC123.js", {"uri": "/app/assets/index-AbC123.js"}),
        ("/app/favicon.svg", {"uri": "/app/favicon.svg"}),
        ("/app/assets/missing", {"uri": "/app/assets/missing"}),
        ("/", {"statusCode": 308, "location": "/app/"}),
        ("/app", {"statusCode": 308, "location": "/app/"}),
        ("/robots.txt", {"uri": "/robots.txt"}),
    ],
)
def test_the_viewer_request_function_sends_pages_of_the_app_to_index_html(template, uri, expected, tmp_path: Path):
    function = cloudfront_function(template, "-web-pages")
    code = function["Properties"]["FunctionCode"]
    script = tmp_path / "run.js"
    script.write_text(
        code
        + "\nconst out = handler({request: {uri: process.argv[2], querystring: {ref: {value: 'LI8K2Q'}}}});\n"
        + "console.log(JSON.stringify(out.statusCode ? {statusCode: out.statusCode, location: out.headers.location.value} : {uri: out.uri}));\n",
        encoding="utf-8",
    )
    assert NODE is not None
    ran = subprocess.run([NODE, str(script), uri], capture_output=True, text=True, check=True, timeout=30)
    assert json.loads(ran.stdout) == expected


# --- the caller's address behind CloudFront (api/caller_address.py, docs/web.md) ---------------------


def test_requests_to_the_api_carry_the_viewer_s_address_set_by_a_viewer_request_function(template):
    config = distribution(template)
    api = behaviour(config, "v1/*")
    (association,) = api["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    function_id = association["FunctionARN"]["Fn::GetAtt"][0]
    assert template["Resources"][function_id] == cloudfront_function(template, "-web-viewer-address")
    # The pages' rewrite stays on the bucket's behaviour only.
    assert [a["FunctionARN"]["Fn::GetAtt"][0] for a in config["DefaultCacheBehavior"]["FunctionAssociations"]] != [function_id]


@pytest.mark.skipif(NODE is None, reason="Node.js runs CloudFront Functions' JavaScript here")
@pytest.mark.parametrize("sent", [None, "198.51.100.1", "198.51.100.1, 10.0.0.1"])
def test_the_viewer_address_is_cloudfront_s_whatever_the_viewer_sent(template, sent, tmp_path: Path):
    code = cloudfront_function(template, "-web-viewer-address")["Properties"]["FunctionCode"]
    headers = {"authorization": {"value": "Bearer t"}} | ({VIEWER_ADDRESS_HEADER: {"value": sent}} if sent else {})
    event = {"viewer": {"ip": "2001:db8:1:2::5"}, "request": {"uri": "/v1/auth/code", "method": "POST", "headers": headers}}
    script = tmp_path / "run.js"
    script.write_text(code + f"\nconsole.log(JSON.stringify(handler({json.dumps(event)}).headers));\n", encoding="utf-8")
    assert NODE is not None
    ran = subprocess.run([NODE, str(script)], capture_output=True, text=True, check=True, timeout=30)
    assert json.loads(ran.stdout) == {"authorization": {"value": "Bearer t"}, VIEWER_ADDRESS_HEADER: {"value": "2001:db8:1:2::5"}}


def test_requests_to_the_api_carry_the_origin_secret_by_reference_never_in_clear(template, stage):
    config = distribution(template)
    api_origin = origin(config, behaviour(config, "v1/*")["TargetOriginId"])
    secret_id = origin_secret_id(template)
    (header,) = api_origin["OriginCustomHeaders"]
    assert header["HeaderName"] == ORIGIN_VERIFY_HEADER
    # A dynamic reference CloudFormation resolves at deploy: the template holds the secret's name, not its value.
    assert header["HeaderValue"] == {"Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": secret_id}, ":SecretString:::}}"]]}
    secret = template["Resources"][secret_id]["Properties"]
    assert "SecretString" not in secret and secret["GenerateSecretString"]["PasswordLength"] >= 32
    assert secret["Name"] == stage.origin_secret_name
    # The bucket's origin gets no such header.
    bucket_origin = origin(config, config["DefaultCacheBehavior"]["TargetOriginId"])
    assert "OriginCustomHeaders" not in bucket_origin


def test_only_the_api_function_reads_the_origin_secret_by_its_parameter_name(template, stage):
    parameter = "/aws/reference/secretsmanager/" + stage.origin_secret_name
    secret_id = origin_secret_id(template)
    functions = resources(template, "AWS::Lambda::Function") | resources(template, "AWS::Serverless::Function")
    readers = {k for k, f in functions.items() if "ORIGIN_VERIFY_PARAMETER" in f["Properties"].get("Environment", {}).get("Variables", {})}
    assert readers == {"APIHandler"}
    assert functions["APIHandler"]["Properties"]["Environment"]["Variables"]["ORIGIN_VERIFY_PARAMETER"] == parameter
    roles = {k: json.dumps(r["Properties"]) for k, r in resources(template, "AWS::IAM::Role").items()}
    (reader,) = [k for k, r in roles.items() if secret_id in r]
    assert reader.startswith("APIHandlerRole") and parameter.lstrip("/") in roles[reader]
