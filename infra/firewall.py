"""AWS WAF in front of the API stage: rate limits per client address, and AWS's lists of
known-bad inputs and addresses.

The app bounds verification codes per phone, per address and overall (program rules).
This layer stops a flood from one address before it reaches Lambda at all, and bounds
what one address can cost in SMS even if the app's limits are set loose. The limits
are stage settings (infra/stages.py); docs/operators.md says how to change them.

The member web app calls the API through its CloudFront distribution (infra/web.py), so the
address WAF sees for those requests is a CloudFront edge's, shared by every member behind it.
Each per-address limit is therefore two rules: requests proven to come through the distribution
(its origin secret in `x-huiyuan-origin-verify`, which CloudFront sets and a viewer cannot) are
counted by the viewer address the distribution forwards (`x-huiyuan-viewer-address`,
FORWARDED_IP); every other request, a forged viewer header included, by its own address.
AWS's IP reputation list still sees only the edge for the web app's requests (it reads no
header); a CloudFront-scope ACL in us-east-1 would be needed for that (infra/web.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2

from chalicelib.api.caller_address import ORIGIN_VERIFY_HEADER, VIEWER_ADDRESS_HEADER
from chalicelib.api.problems import problem
from chalicelib.domain.errors import TooManyAttempts

if TYPE_CHECKING:
    from .stack import HuiyuanStack

# The routes that send a verification code by SMS or email (chalicelib/api/auth.py, profile.py).
# PATCH /v1/me sends one only when the email changes; every PATCH counts here.
CODE_SENDING_ROUTES: tuple[tuple[str, str], ...] = (
    ("POST", "/v1/signup"),
    ("POST", "/v1/auth/code"),
    ("POST", "/v1/me/phone"),
    ("PATCH", "/v1/me"),
)

TOO_MANY_REQUESTS_BODY = "too-many-requests"
# WAF's own answer to a blocked address: the app's problem+json for the same situation.
RATE_LIMITED = TooManyAttempts("Too many requests from this address; try again in a few minutes")


@dataclass(frozen=True)
class Firewall:
    web_acl: wafv2.CfnWebACL
    name: str
    # The CloudWatch metric (AWS/WAFV2, dimension Rule) of each rule, by rule name.
    rule_metrics: dict[str, str]
    log_group: logs.LogGroup


def path_regex(paths: list[str]) -> str:
    """Any of `paths` at the end of the URI path, with or without a trailing slash.

    WAF sees the path as the client sent it: behind the API Gateway stage
    (/api/v1/signup) or a custom domain's base path, so only the end is anchored.
    """
    return "(?:" + "|".join(re.escape(p) for p in paths) + ")/?$"


def _method_is(method: str) -> wafv2.CfnWebACL.StatementProperty:
    return wafv2.CfnWebACL.StatementProperty(
        byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(method={}),
            positional_constraint="EXACTLY",
            search_string=method,
            text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")],
        )
    )


def _path_matches(paths: list[str]) -> wafv2.CfnWebACL.StatementProperty:
    return wafv2.CfnWebACL.StatementProperty(
        regex_match_statement=wafv2.CfnWebACL.RegexMatchStatementProperty(
            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
            regex_string=path_regex(paths),
            # %2F and /./ or // in a path still reach the same route.
            text_transformations=[
                wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="URL_DECODE"),
                wafv2.CfnWebACL.TextTransformationProperty(priority=1, type="NORMALIZE_PATH"),
            ],
        )
    )


def through_the_distribution(secret: str) -> wafv2.CfnWebACL.StatementProperty:
    """The request carries the web app's distribution's origin secret (`secret`: a dynamic reference)."""
    return wafv2.CfnWebACL.StatementProperty(
        byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(single_header={"Name": ORIGIN_VERIFY_HEADER}),
            positional_constraint="EXACTLY",
            search_string=secret,
            text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")],
        )
    )


def _all_of(*statements: wafv2.CfnWebACL.StatementProperty) -> wafv2.CfnWebACL.StatementProperty:
    return wafv2.CfnWebACL.StatementProperty(and_statement=wafv2.CfnWebACL.AndStatementProperty(statements=list(statements)))


def _not(statement: wafv2.CfnWebACL.StatementProperty) -> wafv2.CfnWebACL.StatementProperty:
    return wafv2.CfnWebACL.StatementProperty(not_statement=wafv2.CfnWebACL.NotStatementProperty(statement=statement))


def code_sending_requests() -> wafv2.CfnWebACL.StatementProperty:
    by_method: dict[str, list[str]] = {}
    for method, path in CODE_SENDING_ROUTES:
        by_method.setdefault(method, []).append(path)
    each = [
        wafv2.CfnWebACL.StatementProperty(and_statement=wafv2.CfnWebACL.AndStatementProperty(statements=[_method_is(method), _path_matches(paths)]))
        for method, paths in by_method.items()
    ]
    return each[0] if len(each) == 1 else wafv2.CfnWebACL.StatementProperty(or_statement=wafv2.CfnWebACL.OrStatementProperty(statements=each))


def build(stack: HuiyuanStack) -> Firewall:
    stage = stack.stage
    name = f"huiyuan-{stage.name}"
    window = stage.waf_window_seconds
    rule_metrics: dict[str, str] = {}  # also numbers the rules: each rule's priority is its place in the list

    def visibility(rule: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
        metric = f"{name}-{rule}"
        rule_metrics[rule] = metric
        return wafv2.CfnWebACL.VisibilityConfigProperty(cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True)

    status, _, _ = problem(RATE_LIMITED)
    block_with_429 = wafv2.CfnWebACL.RuleActionProperty(
        block=wafv2.CfnWebACL.BlockActionProperty(
            custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                response_code=status,
                custom_response_body_key=TOO_MANY_REQUESTS_BODY,
                response_headers=[
                    wafv2.CfnWebACL.CustomHTTPHeaderProperty(name="Retry-After", value=str(window)),
                    # The web front end can read the answer (as API Gateway's own answers allow).
                    wafv2.CfnWebACL.CustomHTTPHeaderProperty(name="Access-Control-Allow-Origin", value=stage.cors_allow_origin),
                ],
            )
        )
    )

    def per_address(rule: str, limit: int, scope: wafv2.CfnWebACL.StatementProperty, *, by_viewer: bool) -> wafv2.CfnWebACL.RuleProperty:
        # By the viewer address the distribution forwards (only in `scope`, which requires its secret), or
        # by the request's own address. A forwarded header that is not an address (never, from our
        # function) leaves the request uncounted here rather than blocking it.
        forwarded = wafv2.CfnWebACL.ForwardedIPConfigurationProperty(header_name=VIEWER_ADDRESS_HEADER, fallback_behavior="NO_MATCH")
        return wafv2.CfnWebACL.RuleProperty(
            name=rule,
            priority=len(rule_metrics),
            action=block_with_429,
            statement=wafv2.CfnWebACL.StatementProperty(
                rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                    limit=limit,
                    aggregate_key_type="FORWARDED_IP" if by_viewer else "IP",
                    forwarded_ip_config=forwarded if by_viewer else None,
                    evaluation_window_sec=window,
                    scope_down_statement=scope,
                )
            ),
            visibility_config=visibility(rule),
        )

    def aws_managed(rule_group: str) -> wafv2.CfnWebACL.RuleProperty:
        return wafv2.CfnWebACL.RuleProperty(
            name=rule_group,
            priority=len(rule_metrics),
            override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
            statement=wafv2.CfnWebACL.StatementProperty(
                managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(vendor_name="AWS", name=rule_group)
            ),
            visibility_config=visibility(rule_group),
        )

    web_app = through_the_distribution(stack.origin_secret.secret_value.unsafe_unwrap())
    rules = [
        per_address("code-requests-per-ip", stage.waf_code_requests_per_ip, _all_of(code_sending_requests(), _not(web_app)), by_viewer=False),
        per_address("code-requests-per-viewer", stage.waf_code_requests_per_ip, _all_of(code_sending_requests(), web_app), by_viewer=True),
    ]
    if stage.waf_requests_per_ip is not None:
        rules.append(per_address("requests-per-ip", stage.waf_requests_per_ip, _not(web_app), by_viewer=False))
        rules.append(per_address("requests-per-viewer", stage.waf_requests_per_ip, web_app, by_viewer=True))
    # Addresses Amazon's threat intelligence saw in bots and reconnaissance (SMS pumping runs on them),
    # and request patterns of known exploits (Log4j, exploitable paths): 25 and 200 WCU, few false positives.
    rules.append(aws_managed("AWSManagedRulesAmazonIpReputationList"))
    rules.append(aws_managed("AWSManagedRulesKnownBadInputsRuleSet"))

    web_acl = wafv2.CfnWebACL(
        stack,
        "WebAcl",
        name=name,
        scope="REGIONAL",
        description=f"Huiyuan {stage.name} API: rate limits per client address, AWS managed rules",
        default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
        custom_response_bodies={
            TOO_MANY_REQUESTS_BODY: wafv2.CfnWebACL.CustomResponseBodyProperty(
                content_type="APPLICATION_JSON", content=json.dumps(problem(RATE_LIMITED)[2], ensure_ascii=False)
            )
        },
        rules=rules,
        visibility_config=wafv2.CfnWebACL.VisibilityConfigProperty(cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True),
    )
    # "RestAPI.Stage" is SAM's reference to the stage it generates: the association waits for it.
    api = stack.chalice.get_resource("RestAPI")
    api_stage_arn = cdk.Fn.join(
        "", [f"arn:{stack.partition}:apigateway:{stack.region}::/restapis/", api.ref, "/stages/", cdk.Fn.ref("RestAPI.Stage")]
    )
    wafv2.CfnWebACLAssociation(stack, "WebAclAssociation", resource_arn=api_stage_arn, web_acl_arn=web_acl.attr_arn)

    # Blocked requests only (addresses, paths, rule), the caller's credentials, the distribution's origin
    # secret and query strings (operators look members up by phone) redacted: what an operator needs to
    # tell a flood from a campaign.
    log_group = stack.log_group("WebAclLogs", log_group_name=f"aws-waf-logs-{name}")  # WAF writes only to aws-waf-logs-*
    wafv2.CfnLoggingConfiguration(
        stack,
        "WebAclLogging",
        resource_arn=web_acl.attr_arn,
        log_destination_configs=[
            stack.format_arn(
                service="logs", resource="log-group", resource_name=log_group.log_group_name, arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME
            )
        ],
        redacted_fields=[
            wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": "authorization"}),
            wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": "x-api-key"}),
            wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": ORIGIN_VERIFY_HEADER}),
            wafv2.CfnLoggingConfiguration.FieldToMatchProperty(query_string={}),
        ],
        logging_filter={
            "DefaultBehavior": "DROP",
            "Filters": [{"Behavior": "KEEP", "Requirement": "MEETS_ANY", "Conditions": [{"ActionCondition": {"Action": "BLOCK"}}]}],
        },
    )
    return Firewall(web_acl=web_acl, name=name, rule_metrics=rule_metrics, log_group=log_group)
