"""SMS spend is bounded at the edge: AWS WAF limits each client address on the routes that
send codes (and, more loosely, everywhere), SMS volume and spend raise alarms, and the
account's SNS spend limit is the stage's budget."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from chalicelib.api.problems import problem
from infra.firewall import CODE_SENDING_ROUTES, RATE_LIMITED
from tests.infra.conftest import resources, the_one
from tests.infra.test_api_edge import api_body, operations
from tests.infra.test_synth import _joined, alarm_named, metric_of, notifies_the_alarm_topic


def web_acl(template: dict[str, Any]) -> dict[str, Any]:
    _, acl = the_one(template, "AWS::WAFv2::WebACL")
    return acl["Properties"]


def rule(template: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [r for r in web_acl(template)["Rules"] if r["Name"] == name]
    return found


def matches(statement: dict[str, Any], method: str, path: str) -> bool:
    """Evaluate the WAF statements these rules use against one request, as WAF would."""
    (kind, body), *_ = statement.items()
    if kind == "OrStatement":
        return any(matches(s, method, path) for s in body["Statements"])
    if kind == "AndStatement":
        return all(matches(s, method, path) for s in body["Statements"])
    if kind == "ByteMatchStatement":
        assert body["FieldToMatch"] == {"Method": {}} and body["PositionalConstraint"] == "EXACTLY"
        return bool(method == body["SearchString"])
    if kind == "RegexMatchStatement":
        assert body["FieldToMatch"] == {"UriPath": {}}
        assert [t["Type"] for t in sorted(body["TextTransformations"], key=lambda t: t["Priority"])] == ["URL_DECODE", "NORMALIZE_PATH"]
        return re.search(body["RegexString"], path) is not None
    raise AssertionError(f"a statement this test cannot evaluate: {kind}")


def test_one_regional_web_acl_is_associated_with_the_api_stage(template):
    acl_id, acl = the_one(template, "AWS::WAFv2::WebACL")
    assert acl["Properties"]["Scope"] == "REGIONAL"
    assert acl["Properties"]["DefaultAction"] == {"Allow": {}}
    _, association = the_one(template, "AWS::WAFv2::WebACLAssociation")
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    _, parts = association["Properties"]["ResourceArn"]["Fn::Join"]
    # The stage SAM generates for the Chalice API, by reference, so the association waits for it.
    assert parts[2:] == [":apigateway:ap-southeast-1::/restapis/", {"Ref": "RestAPI"}, "/stages/", {"Ref": "RestAPI.Stage"}]


def test_code_sending_routes_are_limited_per_client_address_at_the_stage_setting(template, stage):
    limited = rule(template, "code-requests-per-ip")
    rate = limited["Statement"]["RateBasedStatement"]
    assert (rate["AggregateKeyType"], rate["Limit"], rate["EvaluationWindowSec"]) == ("IP", stage.waf_code_requests_per_ip, stage.waf_window_seconds)
    response = limited["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 429
    headers = {h["Name"]: h["Value"] for h in response["ResponseHeaders"]}
    assert headers == {"Retry-After": str(stage.waf_window_seconds), "Access-Control-Allow-Origin": stage.cors_allow_origin}
    body = web_acl(template)["CustomResponseBodies"][response["CustomResponseBodyKey"]]
    assert json.loads(body["Content"]) == problem(RATE_LIMITED)[2]  # the app's own problem+json for a 429


@pytest.mark.parametrize(
    ("method", "path", "counted"),
    [
        ("POST", "/api/v1/signup", True),  # behind the API Gateway stage
        ("POST", "/v1/auth/code", True),  # behind a custom domain mapped at the root
        ("POST", "/api/v1/me/phone/", True),
        ("POST", "/api//v1/signup", True),
        ("POST", "/api/v1%2Fauth%2Fcode", True),
        ("PATCH", "/api/v1/me", True),
        ("GET", "/api/v1/me", False),
        ("POST", "/api/v1/auth/verify", False),
        ("POST", "/api/v1/me/phone/verify", False),
        ("POST", "/api/v1/purchases", False),
    ],
)
def test_which_requests_count_against_the_code_limit(template, method, path, counted):
    scope = rule(template, "code-requests-per-ip")["Statement"]["RateBasedStatement"]["ScopeDownStatement"]
    # WAF decodes and normalises before matching; so does this test, as far as these paths need.
    decoded = re.sub("/+", "/", path.replace("%2F", "/"))
    assert matches(scope, method, decoded) is counted


def test_the_code_limit_covers_exactly_the_api_s_code_sending_routes(template):
    """A renamed route fails here instead of silently leaving the limit."""
    scope = rule(template, "code-requests-per-ip")["Statement"]["RateBasedStatement"]["ScopeDownStatement"]
    routes = {(method.upper(), path) for path, method, _ in operations(api_body(template))}
    assert set(CODE_SENDING_ROUTES) <= routes
    assert {(m, p) for m, p in routes if matches(scope, m, "/api" + p)} == set(CODE_SENDING_ROUTES)


def test_every_request_is_limited_per_address_more_loosely(template, stage):
    general = rule(template, "requests-per-ip")["Statement"]["RateBasedStatement"]
    assert "ScopeDownStatement" not in general
    assert (general["AggregateKeyType"], general["Limit"]) == ("IP", stage.waf_requests_per_ip)
    assert general["Limit"] > stage.waf_code_requests_per_ip
    names = [r["Name"] for r in sorted(web_acl(template)["Rules"], key=lambda r: r["Priority"])]
    assert names == ["code-requests-per-ip", "requests-per-ip", "AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesKnownBadInputsRuleSet"]
    for each in web_acl(template)["Rules"]:
        assert each["VisibilityConfig"]["CloudWatchMetricsEnabled"] is True


def test_blocked_requests_are_logged_without_credentials_or_query_strings(template, stage):
    acl_id, _ = the_one(template, "AWS::WAFv2::WebACL")
    _, logging = the_one(template, "AWS::WAFv2::LoggingConfiguration")
    props = logging["Properties"]
    assert props["ResourceArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    assert props["RedactedFields"] == [{"SingleHeader": {"Name": "authorization"}}, {"SingleHeader": {"Name": "x-api-key"}}, {"QueryString": {}}]
    assert props["LoggingFilter"]["DefaultBehavior"] == "DROP"
    (kept,) = props["LoggingFilter"]["Filters"]
    assert kept == {"Behavior": "KEEP", "Requirement": "MEETS_ANY", "Conditions": [{"ActionCondition": {"Action": "BLOCK"}}]}
    groups = {g["Properties"].get("LogGroupName"): g["Properties"] for g in resources(template, "AWS::Logs::LogGroup").values()}
    assert groups[f"aws-waf-logs-huiyuan-{stage.name}"]["RetentionInDays"] == stage.log_retention_days


def test_sms_volume_raises_an_alarm_at_the_stage_setting(template, stage):
    volume = alarm_named(template, f"huiyuan-{stage.name}-sms-volume")
    metric = metric_of(volume)
    assert (metric["MetricName"], metric["Stat"], metric["Period"]) == ("SmsSent", "Sum", 3600)
    assert {d["Name"]: d["Value"] for d in metric["Dimensions"]} == {"service": "huiyuan", "stage": stage.name}
    assert (volume["Threshold"], volume["ComparisonOperator"]) == (stage.sms_alarm_per_hour, "GreaterThanThreshold")
    assert notifies_the_alarm_topic(volume, template)


def test_sms_spend_raises_an_alarm_before_the_budget_is_reached(template, stage):
    spend = alarm_named(template, f"huiyuan-{stage.name}-sms-spend")
    metric = metric_of(spend)
    namespace = spend.get("Namespace") or spend["Metrics"][0]["MetricStat"]["Metric"]["Namespace"]
    assert (namespace, metric["MetricName"], metric["Stat"]) == ("AWS/SNS", "SMSMonthToDateSpentUSD", "Maximum")
    assert metric["Dimensions"] == []  # account-wide
    assert spend["Threshold"] == pytest.approx(stage.sms_monthly_budget_usd * stage.sms_spend_alarm_fraction)
    assert spend["Threshold"] < stage.sms_monthly_budget_usd
    assert notifies_the_alarm_topic(spend, template)


def test_the_account_s_sms_spend_limit_is_the_stage_s_budget_on_every_deploy_and_left_on_delete(template, stage):
    assert stage.set_sms_spend_limit
    (seed,) = [r for r in resources(template, "Custom::AWS").values() if "setSMSAttributes" in json.dumps(r["Properties"]["Create"])]
    for event in ("Create", "Update"):
        call = json.loads(_joined(seed["Properties"][event]))
        assert (call["service"], call["action"]) == ("SNS", "setSMSAttributes")
        assert call["parameters"] == {"attributes": {"MonthlySpendLimit": str(stage.sms_monthly_budget_usd)}}
    assert "Delete" not in seed["Properties"]  # removing the stack does not lift the limit


@pytest.mark.parametrize(
    "metric",
    [
        '"Huiyuan","SmsSent","service","huiyuan","stage"',
        '"Huiyuan","CodeSendsRefused","service","huiyuan","stage"',
        '"AWS/SNS","SMSMonthToDateSpentUSD"',
        '"AWS/WAFV2","BlockedRequests"',
    ],
)
def test_the_dashboard_shows_sms_and_the_firewall(template, stage, metric):
    _, dashboard = the_one(template, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"]).replace('\\"', '"')
    assert metric in body
    for name in ("sms-volume", "sms-spend"):  # in the alarm status widget
        alarms = resources(template, "AWS::CloudWatch::Alarm")
        (alarm_id,) = [k for k, a in alarms.items() if a["Properties"]["AlarmName"] == f"huiyuan-{stage.name}-{name}"]
        assert alarm_id in body
