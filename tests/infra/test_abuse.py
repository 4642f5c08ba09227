"""SMS spend is bounded at the edge: AWS WAF limits each client address on the routes that
send codes (and, more loosely, everywhere), SMS volume and spend raise alarms, and the
account's SNS spend limit is the stage's budget."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from chalicelib.api.caller_address import ORIGIN_VERIFY_HEADER, VIEWER_ADDRESS_HEADER
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


THE_SECRET = "the distribution's origin secret"


def matches(statement: dict[str, Any], method: str, path: str, headers: dict[str, str] | None = None) -> bool:
    """Evaluate the WAF statements these rules use against one request, as WAF would (the origin
    secret's dynamic reference stands for THE_SECRET)."""
    headers = headers or {}
    (kind, body), *_ = statement.items()
    if kind == "OrStatement":
        return any(matches(s, method, path, headers) for s in body["Statements"])
    if kind == "AndStatement":
        return all(matches(s, method, path, headers) for s in body["Statements"])
    if kind == "NotStatement":
        return not matches(body["Statement"], method, path, headers)
    if kind == "ByteMatchStatement" and "SingleHeader" in body["FieldToMatch"]:
        assert body["FieldToMatch"] == {"SingleHeader": {"Name": ORIGIN_VERIFY_HEADER}} and body["PositionalConstraint"] == "EXACTLY"
        assert "{{resolve:secretsmanager:" in json.dumps(body["SearchString"])  # never the value itself
        return headers.get(ORIGIN_VERIFY_HEADER) == THE_SECRET
    if kind == "ByteMatchStatement":
        assert body["FieldToMatch"] == {"Method": {}} and body["PositionalConstraint"] == "EXACTLY"
        return bool(method == body["SearchString"])
    if kind == "RegexMatchStatement":
        assert body["FieldToMatch"] == {"UriPath": {}}
        assert [t["Type"] for t in sorted(body["TextTransformations"], key=lambda t: t["Priority"])] == ["URL_DECODE", "NORMALIZE_PATH"]
        return re.search(body["RegexString"], path) is not None
    raise AssertionError(f"a statement this test cannot evaluate: {kind}")


def scope_of(template: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = rule(template, name)["Statement"]["RateBasedStatement"]["ScopeDownStatement"]
    return found


THROUGH_THE_APP = {ORIGIN_VERIFY_HEADER: THE_SECRET, VIEWER_ADDRESS_HEADER: "203.0.113.7"}
FORGED = {ORIGIN_VERIFY_HEADER: "a guess", VIEWER_ADDRESS_HEADER: "203.0.113.7"}


def test_one_regional_web_acl_is_associated_with_the_api_stage(template):
    acl_id, acl = the_one(template, "AWS::WAFv2::WebACL")
    assert acl["Properties"]["Scope"] == "REGIONAL"
    assert acl["Properties"]["DefaultAction"] == {"Allow": {}}
    _, association = the_one(template, "AWS::WAFv2::WebACLAssociation")
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    _, parts = association["Properties"]["ResourceArn"]["Fn::Join"]
    # The stage SAM generates for the Chalice API, by reference, so the association waits for it.
    assert parts[2:] == [":apigateway:ap-southeast-1::/restapis/", {"Ref": "RestAPI"}, "/stages/", {"Ref": "RestAPI.Stage"}]


@pytest.mark.parametrize(("name", "key"), [("code-requests-per-ip", "IP"), ("code-requests-per-viewer", "FORWARDED_IP")])
def test_code_sending_routes_are_limited_per_client_address_at_the_stage_setting(template, stage, name, key):
    limited = rule(template, name)
    rate = limited["Statement"]["RateBasedStatement"]
    assert (rate["AggregateKeyType"], rate["Limit"], rate["EvaluationWindowSec"]) == (key, stage.waf_code_requests_per_ip, stage.waf_window_seconds)
    response = limited["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 429
    headers = {h["Name"]: h["Value"] for h in response["ResponseHeaders"]}
    assert headers == {"Retry-After": str(stage.waf_window_seconds), "Access-Control-Allow-Origin": stage.cors_allow_origin}
    body = web_acl(template)["CustomResponseBodies"][response["CustomResponseBodyKey"]]
    assert json.loads(body["Content"]) == problem(RATE_LIMITED)[2]  # the app's own problem+json for a 429


def test_the_web_app_s_requests_are_counted_by_the_viewer_address_its_distribution_forwards(template):
    rate = rule(template, "code-requests-per-viewer")["Statement"]["RateBasedStatement"]
    # A header that is not an address (never, from the distribution's function) is not counted rather than blocked.
    assert rate["ForwardedIPConfig"] == {"HeaderName": VIEWER_ADDRESS_HEADER, "FallbackBehavior": "NO_MATCH"}
    assert "ForwardedIPConfig" not in rule(template, "code-requests-per-ip")["Statement"]["RateBasedStatement"]


@pytest.mark.parametrize(
    ("headers", "counted_by"),
    [
        ({}, "code-requests-per-ip"),  # straight to the API
        (THROUGH_THE_APP, "code-requests-per-viewer"),  # the web app, through CloudFront
        (FORGED, "code-requests-per-ip"),  # a viewer address without the secret: the caller's own address
        ({VIEWER_ADDRESS_HEADER: "203.0.113.7"}, "code-requests-per-ip"),
    ],
)
def test_each_code_request_is_counted_by_exactly_one_address(template, headers, counted_by):
    counted = [
        name for name in ("code-requests-per-ip", "code-requests-per-viewer") if matches(scope_of(template, name), "POST", "/api/v1/signup", headers)
    ]
    assert counted == [counted_by]


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
@pytest.mark.parametrize(("name", "headers"), [("code-requests-per-ip", {}), ("code-requests-per-viewer", THROUGH_THE_APP)])
def test_which_requests_count_against_the_code_limit(template, method, path, counted, name, headers):
    # WAF decodes and normalises before matching; so does this test, as far as these paths need.
    decoded = re.sub("/+", "/", path.replace("%2F", "/"))
    assert matches(scope_of(template, name), method, decoded, headers) is counted


@pytest.mark.parametrize(("name", "headers"), [("code-requests-per-ip", {}), ("code-requests-per-viewer", THROUGH_THE_APP)])
def test_the_code_limit_covers_exactly_the_api_s_code_sending_routes(template, name, headers):
    """A renamed route fails here instead of silently leaving the limit."""
    routes = {(method.upper(), path) for path, method, _ in operations(api_body(template))}
    assert set(CODE_SENDING_ROUTES) <= routes
    assert {(m, p) for m, p in routes if matches(scope_of(template, name), m, "/api" + p, headers)} == set(CODE_SENDING_ROUTES)


def test_every_request_is_limited_per_address_more_loosely(template, stage):
    by_ip = rule(template, "requests-per-ip")["Statement"]["RateBasedStatement"]
    by_viewer = rule(template, "requests-per-viewer")["Statement"]["RateBasedStatement"]
    assert (by_ip["AggregateKeyType"], by_ip["Limit"]) == ("IP", stage.waf_requests_per_ip)
    assert (by_viewer["AggregateKeyType"], by_viewer["Limit"]) == ("FORWARDED_IP", stage.waf_requests_per_ip)
    assert by_viewer["ForwardedIPConfig"]["HeaderName"] == VIEWER_ADDRESS_HEADER
    assert by_ip["Limit"] > stage.waf_code_requests_per_ip
    for headers, counted_by in (({}, "requests-per-ip"), (FORGED, "requests-per-ip"), (THROUGH_THE_APP, "requests-per-viewer")):
        assert [n for n in ("requests-per-ip", "requests-per-viewer") if matches(scope_of(template, n), "GET", "/api/v1/me", headers)] == [counted_by]
    names = [r["Name"] for r in sorted(web_acl(template)["Rules"], key=lambda r: r["Priority"])]
    assert names == [
        "code-requests-per-ip",
        "code-requests-per-viewer",
        "requests-per-ip",
        "requests-per-viewer",
        "AWSManagedRulesAmazonIpReputationList",
        "AWSManagedRulesKnownBadInputsRuleSet",
    ]
    for each in web_acl(template)["Rules"]:
        assert each["VisibilityConfig"]["CloudWatchMetricsEnabled"] is True


def test_blocked_requests_are_logged_without_credentials_the_origin_secret_or_query_strings(template, stage):
    acl_id, _ = the_one(template, "AWS::WAFv2::WebACL")
    _, logging = the_one(template, "AWS::WAFv2::LoggingConfiguration")
    props = logging["Properties"]
    assert props["ResourceArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    assert props["RedactedFields"] == [
        {"SingleHeader": {"Name": "authorization"}},
        {"SingleHeader": {"Name": "x-api-key"}},
        {"SingleHeader": {"Name": ORIGIN_VERIFY_HEADER}},  # the distribution's origin secret
        {"QueryString": {}},
    ]
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
