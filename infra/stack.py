"""One stage of Huiyuan: the Chalice app and everything its code touches.

The table is built from `chalicelib.store.table` (keys, TTL attribute, INDEXES),
the queues and parameter names from the stage's environment in
`.chalice/config.json`, the rules' first value from `chalicelib.rules.DEFAULT_RULES`,
and the gateway responses' bodies from `chalicelib.errors.problem`: the
infrastructure has no copy of its own of anything the code defines.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import custom_resources as cr
from constructs import Construct

from chalicelib.api.problems import problem
from chalicelib.domain.errors import Forbidden, HuiyuanError, NotFound, TemporarilyUnavailable, Unauthorized
from chalicelib.domain.rules import DEFAULT_RULES
from chalicelib.store import job_queue
from chalicelib.store import table as table_definition

from . import analytics, chalice_app, checkov_skips, firewall, monitoring, nag, web
from .chalice_app import FunctionInfo
from .stages import SECRETS_MANAGER_REFERENCE, Stage

# What each kind of function may do. The code's AWS calls, by function:
#   api         DynamoDB items and transactions, the rules (read; the admin API writes them),
#               the signing key (tokens, code digests), the web app's CloudFront origin secret
#               (api/caller_address.py), SMS and email, the exports bucket (a batch of product
#               codes for the printer: written, then fetched by the URL it pre-signs)
#   authorizer  the signing key only: it checks the token; the member routes refuse a closed
#               membership or a signed-out token on their own read (usecases/sessions.py)
#   job         DynamoDB (the run record; inline and dry runs do the units themselves),
#               the rules, sending units to the jobs queue, SMS and email (inline runs)
#   worker      as a job, plus receiving from the jobs queue (a failed member is re-queued alone),
#               and the exports bucket (the parts of a big batch of product codes, and its file)
#   imports     (api, worker) the bulk imports' bucket: the API pre-signs uploads and reads a file's
#               header and the result file; the worker reads uploads by ranged GETs and writes results
CAPABILITIES: dict[str, tuple[str, ...]] = {
    # queue_send: operators' requests that hand their work to the jobs queue (a campaign's launch, a
    # segment survey's invitations, bulk tags, an analytics refresh's check, a big product-code
    # batch); webhooks_send: an operator's replay of dead-lettered deliveries.
    # wechat_pay: the merchant's WeChat Pay secret (top-up orders, payment notifications: docs/wechat-pay.md).
    # (wechat_apps, the WeChat app secrets, goes with "messages" when the stage has WeChat: see _configure_function.)
    "api": (
        "table",
        "rules_read",
        "rules_write",
        "signing_key",
        "origin_secret",
        "messages",
        "exports",
        "queue_send",
        "webhooks_send",
        "imports",
        "wechat_pay",
    ),
    "authorizer": ("signing_key",),
    "job": ("table", "rules_read", "queue_send", "messages", "report_failure"),
    "worker": ("table", "rules_read", "queue_send", "queue_receive", "messages", "exports", "imports"),
    # The table's stream -> events on the bus, and one webhook delivery per subscribed endpoint.
    "events": ("stream_read", "webhooks_read", "bus_put", "webhooks_send", "stream_failure"),
    # Webhook deliveries: the endpoint's status and dead letters, the signing key (secrets are
    # derived from it), a failed attempt queued again.
    "webhooks": ("table", "rules_read", "signing_key", "webhooks_send", "webhooks_receive"),
}
# Days the imports bucket keeps an upload or a result file (infra: lifecycle rule).
IMPORT_KEPT_DAYS = 7
# Reserved concurrency of each scheduled job function (infra/stages.py, reserve_job_concurrency): one run at a time.
JOB_CONCURRENCY = 1
# Jobs that never send a message, even run inline (reconcile only reads the books).
SILENT_JOBS = ("reconcile", "wechat-pay-sweep")
# Jobs that ask WeChat Pay (usecases/wechat_pay_sweep.py): they alone of the jobs read its secret,
# and do their units in their own function (JobSpec.inline), never through the queue worker.
WECHAT_PAY_JOBS = ("wechat-pay-sweep",)

# What each capability asks of the stage key (KMS), through which service. The table and the
# signing key use it only with `customer_managed_data_key`; the queues always.
KEY_USE: dict[str, tuple[str, tuple[str, ...]]] = {
    "table": ("dynamodb", ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo")),
    "signing_key": ("secretsmanager", ("kms:Decrypt",)),
    "origin_secret": ("secretsmanager", ("kms:Decrypt",)),
    "sms_credentials": ("secretsmanager", ("kms:Decrypt",)),
    "wechat_pay": ("secretsmanager", ("kms:Decrypt",)),
    "wechat_apps": ("secretsmanager", ("kms:Decrypt",)),
    "queue_send": ("sqs", ("kms:GenerateDataKey", "kms:Decrypt")),
    "queue_receive": ("sqs", ("kms:Decrypt",)),
    "report_failure": ("sqs", ("kms:GenerateDataKey", "kms:Decrypt")),
    "webhooks_send": ("sqs", ("kms:GenerateDataKey", "kms:Decrypt")),
    "webhooks_receive": ("sqs", ("kms:Decrypt",)),
    "stream_failure": ("sqs", ("kms:GenerateDataKey", "kms:Decrypt")),
    "stream_read": ("dynamodb", ("kms:Decrypt", "kms:DescribeKey")),
}
DATA_CAPABILITIES = ("table", "signing_key", "origin_secret", "sms_credentials", "wechat_pay", "wechat_apps", "stream_read")
# Capabilities granted once the resource they name exists (the exports bucket comes after the functions).
DEFERRED_CAPABILITIES = ("exports", "imports")

# The item actions the code uses (TransactWriteItems is authorised per item as
# Put/Update/Delete/ConditionCheck). No Scan (but see SCANNING_FUNCTIONS), no table management.
TABLE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
)

# The reconcile job reads every member by a parallel Scan of the table (usecases/reconcile.py):
# the worker does its units, its own function its dry and inline runs. Nothing else scans,
# and nothing scans an index.
SCANNING_FUNCTIONS = ("reconcile", "job-worker")

# API Gateway's own answers, as problem+json like the app's (localstage/gateway.py
# plays the same part locally).
GATEWAY_PROBLEMS: dict[str, HuiyuanError] = {
    "UNAUTHORIZED": Unauthorized("A valid bearer token is required"),
    "ACCESS_DENIED": Forbidden("Not allowed"),
    # Also what an unsigned request to an IAM-authorised (/v1/admin) route gets: it is not told the route exists.
    "MISSING_AUTHENTICATION_TOKEN": NotFound("No such route"),
    # The member-token authorizer failed (its signing-key read throttled or unanswered): safe to retry.
    "AUTHORIZER_FAILURE": TemporarilyUnavailable("Temporarily unavailable, retry shortly"),
}

LOG_RETENTION = {
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
}

ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "time": "$context.requestTime",
        "ip": "$context.identity.sourceIp",
        "method": "$context.httpMethod",
        "resource": "$context.resourcePath",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "latencyMs": "$context.responseLatency",
        "integrationLatencyMs": "$context.integrationLatency",
        "integrationStatus": "$context.integrationStatus",
        "errorType": "$context.error.responseType",
        "authorizerError": "$context.authorizer.error",
        "principal": "$context.authorizer.principalId",
        "iamUser": "$context.identity.userArn",
        "xrayTraceId": "$context.xrayTraceId",
    },
    separators=(",", ":"),
)


class HuiyuanStack(cdk.Stack):
    def __init__(self, scope: Construct, stage: Stage, *, account: str | None = None) -> None:
        # The stack's id is the stage name: the Chalice construct packages the stage its scope is named after.
        super().__init__(
            scope,
            stage.name,
            stack_name=stage.stack_name,
            env=cdk.Environment(account=account, region=stage.region),
            termination_protection=stage.production,
            description=f"Huiyuan membership and loyalty, stage {stage.name}",
        )
        self.stage = stage
        self.removal_policy = cdk.RemovalPolicy.RETAIN if stage.production else cdk.RemovalPolicy.DESTROY
        self.log_retention = LOG_RETENTION[stage.log_retention_days]
        for key, value in {"app": "huiyuan", "stage": stage.name, **stage.tags}.items():
            cdk.Tags.of(self).add(key, value)

        self.stage_log_groups: list[logs.LogGroup] = []  # every log group, by self.log_group()
        self.key = self._stage_key()
        # The key for data at rest (table, backups, logs, secret) when the stage asks for one; else AWS's keys.
        self.data_key = self.key if stage.customer_managed_data_key else None
        self.table = self._table()
        self.dlq, self.queue = self._queues()
        self.failed_invocations = self._failed_invocations_queue()
        self.event_bus, self.webhooks_dlq, self.webhooks_queue, self.stream_failures = self._event_routes()
        self.signing_key = self._signing_key()
        self.origin_secret = self._origin_secret()
        self.sms_credentials = self._sms_credentials()
        self.wechat_pay_secret = self._wechat_pay_secret()
        self.wechat_app_secrets = self._wechat_app_secrets()
        self.rules_parameter_arn = self._rules_parameter()
        self.email_identity = ses.EmailIdentity(self, "EmailSender", identity=ses.Identity.email(stage.email_sender))
        self.alarm_topic = self._alarm_topic()
        self.push_applications = self._push_applications()

        self.chalice = chalice_app.package(self, "App", stage)
        self.sam = chalice_app.sam_template(self.chalice)
        self.functions = chalice_app.functions(self.sam)
        self.function_names: dict[str, str] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}
        self.roles: dict[str, iam.Role] = {}
        self.policies: dict[str, iam.PolicyDocument] = {}
        self.capabilities: dict[str, list[str]] = {}
        for function in self.functions:
            self._configure_function(function)
        self._configure_api()
        self.firewall = firewall.build(self) if stage.web_acl else None
        self.web = web.WebApp(self)  # the member web app and the API on one CloudFront origin (infra/web.py)
        self.exports = self._exports_bucket()  # after the web app: its access logs go to the web app's log bucket
        self._grant_exports()
        self.imports = self._imports_bucket()  # bulk imports of members (store/import_files.py)
        self._grant_imports()
        self.analytics = analytics.Analytics(self)  # after the web app too (access logs)
        self.analytics.grant()
        self.admin_invoke_policy = self._admin_invoke_policy()
        if stage.set_sms_spend_limit:
            self._sms_spend_limit()

        self.dashboard, self.alarms = monitoring.build(self)
        nag.suppress(self)
        checkov_skips.write(self)

        cdk.CfnOutput(self, "TableName", value=self.table.table_name)
        cdk.CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic_arn)
        cdk.CfnOutput(self, "AdminInvokePolicyArn", value=self.admin_invoke_policy.managed_policy_arn)

    # --- data ---------------------------------------------------------------------------------

    def _table(self) -> dynamodb.Table:
        def attribute(name: str) -> dynamodb.Attribute:
            return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)

        table = dynamodb.Table(
            self,
            "Table",
            table_name=self.stage.table_name,
            partition_key=attribute(table_definition.HASH_KEY),
            sort_key=attribute(table_definition.RANGE_KEY),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=table_definition.TTL_ATTRIBUTE,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,  # business events (chalicelib/domain/events.py)
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True),
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED if self.data_key else dynamodb.TableEncryption.AWS_MANAGED,
            encryption_key=self.data_key,
            deletion_protection=self.stage.production,
            removal_policy=self.removal_policy,
        )
        # CloudFormation adds or removes one GSI per stack update: add new indexes one deploy at a time.
        for index in table_definition.INDEXES:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=attribute(index.hash_key),
                sort_key=attribute(index.range_key) if index.range_key else None,
                projection_type=dynamodb.ProjectionType[index.projection],
            )
        return table

    def _encrypted_queue(self, construct_id: str, name: str, **options: Any) -> sqs.Queue:
        """Every queue of the stage: encrypted with the stage key, TLS only."""
        return sqs.Queue(
            self, construct_id, queue_name=name, encryption=sqs.QueueEncryption.KMS, encryption_master_key=self.key, enforce_ssl=True, **options
        )

    def _queues(self) -> tuple[sqs.Queue, sqs.Queue]:
        dlq = self._encrypted_queue("JobsDeadLetterQueue", self.stage.jobs_dlq_name, retention_period=cdk.Duration.days(14))
        queue = self._encrypted_queue(
            "JobsQueue",
            self.stage.jobs_queue_name,
            visibility_timeout=cdk.Duration.seconds(6 * self.stage.worker_timeout_seconds),
            retention_period=cdk.Duration.days(4),
            # The worker knows a unit's last delivery by this count (chalicelib/jobs/runner.py).
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=job_queue.MAX_RECEIVES),
        )
        return dlq, queue

    def _event_routes(self) -> tuple[events.EventBus, sqs.Queue, sqs.Queue, sqs.Queue]:
        """The stage's event bus, the webhook delivery queue and its DLQ (a worker crashing on a
        message 5 times; failed deliveries are retried and dead-lettered by the worker itself), and
        the stream's on-failure queue (a batch the publisher failed past the mapping's retries)."""
        bus = events.EventBus(self, "EventBus", event_bus_name=self.stage.env["EVENT_BUS_NAME"])
        queue = self._encrypted_queue
        name = self.stage.env["WEBHOOKS_QUEUE_NAME"]
        dlq = queue("WebhooksDeadLetterQueue", f"{name}-dlq", retention_period=cdk.Duration.days(14))
        deliveries = queue(
            "WebhooksQueue",
            name,
            visibility_timeout=cdk.Duration.seconds(90),  # 6x the worker's 15 s timeout (10 s per POST)
            retention_period=cdk.Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=5),
        )
        failures = queue("StreamFailuresQueue", f"huiyuan-{self.stage.name}-stream-failures", retention_period=cdk.Duration.days(14))
        return bus, dlq, deliveries, failures

    def _stage_key(self) -> kms.Key:
        """The stage's customer-managed key: queues and the alarm topic always, data at rest on request."""
        key = kms.Key(
            self,
            "StageKey",
            alias=f"alias/huiyuan-{self.stage.name}",
            description=f"Huiyuan {self.stage.name}: job queues and alarm topic"
            + ("; table and backups, logs, signing-key secret" if self.stage.customer_managed_data_key else ""),
            enable_key_rotation=True,
            removal_policy=self.removal_policy,  # prod: retained; dev: scheduled for deletion (30 days) with the stack
        )
        # CloudWatch publishes alarms to the encrypted topic (the topic's own policy names this stage's alarms).
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsToTheTopic",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy, "*" is this key
            )
        )
        if self.stage.customer_managed_data_key:
            # CloudWatch Logs encrypts this account's log groups in this region with it.
            key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="CloudWatchLogsGroups",
                    principals=[iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com")],
                    actions=["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey", "kms:DescribeKey"],
                    resources=["*"],
                    conditions={
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": self.format_arn(
                                service="logs", resource="log-group", resource_name="*", arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME
                            )
                        }
                    },
                )
            )
        return key

    def log_group(self, construct_id: str, **options: Any) -> logs.LogGroup:
        """A log group of this stage: its retention, its removal policy, the data key when the stage has one."""
        group = logs.LogGroup(
            self, construct_id, retention=self.log_retention, removal_policy=self.removal_policy, encryption_key=self.data_key, **options
        )
        self.stage_log_groups.append(group)
        return group

    def _failed_invocations_queue(self) -> sqs.Queue:
        """Where Lambda puts a scheduled job's invocation that failed after its retries (request, error)."""
        return self._encrypted_queue(
            "FailedInvocationsQueue", f"huiyuan-{self.stage.name}-failed-invocations", retention_period=cdk.Duration.days(14)
        )

    def _signing_key(self) -> secretsmanager.Secret:
        # Read as SSM parameter /aws/reference/secretsmanager/<name> (SIGNING_KEY_PARAMETER).
        return secretsmanager.Secret(
            self,
            "TokenSigningKey",
            secret_name=self.stage.signing_key_secret_name,
            description="HS256 key for member access tokens and verification-code digests (rotate: docs/operations.md)",
            generate_secret_string=secretsmanager.SecretStringGenerator(password_length=64, exclude_punctuation=True),
            encryption_key=self.data_key,
            removal_policy=self.removal_policy,
        )

    def _origin_secret(self) -> secretsmanager.Secret:
        """What the web app's distribution adds to its requests to the API (x-huiyuan-origin-verify) and
        the API and the WAF check before believing the viewer address it forwards (infra/web.py).
        CloudFormation resolves it into the distribution and the WAF (never in clear in the template);
        the API function reads it through SSM. Rotated by a new generation (infra/stages.py): the
        secret is then replaced, so it is destroyed with its stack or its successor, never kept."""
        return secretsmanager.Secret(
            self,
            f"CloudFrontOriginSecret{self.stage.origin_secret_generation}",
            secret_name=self.stage.origin_secret_name,
            description="Sent by the member web app's CloudFront distribution to the API: proves a request came through it (docs/web.md)",
            generate_secret_string=secretsmanager.SecretStringGenerator(password_length=48, exclude_punctuation=True),
            encryption_key=self.data_key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )

    def _sms_credentials(self) -> secretsmanager.Secret | None:
        """A template provider's keys (docs/sms-providers.md): created with a placeholder the brand
        replaces with its AccessKey (Alibaba) or SecretId/SecretKey (Tencent); never in the template."""
        if self.stage.sms_provider == "sns":
            return None
        return secretsmanager.Secret(
            self,
            "SmsProviderCredentials",
            secret_name=self.stage.sms_credentials_secret_name,
            description=f"{self.stage.sms_provider} SMS keys as JSON (docs/sms-providers.md): put the brand's own before the first SMS",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"placeholder": True}), generate_string_key="unused", exclude_punctuation=True
            ),
            encryption_key=self.data_key,
            removal_policy=self.removal_policy,
        )

    def _wechat_pay_secret(self) -> secretsmanager.Secret:
        """The merchant's WeChat Pay keys (mchid, merchant key and serial, APIv3 key, WeChat
        Pay's platform public key and its id): made with a placeholder, filled by the brand's
        operator with `aws secretsmanager put-secret-value` (docs/wechat-pay.md), never in the
        template. Only the API function reads it."""
        return secretsmanager.Secret(
            self,
            "WeChatPaySecret",
            secret_name=f"huiyuan/{self.stage.name}/wechat-pay",
            description="WeChat Pay API v3 merchant keys, as JSON (docs/wechat-pay.md)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template='{"mchid":"unset"}',  # noqa: S106 - a placeholder, not a key
                generate_string_key="placeholder",
                exclude_punctuation=True,
            ),
            encryption_key=self.data_key,
            removal_policy=self.removal_policy,
        )

    def _wechat_app_secrets(self) -> secretsmanager.Secret | None:
        """The WeChat apps' secrets (docs/wechat.md, "In the cloud"), JSON {appid: app secret}: made
        with a placeholder the brand replaces, never in the template; none when the stage has no
        WeChat app (sign-in then answers 404 wechat_not_configured)."""
        if not self.stage.wechat_configured:
            return None
        return secretsmanager.Secret(
            self,
            "WeChatAppSecrets",
            secret_name=self.stage.wechat_secrets_secret_name,
            description="WeChat mini-program / official account AppSecrets as JSON {appid: secret} (docs/wechat.md)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"placeholder": True}), generate_string_key="unused", exclude_punctuation=True
            ),
            encryption_key=self.data_key,
            removal_policy=self.removal_policy,
        )

    @property
    def wechat_secrets_parameter(self) -> str:
        return SECRETS_MANAGER_REFERENCE + self.stage.wechat_secrets_secret_name

    @property
    def sms_credentials_parameter(self) -> str:
        return SECRETS_MANAGER_REFERENCE + self.stage.sms_credentials_secret_name

    @property
    def origin_secret_parameter(self) -> str:
        return SECRETS_MANAGER_REFERENCE + self.stage.origin_secret_name

    def _rules_parameter(self) -> str:
        """Seed the rules parameter with the repo's defaults once; never overwrite it.

        Operators (and PUT /v1/admin/rules) own the live value. A CloudFormation
        AWS::SSM::Parameter would put the template's value back on any deploy that
        changed DEFAULT_RULES, so the stack writes it only when it is absent.
        """
        name = self.stage.rules_parameter
        arn = self.parameter_arn(name)
        document = DEFAULT_RULES.model_dump_json(indent=2)
        call = cr.AwsSdkCall(
            service="SSM",
            action="putParameter",
            parameters={
                "Name": name,
                "Value": document,
                "Type": "String",
                "Tier": "Advanced" if len(document.encode()) > 4096 else "Standard",
                "Overwrite": False,
                "Description": "Huiyuan program rules (JSON, chalicelib/rules.py); read with a cache, validated before use",
            },
            physical_resource_id=cr.PhysicalResourceId.of(name),
            ignore_error_codes_matching="ParameterAlreadyExists",
        )
        cr.AwsCustomResource(
            self,
            "ProgramRulesSeed",
            on_create=call,
            policy=cr.AwsCustomResourcePolicy.from_statements([iam.PolicyStatement(actions=["ssm:PutParameter"], resources=[arn])]),
            install_latest_aws_sdk=False,
            log_group=self.custom_resource_logs,
        )
        return arn

    @property
    def custom_resource_logs(self) -> logs.LogGroup:
        """The log group of CDK's AwsCustomResource provider (one function for every AwsCustomResource here)."""
        found = self.node.try_find_child("ProgramRulesSeedLogs")
        if isinstance(found, logs.LogGroup):
            return found
        return self.log_group("ProgramRulesSeedLogs")

    def _sms_spend_limit(self) -> cr.AwsCustomResource:
        """Set the account's SNS SMS MonthlySpendLimit to the stage's SMS budget, on every deploy.

        Account- and region-wide: it bounds every application's SMS in the account, and the last
        stack to deploy wins (set `set_sms_spend_limit` on one stage per account). SNS refuses a
        value above the limit AWS granted the account, and the deploy then fails and rolls back.
        Deleting the stack leaves the limit as it is.
        """
        call = cr.AwsSdkCall(
            service="SNS",
            action="setSMSAttributes",
            parameters={"attributes": {"MonthlySpendLimit": str(self.stage.sms_monthly_budget_usd)}},
            physical_resource_id=cr.PhysicalResourceId.of("sns-sms-monthly-spend-limit"),
        )
        return cr.AwsCustomResource(
            self,
            "SmsMonthlySpendLimit",
            on_create=call,
            on_update=call,
            # SetSMSAttributes is an account setting: it has no resource to name.
            policy=cr.AwsCustomResourcePolicy.from_statements([iam.PolicyStatement(actions=["sns:SetSMSAttributes"], resources=["*"])]),
            install_latest_aws_sdk=False,
            log_group=self.custom_resource_logs,
        )

    def _alarm_topic(self) -> sns.Topic:
        topic = sns.Topic(
            self,
            "AlarmTopic",
            topic_name=f"huiyuan-{self.stage.name}-alarms",
            display_name=f"Huiyuan {self.stage.name} alarms",
            enforce_ssl=True,
            master_key=self.key,
        )
        # The topic has a resource policy (TLS only), so CloudWatch is allowed explicitly, for this stage's alarms.
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="StageAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": self.account},
                    "ArnLike": {
                        "aws:SourceArn": self.format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name=f"huiyuan-{self.stage.name}-*",
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                },
            )
        )
        if self.stage.alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(self.stage.alarm_email))
        return topic

    # --- push (SNS mobile push: docs/push.md) -------------------------------------------------

    # The stage's providers: the setting's platform name, the application's SNS platform, its name.
    PUSH_PLATFORMS = (("apns", "push_apns_secret"), ("fcm", "push_fcm_secret"))

    def _push_applications(self) -> dict[str, str]:
        """platform (apns | fcm) -> the ARN of this stage's SNS platform application, for each provider
        whose credentials secret the stage (or `-c push_<platform>_secret=...`) names. SNS platform
        applications have no CloudFormation resource: an SDK call makes, updates and deletes each,
        with the credentials resolved by CloudFormation from Secrets Manager (never in the template)
        and the call's data kept out of the provider's logs."""
        found: dict[str, str] = {}
        for platform, setting in self.PUSH_PLATFORMS:
            secret = self.node.try_get_context(setting) or getattr(self.stage, setting)
            if not secret:
                continue
            sns_platform = self.stage.apns_platform if platform == "apns" else "GCM"
            name = f"huiyuan-{self.stage.name}-{platform}"
            arn = self.format_arn(service="sns", resource="app", resource_name=f"{sns_platform}/{name}")

            def resolve(key: str, secret: str = secret) -> str:
                return f"{{{{resolve:secretsmanager:{secret}:SecretString:{key}}}}}"

            attributes = {"PlatformCredential": resolve("credential")}
            if platform == "apns":
                attributes["PlatformPrincipal"] = resolve("principal")
            create = cr.AwsSdkCall(
                service="SNS",
                action="createPlatformApplication",
                parameters={"Name": name, "Platform": sns_platform, "Attributes": attributes},
                physical_resource_id=cr.PhysicalResourceId.of(arn),
                logging=cr.Logging.with_data_hidden(),  # the provider never logs the resolved credentials
            )
            update = cr.AwsSdkCall(
                service="SNS",
                action="setPlatformApplicationAttributes",
                parameters={"PlatformApplicationArn": arn, "Attributes": attributes},
                physical_resource_id=cr.PhysicalResourceId.of(arn),
                logging=cr.Logging.with_data_hidden(),
            )
            delete = cr.AwsSdkCall(service="SNS", action="deletePlatformApplication", parameters={"PlatformApplicationArn": arn})
            cr.AwsCustomResource(
                self,
                f"PushApplication{platform.capitalize()}",
                on_create=create,
                on_update=update,
                on_delete=delete,
                policy=cr.AwsCustomResourcePolicy.from_statements(
                    [
                        # CreatePlatformApplication names no resource in IAM: "*" is the only one it takes.
                        iam.PolicyStatement(actions=["sns:CreatePlatformApplication"], resources=["*"]),
                        iam.PolicyStatement(actions=["sns:SetPlatformApplicationAttributes", "sns:DeletePlatformApplication"], resources=[arn]),
                    ]
                ),
                install_latest_aws_sdk=False,
                log_group=self.custom_resource_logs,
            )
            found[platform] = arn
        return found

    @property
    def push_endpoint_arns(self) -> list[str]:
        """Every device endpoint of this stage's platform applications (endpoint/<platform>/<app>/<id>)."""
        return [arn.replace(":app/", ":endpoint/", 1) + "/*" for arn in self.push_applications.values()]

    def _no_topics(self) -> iam.PolicyStatement:
        """Deny sns:Publish to topics (and to anything else with an ARN), except, in a stage with push,
        the endpoints of its own platform applications. Without push: every ARN of SNS. With push:
        NotResource those endpoints, on requests whose resource belongs to an account
        (aws:ResourceAccount present): a phone number belongs to none, so SMS is not denied."""
        if not self.push_applications:
            return iam.PolicyStatement(sid="NoTopics", effect=iam.Effect.DENY, actions=["sns:Publish"], resources=[f"arn:{self.partition}:sns:*:*:*"])
        return iam.PolicyStatement(
            sid="NoTopics",
            effect=iam.Effect.DENY,
            actions=["sns:Publish"],
            not_resources=self.push_endpoint_arns,
            conditions={"Null": {"aws:ResourceAccount": "false"}},
        )

    def _push_statements(self) -> list[iam.PolicyStatement]:
        """Least privilege for push: endpoints made under the stage's applications only, and
        published to, re-enabled and deleted on their endpoints only."""
        if not self.push_applications:
            return []
        return [
            iam.PolicyStatement(sid="RegisterDevices", actions=["sns:CreatePlatformEndpoint"], resources=list(self.push_applications.values())),
            iam.PolicyStatement(
                sid="PushToDevices",
                actions=["sns:Publish", "sns:SetEndpointAttributes", "sns:DeleteEndpoint"],
                resources=self.push_endpoint_arns,
            ),
        ]

    def parameter_arn(self, name: str) -> str:
        return self.format_arn(service="ssm", resource="parameter", resource_name=name.lstrip("/"))

    # --- functions ----------------------------------------------------------------------------

    def _statements(self, capability: str) -> list[iam.PolicyStatement]:
        table_resources = [self.table.table_arn] + [f"{self.table.table_arn}/index/{index.name}" for index in table_definition.INDEXES]
        sender = self.stage.email_sender
        email_identities = [
            self.format_arn(service="ses", resource="identity", resource_name=sender),
            self.format_arn(service="ses", resource="identity", resource_name=sender.rpartition("@")[2]),
        ]
        statements = {
            "table": [iam.PolicyStatement(sid="TableItems", actions=list(TABLE_ACTIONS), resources=table_resources)],
            "rules_read": [iam.PolicyStatement(sid="ReadRules", actions=["ssm:GetParameter"], resources=[self.rules_parameter_arn])],
            "rules_write": [iam.PolicyStatement(sid="WriteRules", actions=["ssm:PutParameter"], resources=[self.rules_parameter_arn])],
            "signing_key": [
                iam.PolicyStatement(
                    sid="ReadSigningKeyReference", actions=["ssm:GetParameter"], resources=[self.parameter_arn(self.stage.signing_key_parameter)]
                ),
                iam.PolicyStatement(sid="ReadSigningKey", actions=["secretsmanager:GetSecretValue"], resources=[self.signing_key.secret_arn]),
            ],
            "origin_secret": [
                iam.PolicyStatement(
                    sid="ReadOriginSecretReference", actions=["ssm:GetParameter"], resources=[self.parameter_arn(self.origin_secret_parameter)]
                ),
                iam.PolicyStatement(sid="ReadOriginSecret", actions=["secretsmanager:GetSecretValue"], resources=[self.origin_secret.secret_arn]),
            ],
            "wechat_pay": [
                iam.PolicyStatement(
                    sid="ReadWeChatPaySecret", actions=["secretsmanager:GetSecretValue"], resources=[self.wechat_pay_secret.secret_arn]
                ),
            ],
            "messages": [
                # SMS goes to a phone number, which has no ARN: SNS can only authorise it on "*".
                iam.PolicyStatement(sid="SendSms", actions=["sns:Publish"], resources=["*"]),
                # ...so "*" would also let the function publish to any topic or endpoint: refused, except
                # the endpoints of this stage's own platform applications (push). The deny applies to
                # anything SNS names with an account (topics, endpoints, applications); a phone number
                # has none, so SMS stays allowed.
                self._no_topics(),
                *self._push_statements(),
                iam.PolicyStatement(
                    sid="SendEmail",
                    actions=["ses:SendEmail"],
                    resources=email_identities,
                    conditions={"StringEquals": {"ses:FromAddress": sender}},
                ),
            ],
            "sms_credentials": [
                iam.PolicyStatement(
                    sid="ReadSmsCredentialsReference", actions=["ssm:GetParameter"], resources=[self.parameter_arn(self.sms_credentials_parameter)]
                ),
                iam.PolicyStatement(
                    sid="ReadSmsCredentials",
                    actions=["secretsmanager:GetSecretValue"],
                    resources=[self.sms_credentials.secret_arn if self.sms_credentials else "none"],
                ),
            ],
            "wechat_apps": [
                iam.PolicyStatement(
                    sid="ReadWeChatAppSecretsReference", actions=["ssm:GetParameter"], resources=[self.parameter_arn(self.wechat_secrets_parameter)]
                ),
                iam.PolicyStatement(
                    sid="ReadWeChatAppSecrets",
                    actions=["secretsmanager:GetSecretValue"],
                    resources=[self.wechat_app_secrets.secret_arn if self.wechat_app_secrets else "none"],
                ),
            ],
            "table_scan": [iam.PolicyStatement(sid="ScanTableToReconcile", actions=["dynamodb:Scan"], resources=[self.table.table_arn])],
            "queue_send": [iam.PolicyStatement(sid="SendJobUnits", actions=["sqs:GetQueueUrl", "sqs:SendMessage"], resources=[self.queue.queue_arn])],
            "queue_receive": [
                iam.PolicyStatement(
                    sid="ReceiveJobUnits",
                    actions=["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
                    resources=[self.queue.queue_arn],
                )
            ],
            "report_failure": [
                iam.PolicyStatement(sid="ReportFailedInvocation", actions=["sqs:SendMessage"], resources=[self.failed_invocations.queue_arn])
            ],
            "stream_read": [
                iam.PolicyStatement(
                    sid="ReadTableStream",
                    actions=["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"],
                    resources=[self.table.table_stream_arn or ""],
                )
            ],
            "webhooks_read": [iam.PolicyStatement(sid="ReadWebhookEndpoints", actions=["dynamodb:Query"], resources=[self.table.table_arn])],
            "bus_put": [iam.PolicyStatement(sid="PublishEvents", actions=["events:PutEvents"], resources=[self.event_bus.event_bus_arn])],
            "webhooks_send": [
                iam.PolicyStatement(sid="QueueDeliveries", actions=["sqs:GetQueueUrl", "sqs:SendMessage"], resources=[self.webhooks_queue.queue_arn])
            ],
            "webhooks_receive": [
                iam.PolicyStatement(
                    sid="ReceiveDeliveries",
                    actions=["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
                    resources=[self.webhooks_queue.queue_arn],
                )
            ],
            "stream_failure": [
                iam.PolicyStatement(sid="ReportFailedStreamBatch", actions=["sqs:SendMessage"], resources=[self.stream_failures.queue_arn])
            ],
        }
        return statements[capability]

    def _key_statement(self, capabilities: list[str]) -> iam.PolicyStatement | None:
        """The stage key, for what these capabilities keep encrypted with it, and only through those services."""
        uses = [KEY_USE[c] for c in capabilities if c in KEY_USE and (self.data_key is not None or c not in DATA_CAPABILITIES)]
        if not uses:
            return None
        actions = sorted({action for _, actions in uses for action in actions})
        services = sorted({f"{service}.{self.region}.amazonaws.com" for service, _ in uses})
        return iam.PolicyStatement(
            sid="UseStageKey", actions=actions, resources=[self.key.key_arn], conditions={"StringEquals": {"kms:ViaService": services}}
        )

    def _configure_function(self, function: FunctionInfo) -> None:
        name = self.stage.function_name(function.chalice_name)
        self.function_names[function.logical_id] = name
        log_group = self.log_group(f"{function.logical_id}Logs", log_group_name=f"/aws/lambda/{name}")
        self.log_groups[function.logical_id] = log_group
        statements = [
            iam.PolicyStatement(sid="WriteOwnLogs", actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]),
            # X-Ray has no resource-level permissions: "*" is the only resource it accepts.
            iam.PolicyStatement(sid="Tracing", actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"]),
        ]
        capabilities = [c for c in CAPABILITIES[function.kind] if not (c == "messages" and function.chalice_name in SILENT_JOBS)]
        if function.kind == "job" and function.chalice_name in WECHAT_PAY_JOBS:
            capabilities.append("wechat_pay")
        if "messages" in capabilities and self.sms_credentials is not None:
            capabilities.append("sms_credentials")  # a template provider's keys: who sends SMS reads them
        if "messages" in capabilities and self.wechat_app_secrets is not None:
            # The WeChat app secrets: sign-in (code2Session, OAuth, getPhoneNumber) is the API's,
            # subscription messages go out from whoever sends messages (the API, jobs, the worker).
            capabilities.append("wechat_apps")
        self.capabilities[function.logical_id] = capabilities
        for capability in capabilities:
            if capability not in DEFERRED_CAPABILITIES:
                statements += self._statements(capability)
        key_statement = self._key_statement(capabilities)
        if key_statement is not None:
            statements.append(key_statement)
        if function.chalice_name in SCANNING_FUNCTIONS:
            statements += self._statements("table_scan")
        # An inline policy is part of the role resource, so the function (and the SQS
        # event source mapping, which checks the role when created) never exists without it.
        document = iam.PolicyDocument(statements=statements)
        role = iam.Role(
            self,
            f"{function.logical_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Huiyuan {self.stage.name} {function.chalice_name} ({function.kind})",
            inline_policies={"access": document},
        )
        self.roles[function.logical_id] = role
        self.policies[function.logical_id] = document

        resource = self.chalice.get_resource(function.logical_id)
        resource.add_property_override("FunctionName", name)
        resource.add_property_override("Role", role.role_arn)
        resource.node.add_dependency(log_group)
        if "origin_secret" in capabilities:
            resource.add_property_override("Environment.Variables.ORIGIN_VERIFY_PARAMETER", self.origin_secret_parameter)
        if "messages" in capabilities:
            # The stage's platform applications, or "off" (notify/push.py): push is then not configured.
            for platform, _ in self.PUSH_PLATFORMS:
                value = self.push_applications.get(platform, "off")
                resource.add_property_override(f"Environment.Variables.PUSH_{platform.upper()}_APPLICATION", value)
            resource.add_property_override("Environment.Variables.SMS_PROVIDER", self.stage.sms_provider)
            if "sms_credentials" in capabilities:
                resource.add_property_override("Environment.Variables.SMS_CREDENTIALS_PARAMETER", self.sms_credentials_parameter)
            # WeChat's appids, or "off" when the stage has none (notify/wechat.py appid(): 404 wechat_not_configured).
            resource.add_property_override("Environment.Variables.WECHAT_MINI_PROGRAM_APPID", self.stage.wechat_mini_program_appid or "off")
            resource.add_property_override("Environment.Variables.WECHAT_OFFICIAL_ACCOUNT_APPID", self.stage.wechat_official_account_appid or "off")
            if "wechat_apps" in capabilities:
                resource.add_property_override("Environment.Variables.WECHAT_SECRETS_PARAMETER", self.wechat_secrets_parameter)
        if "wechat_pay" in capabilities:
            # WeChat Pay calls the API through the web app's distribution, which forwards /v1/*.
            resource.add_property_override("Environment.Variables.WECHAT_PAY_SECRET", self.wechat_pay_secret.secret_name)
            notify_url = f"{self.stage.cors_allow_origin.rstrip('/')}/v1/wechat-pay/notifications"
            resource.add_property_override("Environment.Variables.WECHAT_PAY_NOTIFY_URL", notify_url)
        if function.kind == "job":
            resource.add_property_override("Timeout", self.stage.job_timeout_seconds)
            # The schedule invokes it asynchronously: a run that still fails after Lambda's retries
            # (or stays throttled) lands in the failed-invocations queue, which alarms.
            resource.add_property_override(
                "EventInvokeConfig",
                {
                    "MaximumRetryAttempts": self.stage.job_retry_attempts,
                    "MaximumEventAgeInSeconds": self.stage.job_event_max_age_seconds,
                    "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": self.failed_invocations.queue_arn}},
                },
            )
            if self.stage.reserve_job_concurrency:
                resource.add_property_override("ReservedConcurrentExecutions", JOB_CONCURRENCY)
        if function.kind == "worker":
            resource.add_property_override("Timeout", self.stage.worker_timeout_seconds)
            if self.stage.reserve_job_concurrency:
                # Never below the SQS mapping's maximum: a throttled batch counts as a receive.
                resource.add_property_override("ReservedConcurrentExecutions", self.stage.worker_max_concurrency)
            event = f"Events.{function.sqs_event}.Properties"
            # The queue is this stack's (Chalice names it by ARN string): a reference orders creation.
            resource.add_property_override(f"{event}.Queue", self.queue.queue_arn)
            # The worker answers with batchItemFailures (partial batch response); Lambda
            # only honours it when the mapping says so, else a failed member fails the batch.
            resource.add_property_override(f"{event}.FunctionResponseTypes", ["ReportBatchItemFailures"])
            resource.add_property_override(f"{event}.ScalingConfig", {"MaximumConcurrency": self.stage.worker_max_concurrency})

        if function.kind == "events":
            event = f"Events.{function.stream_event}.Properties"
            resource.add_property_override(f"{event}.Stream", self.table.table_stream_arn)
            # A batch whose events the bus refused is retried from its first failed record; a poison
            # record is isolated by bisecting, then sent to the on-failure queue, which alarms.
            resource.add_property_override(f"{event}.FunctionResponseTypes", ["ReportBatchItemFailures"])
            resource.add_property_override(f"{event}.BisectBatchOnFunctionError", True)
            resource.add_property_override(f"{event}.MaximumRetryAttempts", 10)
            resource.add_property_override(f"{event}.MaximumRecordAgeInSeconds", 86400)
            resource.add_property_override(f"{event}.DestinationConfig", {"OnFailure": {"Destination": self.stream_failures.queue_arn}})
            resource.add_property_override("Environment.Variables.EVENT_BUS_NAME", self.event_bus.event_bus_name)
        if function.kind == "webhooks":
            resource.add_property_override("Timeout", 15)
            event = f"Events.{function.sqs_event}.Properties"
            resource.add_property_override(f"{event}.Queue", self.webhooks_queue.queue_arn)
            resource.add_property_override(f"{event}.FunctionResponseTypes", ["ReportBatchItemFailures"])

    def _exports_bucket(self) -> s3.Bucket:
        """Files handed out once by a pre-signed URL (store/exports.py): a batch of product codes in
        clear for the printer. Kept a day, then deleted (and their versions): the codes' only copy in
        clear lives no longer than that. Private, TLS only, S3-managed encryption, access logged."""
        return s3.Bucket(
            self,
            "Exports",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(1), noncurrent_version_expiration=cdk.Duration.days(1))],
            server_access_logs_bucket=self.web.logs,
            server_access_logs_prefix="exports/",
            # Like the web app's buckets, kept when the stack is deleted (emptying it would take a custom resource
            # with wildcard S3 rights); its files are gone within a day anyway.
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

    def _grant_exports(self) -> None:
        """The functions with the `exports` capability write files under product-codes/ and read them (the URL
        they pre-sign is signed with their role), and learn the bucket's name from EXPORTS_BUCKET."""
        for function in self.functions:
            if "exports" not in self.capabilities[function.logical_id]:
                continue
            self.policies[function.logical_id].add_statements(
                iam.PolicyStatement(
                    sid="ProductCodeExports",
                    actions=["s3:PutObject", "s3:GetObject"],
                    resources=[self.exports.arn_for_objects("product-codes/*")],
                )
            )
            # Bulk grants and exports (store/bulk_files.py): the operator's uploaded file, its parts and
            # failed rows, the export parts and files, all under bulk/; an export lists its own parts.
            self.policies[function.logical_id].add_statements(
                iam.PolicyStatement(
                    sid="BulkFiles",
                    actions=["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
                    resources=[self.exports.arn_for_objects("bulk/*")],
                ),
                iam.PolicyStatement(
                    sid="BulkExportParts",
                    actions=["s3:ListBucket"],
                    resources=[self.exports.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": ["bulk/exports/*"]}},
                ),
            )
            resource = self.chalice.get_resource(function.logical_id)
            resource.add_property_override("Environment.Variables.EXPORTS_BUCKET", self.exports.bucket_name)

    def _imports_bucket(self) -> s3.Bucket:
        """Files operators upload for a bulk import of members (personal data: phones, names) and the
        failed rows' results: private, TLS only, S3-managed encryption, access logged, and deleted
        (with their versions) after IMPORT_KEPT_DAYS: an import runs in minutes."""
        return s3.Bucket(
            self,
            "Imports",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=cdk.Duration.days(IMPORT_KEPT_DAYS),
                    noncurrent_version_expiration=cdk.Duration.days(1),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
            server_access_logs_bucket=self.web.logs,
            server_access_logs_prefix="imports/",
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

    def _grant_imports(self) -> None:
        """The API pre-signs PUTs of uploads/ (signed with its role), reads an upload's header and pre-signs
        GETs of results/; the worker reads uploads/ and writes, lists and deletes results/. Both learn the
        bucket's name from IMPORT_BUCKET. ListBucket only under those prefixes (a HEAD of a missing upload
        answers 404, not 403)."""
        grants = {
            "api": (("s3:PutObject", "s3:GetObject"), ("uploads/*",), ("s3:GetObject",), ("results/*",)),
            "worker": (("s3:GetObject",), ("uploads/*",), ("s3:PutObject", "s3:GetObject", "s3:DeleteObject"), ("results/*",)),
        }
        for function in self.functions:
            if "imports" not in self.capabilities[function.logical_id]:
                continue
            upload_actions, upload_keys, result_actions, result_keys = grants[function.kind]
            uploads = [self.imports.arn_for_objects(k) for k in upload_keys]
            results = [self.imports.arn_for_objects(k) for k in result_keys]
            self.policies[function.logical_id].add_statements(
                iam.PolicyStatement(sid="ImportUploads", actions=list(upload_actions), resources=uploads),
                iam.PolicyStatement(sid="ImportResults", actions=list(result_actions), resources=results),
                iam.PolicyStatement(
                    sid="ImportListing",
                    actions=["s3:ListBucket"],
                    resources=[self.imports.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": ["uploads/*", "results/*"]}},
                ),
            )
            resource = self.chalice.get_resource(function.logical_id)
            resource.add_property_override("Environment.Variables.IMPORT_BUCKET", self.imports.bucket_name)

    # --- API edge -----------------------------------------------------------------------------

    def _configure_api(self) -> None:
        stage = self.stage
        access_logs = self.log_group("ApiAccessLogs", log_group_name=f"/huiyuan/{stage.name}/api-access")
        self.access_log_group = access_logs
        api = self.chalice.get_resource("RestAPI")
        api.add_property_override("Name", f"huiyuan-{stage.name}")
        api.add_property_override(
            "AccessLogSetting",
            {
                # API Gateway wants the log group ARN without the ":*" CloudFormation's Arn ends with.
                "DestinationArn": self.format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=access_logs.log_group_name,
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                ),
                "Format": ACCESS_LOG_FORMAT,
            },
        )
        api.add_property_override(
            "MethodSettings",
            [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": stage.throttle_rate,
                    "ThrottlingBurstLimit": stage.throttle_burst,
                    "LoggingLevel": "ERROR",
                    "DataTraceEnabled": False,  # full request logs would hold phones and tokens
                    "MetricsEnabled": False,
                }
            ],
        )
        api.add_property_override("TracingEnabled", True)
        api.add_property_override("GatewayResponses", self.gateway_responses())
        if stage.manage_api_gateway_account:
            api.node.add_dependency(self._api_gateway_account())

    def gateway_responses(self) -> dict[str, Any]:
        cors = {"Access-Control-Allow-Origin": f"'{self.stage.cors_allow_origin}'", "Vary": "'Origin'"}
        responses: dict[str, Any] = {}
        for response_type, error in GATEWAY_PROBLEMS.items():
            status, headers, body = problem(error)
            responses[response_type] = {
                "StatusCode": str(status),
                "ResponseParameters": {"Headers": {**cors, **{k: f"'{v}'" for k, v in headers.items()}}},
                "ResponseTemplates": {"application/json": json.dumps(body, ensure_ascii=False)},
            }
        # Every other gateway answer (throttled, too large, integration timeout...) at least
        # carries the CORS header, so the web front end can read it.
        for response_type in ("DEFAULT_4XX", "DEFAULT_5XX"):
            responses[response_type] = {"ResponseParameters": {"Headers": cors}}
        return responses

    def _api_gateway_account(self) -> apigw.CfnAccount:
        role = iam.Role(
            self,
            "ApiGatewayLogsRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="API Gateway writes access and error logs to CloudWatch Logs (account setting)",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AmazonAPIGatewayPushToCloudWatchLogs")],
        )
        role.apply_removal_policy(cdk.RemovalPolicy.RETAIN)  # the account setting outlives this stack
        account = apigw.CfnAccount(self, "ApiGatewayAccount", cloud_watch_role_arn=role.role_arn)
        account.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        return account

    def _admin_invoke_policy(self) -> iam.ManagedPolicy:
        """Attach to the operators' IAM roles: they may call /v1/admin (SigV4), nothing else."""
        return iam.ManagedPolicy(
            self,
            "AdminInvokePolicy",
            managed_policy_name=f"huiyuan-{self.stage.name}-admin-api",
            description=f"Call the Huiyuan {self.stage.name} operator API (/v1/admin/...)",
            statements=[
                iam.PolicyStatement(
                    actions=["execute-api:Invoke"],
                    resources=[
                        self.format_arn(service="execute-api", resource=self.chalice.get_resource("RestAPI").ref, resource_name=path)
                        for path in self.stage.admin_invoke_paths
                    ],
                )
            ],
        )
