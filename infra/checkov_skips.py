"""checkov's findings this stack accepts, each with its reason (the scan: tests/infra/test_scan.py).

The stack writes each acceptance into the template as checkov reads it (a resource's
`Metadata.checkov.skip`), on the resources it names and no others, so anyone who runs
checkov over a synthesized template sees the same result and the reasons, and a new
resource of the same type still fails the scan until somebody decides about it. The
data-key findings are accepted only while the stage keeps AWS's keys for data
(`customer_managed_data_key` off); with it on they pass.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import aws_cdk as cdk
from constructs import IConstruct

from .nag import CUSTOM_RESOURCE_PROVIDER_ID

if TYPE_CHECKING:
    from .stack import HuiyuanStack

NO_VPC = (
    "The functions call only AWS service APIs (DynamoDB, SQS, SNS, SES, SSM, Secrets Manager, X-Ray) over TLS, "
    "authorised by IAM; nothing they reach lives in a network. A VPC would need NAT gateways or seven interface "
    "endpoints per zone (tens of dollars a month each) and add ENI set-up to cold starts, protecting nothing IAM does not."
)
PROVIDER_ONLY_AT_DEPLOY = (
    "CDK's AwsCustomResource provider runs only while CloudFormation deploys this stack (the rules seed, the SMS spend "
    "limit), invoked synchronously by CloudFormation: a failure fails and rolls back the deploy. It calls two AWS APIs, "
    "reaches no network resource, and runs once or twice per deploy, so a VPC, a dead-letter queue or a reservation adds nothing."
)
SYNCHRONOUS_NO_DLQ = (
    "Invoked synchronously by API Gateway: the caller receives the error and there is no event left to keep. A function "
    "dead-letter queue applies only to asynchronous invocations."
)
WORKER_NO_DLQ = (
    "Invoked by its SQS event source mapping, which is synchronous: a unit that fails 5 receives goes to the queue's own "
    "dead-letter queue (huiyuan-<stage>-jobs-dlq, alarm jobs-dlq-not-empty). A function dead-letter queue applies only to "
    "asynchronous invocations."
)
JOB_ON_FAILURE_DESTINATION = (
    "Invoked asynchronously by its schedule, with an on-failure destination instead of a dead-letter queue "
    "(EventInvokeConfig -> huiyuan-<stage>-failed-invocations, alarm job-invocations-failed): AWS's recommended successor, "
    "which also records the error. checkov 3.3.30 reads only the DeadLetterQueue property."
)
API_NO_RESERVATION = (
    "Bounded at the edge rather than by a reservation: API Gateway stage throttling (throttle_rate/throttle_burst) and "
    "the WAF rate rules per address (infra/stages.py). A reservation would cap member traffic at a fixed number and take "
    "it from the account pool; the functions the table needs protecting from, the jobs, are reserved."
)
AUTHORIZER_NO_RESERVATION = (
    "Called by API Gateway only for requests already throttled at the stage, once per token per 30 s (cached); a "
    "reservation would only add a way to refuse valid members."
)
ENVIRONMENT_HOLDS_NO_SECRETS = (
    "The environment holds names only (table, queue, parameter paths, sender address, stage, shard count); the signing key "
    "and the CloudFront origin secret are read at run time from Secrets Manager. Lambda encrypts environment variables at "
    "rest with an AWS-managed key; a customer-managed one would add a KMS dependency to every cold start and protect no secret."
)
NO_API_CACHE = (
    "Nearly every answer depends on the caller (member token, merchant key, operator) or must be current (balances, "
    "codes, stock): a stage cache would risk serving one member's data to another and stale balances, and bills per "
    "hour. The two public reads (GET /v1/program, /v1/rewards) are small."
)
SMS_HAS_NO_ARN = (
    "sns:Publish to a phone number (SMS) has no resource ARN, so SNS authorises it only on '*'. The same policy denies "
    "sns:Publish on every topic ARN (statement NoTopics), so '*' allows SMS and nothing else. Every other write in the "
    "policy names its table, queue, parameter or email identity."
)
AWS_KEYS_FOR_DATA = (
    "Encrypted at rest with AWS's key for the service. A customer-managed key is the stage setting "
    "customer_managed_data_key (infra/stages.py), off by default: that key then gates every read and write (a disabled "
    "key or broken key policy stops the program) and adds KMS cost; brands whose regulators ask for one turn it on."
)
LOGS_WITH_AWS_KEYS = (
    "CloudWatch Logs encrypts every log group at rest with AWS-owned keys, and these logs hold no secrets or phone "
    "numbers by design (access logs without bodies, WAF logs redacted). customer_managed_data_key (infra/stages.py) "
    "puts them under the stage key for brands whose regulators ask for one."
)


def write(stack: HuiyuanStack) -> None:
    # By construct path: jsii may hand out a new Python object for the same resource.
    resources: dict[str, cdk.CfnResource] = {}
    accepted: dict[str, dict[str, str]] = defaultdict(dict)

    def accept(construct: IConstruct, check: str, reason: str) -> None:
        resource = construct if isinstance(construct, cdk.CfnResource) else construct.node.default_child
        assert isinstance(resource, cdk.CfnResource), construct.node.path
        resources[resource.node.path] = resource
        accepted[resource.node.path][check] = reason

    for function in stack.functions:
        resource = stack.chalice.get_resource(function.logical_id)
        accept(resource, "CKV_AWS_117", NO_VPC)
        accept(resource, "CKV_AWS_173", ENVIRONMENT_HOLDS_NO_SECRETS)
        if function.kind == "api":
            accept(resource, "CKV_AWS_115", API_NO_RESERVATION)
            accept(resource, "CKV_AWS_116", SYNCHRONOUS_NO_DLQ)
        elif function.kind == "authorizer":
            accept(resource, "CKV_AWS_115", AUTHORIZER_NO_RESERVATION)
            accept(resource, "CKV_AWS_116", SYNCHRONOUS_NO_DLQ)
        elif function.kind == "worker":
            accept(resource, "CKV_AWS_116", WORKER_NO_DLQ)
        elif function.kind == "job":
            accept(resource, "CKV_AWS_116", JOB_ON_FAILURE_DESTINATION)
        elif function.kind == "events":
            accept(
                resource,
                "CKV_AWS_116",
                "Invoked by the table stream's event source mapping, whose on-failure destination (a queue that alarms) "
                "keeps what fails; a function DLQ applies to asynchronous invocations only.",
            )
            accept(
                resource, "CKV_AWS_115", "One invocation per stream shard at a time (the mapping's own concurrency): a reservation would add nothing."
            )
        elif function.kind == "webhooks":
            accept(
                resource,
                "CKV_AWS_116",
                "Invoked by its SQS mapping: the webhook queue's redrive policy (a DLQ that alarms) keeps what fails; "
                "failed deliveries are dead-lettered by the worker.",
            )
            accept(resource, "CKV_AWS_115", "Bounded by its SQS mapping's batch and concurrency: deliveries wait in the queue, not in the function.")
        if not stack.stage.reserve_job_concurrency and function.kind in ("job", "worker"):
            accept(
                resource,
                "CKV_AWS_115",
                "This stage reserves no concurrency (reserve_job_concurrency off in infra/stages.py: the account's concurrency "
                "quota cannot spare it yet); the worker stays bounded by its SQS mapping's maximum concurrency.",
            )
        if "messages" in stack.capabilities[function.logical_id]:
            accept(stack.roles[function.logical_id], "CKV_AWS_111", SMS_HAS_NO_ARN)

    provider = stack.node.try_find_child(CUSTOM_RESOURCE_PROVIDER_ID)
    if provider is not None:
        for check in ("CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117"):
            accept(provider, check, PROVIDER_ONLY_AT_DEPLOY)

    accept(stack.chalice.get_resource("RestAPI"), "CKV_AWS_120", NO_API_CACHE)

    if stack.data_key is None:
        accept(stack.table, "CKV_AWS_119", AWS_KEYS_FOR_DATA)
        accept(stack.signing_key, "CKV_AWS_149", AWS_KEYS_FOR_DATA)
        accept(stack.origin_secret, "CKV_AWS_149", AWS_KEYS_FOR_DATA)
        if stack.sms_credentials is not None:
            accept(stack.sms_credentials, "CKV_AWS_149", AWS_KEYS_FOR_DATA)
        accept(stack.wechat_pay_secret, "CKV_AWS_149", AWS_KEYS_FOR_DATA)
        if stack.wechat_app_secrets is not None:
            accept(stack.wechat_app_secrets, "CKV_AWS_149", AWS_KEYS_FOR_DATA)
        for log_group in stack.stage_log_groups:
            accept(log_group, "CKV_AWS_158", LOGS_WITH_AWS_KEYS)

    for path, checks in accepted.items():
        resources[path].add_metadata("checkov", {"skip": [{"id": check, "comment": reason} for check, reason in sorted(checks.items())]})
