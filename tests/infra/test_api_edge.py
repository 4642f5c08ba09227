"""The API's edge as synthesized: who may call what, how long a token decision is cached,
and that everything that names the API Gateway stage names the one Chalice deploys."""

from __future__ import annotations

import json
from typing import Any

from tests.infra.conftest import resources, the_one

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head")
# At most this long may a member's token keep working after it expired or was refused.
AUTHORIZER_CACHE_LIMIT_SECONDS = 60


def api_body(template: dict[str, Any]) -> dict[str, Any]:
    """The swagger document Chalice generated: the API's routes live there, not in AWS::ApiGateway::Method resources."""
    assert not resources(template, "AWS::ApiGateway::Method"), "routes defined outside the swagger body are not checked here"
    body = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    assert isinstance(body, dict)
    return body


def operations(body: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, methods in body["paths"].items() for method, op in methods.items() if method in HTTP_METHODS]


def test_every_admin_method_requires_aws_iam_authorisation(template):
    body = api_body(template)
    definitions = body["securityDefinitions"]
    admin = [(path, method, op) for path, method, op in operations(body) if path == "/v1/admin" or path.startswith("/v1/admin/")]
    assert len(admin) >= 20, f"only {len(admin)} operator methods found: is the admin blueprint registered?"
    for path, method, operation in admin:
        requirements = operation.get("security", [])
        assert requirements, f"{method.upper()} {path} is open"
        for requirement in requirements:
            for name in requirement:
                assert definitions[name].get("x-amazon-apigateway-authtype") == "awsSigv4", f"{method.upper()} {path} accepts {name}"


def test_a_cors_preflight_under_admin_never_reaches_the_function(template):
    """OPTIONS carries no authorisation (browsers send none), so it must be API Gateway's mock, not the app."""
    body = api_body(template)
    for path, methods in body["paths"].items():
        if path.startswith("/v1/admin") and "options" in methods:
            assert methods["options"]["x-amazon-apigateway-integration"]["type"] == "mock", path


def test_only_operator_routes_accept_iam_signatures(template):
    body = api_body(template)
    sigv4 = {name for name, d in body["securityDefinitions"].items() if d.get("x-amazon-apigateway-authtype") == "awsSigv4"}
    for path, method, operation in operations(body):
        if any(name in sigv4 for requirement in operation.get("security", []) for name in requirement):
            assert path.startswith("/v1/admin"), f"{method.upper()} {path}"
    # The member routes keep the token authorizer (and so do not accept IAM instead).
    assert body["paths"]["/v1/me"]["get"]["security"] == [{"member_token": []}]


def test_the_member_token_decision_is_cached_at_most_a_minute(template):
    body = api_body(template)
    (authorizer,) = [
        d["x-amazon-apigateway-authorizer"] for d in body["securityDefinitions"].values() if d.get("x-amazon-apigateway-authtype") == "custom"
    ]
    assert authorizer["type"] == "token"
    # API Gateway's default, when the key is absent, is 300 s.
    assert "authorizerResultTtlInSeconds" in authorizer
    assert 0 <= authorizer["authorizerResultTtlInSeconds"] <= AUTHORIZER_CACHE_LIMIT_SECONDS


def test_the_operators_policy_and_the_api_metrics_name_the_stage_the_api_deploys_to(template, stage):
    api_stage = template["Resources"]["RestAPI"]["Properties"]["StageName"]
    assert api_stage == stage.api_gateway_stage
    assert template["Outputs"]["EndpointURL"]["Value"]["Fn::Sub"].endswith(f"/{api_stage}/")
    _, policy = the_one(template, "AWS::IAM::ManagedPolicy")
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    tails = sorted(r["Fn::Join"][1][-1] for r in statement["Resource"])
    assert tails == [f"/{api_stage}/*/v1/admin", f"/{api_stage}/*/v1/admin/*"]
    # Every API Gateway metric (dashboard and alarms) is read for that stage.
    _, dashboard = the_one(template, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"]).replace('\\"', '"')
    assert body.count('"AWS/ApiGateway"') == body.count(f'"Stage","{api_stage}"') > 0
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        if alarm["Properties"].get("Namespace") == "AWS/ApiGateway":
            assert {"Name": "Stage", "Value": api_stage} in alarm["Properties"]["Dimensions"]
