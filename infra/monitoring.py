"""The stage's dashboard and alarms; every alarm notifies the alarm topic.

Each alarm's name says what it watches; docs/operations.md says where to look
first when it fires (the section is named after the alarm, less the stage prefix).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NotRequired, TypedDict, Unpack

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions

if TYPE_CHECKING:
    from .stack import HuiyuanStack

FIVE_MINUTES = cdk.Duration.minutes(5)
ONE_HOUR = cdk.Duration.hours(1)
ONE_DAY = cdk.Duration.days(1)

# Emitted by chalicelib (observability.count) with the dimensions service and stage;
# namespace and service from the stage environment.
BUSINESS_METRICS = {
    "Members": ("Signups", "Verifications", "Activations"),
    "Points": ("PointsEarned", "PointsRedeemed", "PointsReversed"),
    "Purchases and redemptions": ("Purchases", "Redemptions", "RedemptionsRejected"),
    "Messages": ("MessagesSent", "MessagesFailed"),
}
# The day's business figures, emitted once a day by the analytics refresh (usecases/analytics.py
# daily_figures) when it completes: a daily period shows one point per day.
ANALYTICS_FIGURES = {
    "Members (daily analytics: active, new in 7 days)": ("ActiveMembers", "NewMembers"),
    "Points liability (daily analytics)": ("PointsLiability",),
    "Redemption and repeat-purchase rates, % (daily analytics)": ("RedemptionRatePercent", "RepeatPurchaseRatePercent"),
}
# Emitted per job unit (observability.count_for_job): one more dimension, the job.
JOB_METRICS = {
    "Jobs: points moved (expire-points: points expired)": "JobPointsMoved",
    "Jobs: members acted on": "JobAffected",
    "Jobs: messages sent": "JobMessagesSent",
}


class _Threshold(TypedDict):
    threshold: float
    comparison_operator: cw.ComparisonOperator
    evaluation_periods: int


class _AlarmOptions(_Threshold):
    """What an alarm decides besides its metric (the rest of `cw.Alarm`'s options)."""

    treat_missing_data: cw.TreatMissingData
    datapoints_to_alarm: NotRequired[int]


def build(stack: HuiyuanStack) -> tuple[cw.Dashboard | None, dict[str, cw.Alarm]]:
    stage = stack.stage
    prefix = f"huiyuan-{stage.name}"
    api_dims = {"ApiName": f"huiyuan-{stage.name}", "Stage": stage.api_gateway_stage}

    def api_metric(name: str, statistic: str = "Sum", label: str | None = None) -> cw.Metric:
        return cw.Metric(namespace="AWS/ApiGateway", metric_name=name, dimensions_map=api_dims, statistic=statistic, period=FIVE_MINUTES, label=label)

    def lambda_metric(function_name: str, name: str, period: cdk.Duration = FIVE_MINUTES) -> cw.Metric:
        return cw.Metric(
            namespace="AWS/Lambda",
            metric_name=name,
            dimensions_map={"FunctionName": function_name},
            statistic="Sum",
            period=period,
            label=function_name,
        )

    def business_metric(name: str, period: cdk.Duration = ONE_HOUR, label: str | None = None, **dimensions: str) -> cw.Metric:
        return cw.Metric(
            namespace=stage.env["POWERTOOLS_METRICS_NAMESPACE"],
            metric_name=name,
            dimensions_map={"service": stage.env["POWERTOOLS_SERVICE_NAME"], "stage": stage.name, **dimensions},
            statistic="Sum",
            period=period,
            label=label or name,
        )

    alarms: dict[str, cw.Alarm] = {}

    def alarm(name: str, metric: cw.IMetric, description: str, *, runbook: str | None = None, **kwargs: Unpack[_AlarmOptions]) -> cw.Alarm:
        created = cw.Alarm(
            stack,
            f"Alarm-{name}",
            alarm_name=f"{prefix}-{name}",
            alarm_description=f"{description} Runbook: docs/operations.md, section '{runbook or name}'.",
            metric=metric,
            **kwargs,
        )
        created.add_alarm_action(cw_actions.SnsAction(stack.alarm_topic))
        created.add_ok_action(cw_actions.SnsAction(stack.alarm_topic))
        alarms[name] = created
        return created

    def any_of(metrics: list[cw.IMetric], label: str) -> cw.MathExpression:
        # One alarm over several metrics (at most 10 in an alarm's expression).
        assert len(metrics) <= 10, f"{label}: an alarm expression takes at most 10 metrics"
        names = {f"m{i}": m for i, m in enumerate(metrics)}
        return cw.MathExpression(expression=" + ".join(f"FILL({n}, 0)" for n in names), using_metrics=names, label=label, period=FIVE_MINUTES)

    quiet_is_fine = cw.TreatMissingData.NOT_BREACHING

    def alarm_on_any(name: str, metric: cw.IMetric, description: str, *, runbook: str | None = None) -> cw.Alarm:
        # Once in five minutes is enough to alarm; no data is nothing to report.
        return alarm(
            name,
            metric,
            description,
            runbook=runbook,
            threshold=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=quiet_is_fine,
        )

    # --- API ---
    alarm(
        "api-5xx-rate",
        api_metric("5XXError", "Average", "5xx rate"),
        f"More than {stage.api_5xx_rate:.0%} of API requests answered 5xx in 2 of 3 five-minute periods.",
        threshold=stage.api_5xx_rate,
        comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=3,
        datapoints_to_alarm=2,
        treat_missing_data=quiet_is_fine,
    )

    # --- functions ---
    names = stack.function_names
    for function in stack.functions:
        name = names[function.logical_id]
        alarm_on_any(
            f"{function.chalice_name}-errors",
            lambda_metric(name, "Errors"),
            f"{name} failed (an exception or timeout that reached Lambda).",
            runbook="<job>-errors" if function.kind == "job" else None,
        )
        if function.kind == "job":
            # Lambda publishes nothing for a function that did not run: missing data is the signal.
            alarm(
                f"{function.chalice_name}-did-not-run",
                lambda_metric(name, "Invocations", ONE_DAY),
                f"{name} ({function.schedule}) was not invoked in the last day.",
                runbook="<job>-did-not-run",
                threshold=1,
                comparison_operator=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cw.TreatMissingData.BREACHING,
            )
    # An alarm's expression takes at most 10 metrics: one alarm per 10 functions (the first keeps
    # the plain name; all share the runbook section `lambda-throttles`).
    throttles: list[cw.IMetric] = [lambda_metric(names[f.logical_id], "Throttles") for f in stack.functions]
    for group, start in enumerate(range(0, len(throttles), 10), start=1):
        alarm_on_any(
            "lambda-throttles" if group == 1 else f"lambda-throttles-{group}",
            any_of(throttles[start : start + 10], "throttled invocations"),
            "A function was throttled (the account's or the function's concurrency ran out).",
            runbook="lambda-throttles",
        )

    # --- DynamoDB ---
    def table_metric(name: str, index: str | None = None) -> cw.Metric:
        dims = {"TableName": stage.table_name, **({"GlobalSecondaryIndexName": index} if index else {})}
        return cw.Metric(
            namespace="AWS/DynamoDB", metric_name=name, dimensions_map=dims, statistic="Sum", period=FIVE_MINUTES, label=f"{name} {index or 'table'}"
        )

    from chalicelib.store.table import INDEXES

    throttle_metrics: list[cw.IMetric] = [table_metric("ReadThrottleEvents"), table_metric("WriteThrottleEvents")]
    # A throttled index write throttles the table write that caused it.
    throttle_metrics += [table_metric("WriteThrottleEvents", index.name) for index in INDEXES]
    index_reads: list[cw.IMetric] = [table_metric("ReadThrottleEvents", index.name) for index in INDEXES]
    for n, start in enumerate(range(0, len(throttle_metrics), 10)):
        alarm_on_any(
            "table-throttles" if n == 0 else f"table-throttles-{n + 1}",
            any_of(throttle_metrics[start : start + 10], "throttled requests"),
            f"DynamoDB throttled requests on {stage.table_name} or a write to one of its indexes.",
            runbook="table-throttles",
        )

    # --- queues ---
    dlq_depth = stack.dlq.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES, statistic="Maximum", label="dead-lettered units")
    alarm_on_any(
        "jobs-dlq-not-empty",
        dlq_depth,
        f"A job unit failed 5 times and is in {stage.jobs_dlq_name}.",
    )
    for name, queue, text in (
        ("webhooks-dlq-not-empty", stack.webhooks_dlq, "The webhook worker failed 5 times on a delivery message (not a failed delivery: a crash)."),
        (
            "stream-failures-not-empty",
            stack.stream_failures,
            "A batch of the table's stream could not be published as business events after its retries.",
        ),
    ):
        alarm_on_any(name, queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES, statistic="Maximum", label=name), text)
    # A delivery that failed every attempt for a day (or whose endpoint was disabled on its way) is
    # kept under its endpoint for a replay (usecases/webhooks.py): not an SQS message, so counted.
    alarm_on_any(
        "webhook-dead-letters",
        business_metric("WebhookDeadLetters", FIVE_MINUTES, "webhook deliveries dead-lettered"),
        "A webhook delivery was dead-lettered: its endpoint failed every attempt for 25 hours, or was disabled while it was on its way.",
    )
    failed_runs = stack.failed_invocations.metric_approximate_number_of_messages_visible(
        period=FIVE_MINUTES, statistic="Maximum", label="failed job invocations"
    )
    alarm_on_any(
        "job-invocations-failed",
        failed_runs,
        f"A scheduled job's invocation failed after Lambda's retries (or stayed throttled) and is in huiyuan-{stage.name}-failed-invocations.",
    )
    oldest = stack.queue.metric_approximate_age_of_oldest_message(period=FIVE_MINUTES, statistic="Maximum", label="oldest unit (s)")
    alarm(
        "jobs-queue-stuck",
        oldest,
        f"A job unit has waited over an hour in {stage.jobs_queue_name}: the worker is not keeping up or not running.",
        threshold=3600,
        comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=quiet_is_fine,
    )

    # --- the books ---
    jobs = [f.chalice_name for f in stack.functions if f.kind == "job"]
    ledger_drift = business_metric("LedgerDrift", ONE_DAY, "members whose ledger and balance disagree")
    alarm_on_any(
        "ledger-drift",
        ledger_drift,
        "The reconcile job found members whose ledger does not sum to their balance (or a negative balance).",
    )

    # --- SMS: volume (the app's count) and spend (SNS's, account-wide) ---
    sms_sent = business_metric("SmsSent", ONE_HOUR, "SMS sent")
    alarm(
        "sms-volume",
        sms_sent,
        f"More than {stage.sms_alarm_per_hour} SMS sent in an hour: SMS pumping through the code routes, or a campaign larger than planned.",
        threshold=stage.sms_alarm_per_hour,
        comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=quiet_is_fine,
    )
    sms_spend = cw.Metric(
        namespace="AWS/SNS", metric_name="SMSMonthToDateSpentUSD", statistic="Maximum", period=ONE_HOUR, label="SMS spent this month (USD)"
    )
    spend_threshold = round(stage.sms_monthly_budget_usd * stage.sms_spend_alarm_fraction, 2)
    alarm(
        "sms-spend",
        sms_spend,
        f"SNS SMS spend this month (every application in the account and region) reached {spend_threshold} USD, "
        f"{stage.sms_spend_alarm_fraction:.0%} of the stage's {stage.sms_monthly_budget_usd} USD budget"
        + (": SMS stops at the budget." if stage.set_sms_spend_limit else "."),
        threshold=spend_threshold,
        comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=quiet_is_fine,
    )
    waf = stack.firewall

    def waf_metric(rule: str, name: str = "BlockedRequests") -> cw.Metric:
        assert waf is not None
        return cw.Metric(
            namespace="AWS/WAFV2",
            metric_name=name,
            dimensions_map={"WebACL": waf.name, "Region": stack.region, "Rule": waf.rule_metrics[rule]},
            statistic="Sum",
            period=FIVE_MINUTES,
            label=rule,
        )

    # --- dashboard ---
    if not stage.dashboard:
        return None, alarms
    dashboard = cw.Dashboard(stack, "Dashboard", dashboard_name=f"{prefix}", default_interval=cdk.Duration.days(1))
    width = 8
    dashboard.add_widgets(
        cw.TextWidget(
            markdown=f"# Huiyuan {stage.name}\nAlarms notify `{prefix}-alarms`; what to do: docs/operations.md. "
            "Business metrics are hourly sums of what the code counts (namespace "
            f"`{stage.env['POWERTOOLS_METRICS_NAMESPACE']}`).",
            width=24,
            height=2,
        )
    )
    dashboard.add_widgets(
        cw.GraphWidget(title="API requests", left=[api_metric("Count", label="requests")], width=width),
        cw.GraphWidget(title="API 4xx / 5xx", left=[api_metric("4XXError", label="4xx"), api_metric("5XXError", label="5xx")], width=width),
        cw.GraphWidget(
            title="API latency (ms)",
            left=[
                api_metric("Latency", "p50", "p50"),
                api_metric("Latency", "p99", "p99"),
                api_metric("IntegrationLatency", "p99", "integration p99"),
            ],
            width=width,
        ),
    )
    dashboard.add_widgets(
        cw.GraphWidget(title="Lambda errors", left=[lambda_metric(names[f.logical_id], "Errors") for f in stack.functions], width=width),
        cw.GraphWidget(title="Lambda throttles", left=[lambda_metric(names[f.logical_id], "Throttles") for f in stack.functions], width=width),
        cw.GraphWidget(
            title="Scheduled job runs (per day)",
            left=[lambda_metric(names[f.logical_id], "Invocations", ONE_DAY) for f in stack.functions if f.kind == "job"],
            width=width,
        ),
    )
    dashboard.add_widgets(
        cw.GraphWidget(title="DynamoDB throttles", left=throttle_metrics[:2] + index_reads + throttle_metrics[2:], width=width),
        cw.GraphWidget(
            title="DynamoDB consumed capacity",
            left=[table_metric("ConsumedReadCapacityUnits"), table_metric("ConsumedWriteCapacityUnits")],
            width=width,
        ),
        cw.GraphWidget(
            title="Jobs queue",
            left=[dlq_depth, failed_runs, stack.queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES, label="waiting units")],
            right=[oldest],
            width=width,
        ),
    )
    dashboard.add_widgets(
        cw.GraphWidget(
            title="SMS sent and codes verified (hourly)",
            left=[
                sms_sent,
                business_metric("Verifications", label="verifications"),
                business_metric("Signups", label="signups"),
                business_metric("CodeSendsRefused", label="code requests refused (limits)"),
            ],
            left_annotations=[cw.HorizontalAnnotation(value=stage.sms_alarm_per_hour, label="sms-volume alarm")],
            width=width,
        ),
        cw.GraphWidget(
            title="SMS spend this month (USD, account-wide)",
            left=[sms_spend],
            left_annotations=[
                cw.HorizontalAnnotation(value=spend_threshold, label="sms-spend alarm"),
                cw.HorizontalAnnotation(value=stage.sms_monthly_budget_usd, label="budget" + (" (SNS stops)" if stage.set_sms_spend_limit else "")),
            ],
            width=width,
        ),
        *([cw.GraphWidget(title="WAF: requests blocked, by rule", left=[waf_metric(rule) for rule in waf.rule_metrics], width=width)] if waf else []),
    )
    dashboard.add_widgets(
        *[cw.GraphWidget(title=title, left=[business_metric(m) for m in metrics], width=width) for title, metrics in BUSINESS_METRICS.items()],
        *[
            cw.GraphWidget(title=title, left=[business_metric(m, label=job, job=job) for job in jobs], width=width)
            for title, m in JOB_METRICS.items()
        ],
        cw.GraphWidget(
            title="Outstanding points and stored value (daily reconcile)",
            left=[business_metric("OutstandingPoints", ONE_DAY, "points")],
            right=[business_metric("OutstandingStoredValue", ONE_DAY, "stored value (minor units)")],
            width=width,
        ),
        cw.GraphWidget(title="Ledger drift (members)", left=[ledger_drift], width=width),
        *[
            cw.GraphWidget(title=title, left=[business_metric(m, ONE_DAY, m).with_(statistic="Maximum") for m in metrics], width=width)
            for title, metrics in ANALYTICS_FIGURES.items()
        ],
        cw.AlarmStatusWidget(title="Alarms", alarms=list(alarms.values()), width=width),
    )
    return dashboard, alarms
