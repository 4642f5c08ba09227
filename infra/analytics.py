"""The analytics engine's resources (docs/analytics.md): the bucket, the Glue database, the Athena
workgroup, and what the functions that refresh and read the analytics may do with them.

The bucket holds the table's exports (`exports/`), what is derived from them (`derived/`), the KPI
snapshots (`kpis/`), Athena's results (`athena-results/`) and segments' audiences (`audiences/`).
Private, TLS only, S3-managed encryption, access logged; exports, derived tables and query results
are deleted a week after they were written (a refresh a day keeps the latest), KPI snapshots kept a
year (the history of the figures), audiences a month.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

if TYPE_CHECKING:
    from .stack import HuiyuanStack

# Functions that refresh or read the analytics: the API (an operator's refresh, the KPIs, a member's
# scores), the jobs' worker (builds once the export is complete) and the analytics-refresh job.
ANALYTICS_JOB = "analytics-refresh"
# Days each prefix of the bucket is kept.
EXPIRY_DAYS = {"exports/": 7, "derived/": 7, "athena-results/": 7, "audiences/": 31, "kpis/": 366}
# The most one Athena query may scan (a runaway query stops there): 10 million members' export is ~15 GB.
BYTES_SCANNED_CUTOFF = 100 * 1024**3


def uses_analytics(kind: str, chalice_name: str) -> bool:
    return kind in ("api", "worker") or (kind == "job" and chalice_name == ANALYTICS_JOB)


class Analytics:
    def __init__(self, stack: HuiyuanStack) -> None:
        env = stack.stage.env
        self.stack = stack
        self.granted: set[str] = set()
        self.database_name = env["ANALYTICS_DATABASE"]
        self.workgroup_name = env["ANALYTICS_WORKGROUP"]
        self.bucket = s3.Bucket(
            stack,
            "Analytics",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id=f"expire-{prefix.rstrip('/')}",
                    prefix=prefix,
                    expiration=cdk.Duration.days(days),
                    noncurrent_version_expiration=cdk.Duration.days(1),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
                for prefix, days in EXPIRY_DAYS.items()
            ],
            server_access_logs_bucket=stack.web.logs,
            server_access_logs_prefix="analytics/",
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.database = glue.CfnDatabase(
            stack,
            "AnalyticsDatabase",
            catalog_id=stack.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(name=self.database_name, description="Huiyuan analytics"),
        )
        self.workgroup = athena.CfnWorkGroup(
            stack,
            "AnalyticsWorkGroup",
            name=self.workgroup_name,
            description="Huiyuan analytics (store/analytics_engine.py)",
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=BYTES_SCANNED_CUTOFF,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.bucket.bucket_name}/athena-results/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(encryption_option="SSE_S3"),
                ),
            ),
        )

    def statements(self) -> list[iam.PolicyStatement]:
        """Least privilege for a function that refreshes and reads the analytics."""
        stack, bucket = self.stack, self.bucket
        table_arn = stack.table.table_arn
        catalog = stack.format_arn(service="glue", resource="catalog")
        database = stack.format_arn(service="glue", resource="database", resource_name=self.database_name)
        tables = stack.format_arn(service="glue", resource="table", resource_name=f"{self.database_name}/*")
        workgroup = stack.format_arn(service="athena", resource="workgroup", resource_name=self.workgroup_name)
        return [
            iam.PolicyStatement(sid="ExportTheTable", actions=["dynamodb:ExportTableToPointInTime", "dynamodb:DescribeTable"], resources=[table_arn]),
            iam.PolicyStatement(sid="FollowTheExport", actions=["dynamodb:DescribeExport"], resources=[f"{table_arn}/export/*"]),
            iam.PolicyStatement(
                sid="AnalyticsObjects",
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                resources=[bucket.arn_for_objects(f"{prefix}*") for prefix in ("exports/", "derived/", "kpis/", "athena-results/", "audiences/")],
            ),
            iam.PolicyStatement(sid="ListAnalytics", actions=["s3:ListBucket", "s3:GetBucketLocation"], resources=[bucket.bucket_arn]),
            iam.PolicyStatement(
                sid="QueryAnalytics",
                actions=["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults", "athena:StopQueryExecution"],
                resources=[workgroup],
            ),
            iam.PolicyStatement(
                sid="AnalyticsCatalog",
                actions=[f"glue:{a}" for a in ("GetDatabase", "GetTable", "GetTables", "GetPartitions", "CreateTable", "UpdateTable", "DeleteTable")],
                resources=[catalog, database, tables],
            ),
        ]

    def bucket_arn_granted(self, logical_id: str) -> bool:
        return logical_id in self.granted

    def grant(self) -> None:
        """The statements and the bucket's name to the functions that use the analytics."""
        stack = self.stack
        for function in stack.functions:
            if not uses_analytics(function.kind, function.chalice_name):
                continue
            self.granted.add(function.logical_id)
            stack.policies[function.logical_id].add_statements(*self.statements())
            resource = stack.chalice.get_resource(function.logical_id)
            resource.add_property_override("Environment.Variables.ANALYTICS_BUCKET", self.bucket.bucket_name)
