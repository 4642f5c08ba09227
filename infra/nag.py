"""cdk-nag's AwsSolutions findings this stack accepts, each with its reason.

Every acknowledgement names the rule and, for IAM findings, the exact wildcard
or managed policy it accepts, on the one construct that holds it: a new
wildcard anywhere else still fails the checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk
from constructs import IConstruct

if TYPE_CHECKING:
    from .stack import HuiyuanStack

# The custom resource provider CDK adds for AwsCustomResource (the rules seed).
CUSTOM_RESOURCE_PROVIDER_ID = "AWS679f53fac002430cb0da5b7982bd2287"

FUNCTION_WILDCARD = (
    "The only wildcard resource the functions hold, for two services that accept nothing else: sns:Publish to a "
    "phone number (SMS) has no resource ARN, so SNS authorises it on '*' only; X-Ray's PutTraceSegments and "
    "PutTelemetryRecords have no resource-level permissions. Every other statement names its table, indexes, "
    "queue, parameter, secret, email identity or log group."
)


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))


def suppress(stack: HuiyuanStack) -> None:
    for role in stack.roles.values():
        acknowledge(role, "AwsSolutions-IAM5[Resource::*]", FUNCTION_WILDCARD)
    exports = stack.get_logical_id(stack.exports.node.default_child)  # type: ignore[arg-type]  # the bucket's CfnBucket
    for logical_id, role in stack.roles.items():
        if "exports" in stack.capabilities[logical_id]:
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::<{exports}.Arn>/product-codes/*]",
                "Object keys under one prefix of the exports bucket: each batch of product codes is a new object "
                "(product-codes/<batch_id>.csv) the function writes and pre-signs a download of; no other bucket or prefix.",
            )
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::<{exports}.Arn>/bulk/*]",
                "Object keys under one prefix of the exports bucket: each bulk grant's uploaded file and each export is a new "
                "object (bulk/grants/<batch_id>/..., bulk/exports/<export_id>...) the function writes, reads and pre-signs.",
            )
    imports = stack.get_logical_id(stack.imports.node.default_child)  # type: ignore[arg-type]  # the bucket's CfnBucket
    for logical_id, role in stack.roles.items():
        if "imports" in stack.capabilities[logical_id]:
            prefixes = (("uploads/", "the files operators upload (uploads/<import_id>.<csv|jsonl>)"), ("results/", "the failed rows' files"))
            for prefix, what in prefixes:
                acknowledge(
                    role,
                    f"AwsSolutions-IAM5[Resource::<{imports}.Arn>/{prefix}*]",
                    f"Object keys under one prefix of the imports bucket: {what}, one per bulk import, named by its id.",
                )

    table = stack.get_logical_id(stack.table.node.default_child)  # type: ignore[arg-type]  # the table's CfnTable
    bucket = stack.get_logical_id(stack.analytics.bucket.node.default_child)  # type: ignore[arg-type]  # the bucket's CfnBucket
    region = "<AWS::Region>" if cdk.Token.is_unresolved(stack.region) else stack.region
    glue_tables = f"arn:<AWS::Partition>:glue:{region}:<AWS::AccountId>:table/{stack.analytics.database_name}/*"
    analytics_wildcards = {
        f"Resource::<{table}.Arn>/export/*": "The table's exports (DescribeExport): each refresh starts a new export whose id DynamoDB makes.",
        **{
            f"Resource::<{bucket}.Arn>/{prefix}*": f"Objects under {prefix} of the analytics bucket only: each refresh writes new ones "
            "(the export, member_facts, KPI snapshots, Athena results, audiences), named by its export id."
            for prefix in ("exports/", "derived/", "kpis/", "athena-results/", "audiences/")
        },
        f"Resource::{glue_tables}": "Tables of the analytics Glue database only: each refresh creates the export's and member_facts' tables.",
    }
    for logical_id, role in stack.roles.items():
        if stack.analytics.bucket_arn_granted(logical_id):
            for applies_to, reason in analytics_wildcards.items():
                acknowledge(role, f"AwsSolutions-IAM5[{applies_to}]", reason)

    region_text = stack.stage.region
    for logical_id, role in stack.roles.items():
        if "messages" not in stack.capabilities[logical_id]:
            continue
        for platform_arn in stack.push_applications.values():
            app = platform_arn.split(":app/", 1)[1] if ":app/" in platform_arn else ""
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sns:{region_text}:<AWS::AccountId>:endpoint/{app}/*]",
                "The device endpoints of one of this stage's own SNS platform applications (push, docs/push.md): SNS names "
                "each endpoint with an id it makes when a device registers, so they can only be named by this prefix.",
            )
    for platform in ("Apns", "Fcm"):
        application = stack.node.try_find_child(f"PushApplication{platform}")
        if application is not None:
            acknowledge(
                application.node.find_child("CustomResourcePolicy"),
                "AwsSolutions-IAM5[Resource::*]",
                "sns:CreatePlatformApplication has no resource-level permissions: '*' is the only resource SNS accepts for "
                "it. Updating and deleting the application are allowed on its own ARN only.",
            )

    if stack.stage.manage_api_gateway_account:
        acknowledge(
            stack.node.find_child("ApiGatewayLogsRole"),
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "API Gateway's account-level logging role writes to log groups API Gateway names itself "
            "(API-Gateway-Execution-Logs_<api>/<stage>); AWS's managed policy for exactly that is the documented one.",
        )

    provider = stack.node.try_find_child(CUSTOM_RESOURCE_PROVIDER_ID)
    if provider is not None:
        acknowledge(
            provider,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "CDK's AwsCustomResource provider (seeds the rules parameter once, sets the SMS spend limit) writes its own "
            "logs with the basic execution policy; its only other permissions are ssm:PutParameter on the rules parameter "
            "and sns:SetSMSAttributes.",
        )
        acknowledge(
            provider,
            "AwsSolutions-L1",
            "The AwsCustomResource provider's Node.js runtime is chosen by aws-cdk-lib (pinned in infra/requirements.txt) "
            "and moves with its upgrades.",
        )

    sms_spend_limit = stack.node.try_find_child("SmsMonthlySpendLimit")
    if sms_spend_limit is not None:
        acknowledge(
            sms_spend_limit.node.find_child("CustomResourcePolicy"),
            "AwsSolutions-IAM5[Resource::*]",
            "sns:SetSMSAttributes sets account settings (here the SMS MonthlySpendLimit) and has no resource-level "
            "permissions: '*' is the only resource SNS accepts for it. It is the only action in this policy.",
        )

    acknowledge(
        stack.failed_invocations,
        "AwsSolutions-SQS3",
        "This queue is itself a dead letter: Lambda's on-failure destination for the scheduled job functions. "
        "Nothing consumes it (an operator reads it, docs/operations.md 'job-invocations-failed'), so no message "
        "can fail to be processed there; a message waits up to 14 days and its depth alarms.",
    )
    acknowledge(
        stack.stream_failures,
        "AwsSolutions-SQS3",
        "This queue is itself a dead letter: the on-failure destination of the table stream's event source mapping "
        "(business events). Nothing consumes it (an operator reads it); a message waits up to 14 days and its depth alarms.",
    )
    acknowledge(
        stack.signing_key,
        "AwsSolutions-SMG4",
        "Rotating the token signing key signs every member out and voids verification codes in flight, so it is "
        "rotated by hand at a chosen time (docs/operations.md, 'Rotate the signing key'), not on a schedule.",
    )
    acknowledge(
        stack.origin_secret,
        "AwsSolutions-SMG4",
        "CloudFront and the WAF take the origin secret only when CloudFormation deploys (a dynamic reference), so a "
        "scheduled rotation would leave them sending and checking the old value: it is rotated by a new generation and a "
        "deploy (infra/stages.py origin_secret_generation; docs/operations.md, 'Rotate the origin secret').",
    )
    if stack.sms_credentials is not None:
        acknowledge(
            stack.sms_credentials,
            "AwsSolutions-SMG4",
            "The SMS provider's keys are issued by Alibaba Cloud or Tencent Cloud, not by AWS: the brand rotates them in "
            "the provider's console and puts the new ones here (docs/sms-providers.md); no Lambda can rotate them.",
        )
    acknowledge(
        stack.wechat_pay_secret,
        "AwsSolutions-SMG4",
        "The WeChat Pay keys are issued by WeChat Pay's merchant platform, not by AWS: the merchant key pair, the "
        "APIv3 key and the platform public key are changed there first and then put into the secret by hand "
        "(docs/wechat-pay.md, 'Changing a key'); a rotation Lambda cannot make them.",
    )
    if stack.wechat_app_secrets is not None:
        acknowledge(
            stack.wechat_app_secrets,
            "AwsSolutions-SMG4",
            "The WeChat AppSecrets are issued by WeChat's consoles (mini-program and official account), not by AWS: the "
            "brand resets one there and puts the new value here (docs/wechat.md, 'In the cloud'); a rotation Lambda cannot.",
        )
    for path in stack.stage.admin_invoke_paths:
        acknowledge(
            stack.admin_invoke_policy,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:{stack.stage.region}:<AWS::AccountId>:<RestAPI>/{path}]",
            "The operators' permission to call the operator API: any method of any path under /v1/admin on this "
            "stage's API; the API and its stage are named.",
        )
