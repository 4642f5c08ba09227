"""The one Logger and Metrics of the service.

No Tracer here on purpose: creating one imports the X-Ray SDK (~370 ms of cold
start); Lambda's active tracing covers the invocation.

Personal data (phone, name, email, birthday) and secrets (codes, tokens, API
keys) are never passed to the logger: log member ids and outcomes only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from .settings import get_settings

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "huiyuan")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Huiyuan")

logger = Logger()
metrics = Metrics()
# Every metric also names its stage, so two stages in one account never add up on a dashboard.
metrics.set_default_dimensions(stage=get_settings().stage)

__all__ = ["MetricUnit", "count", "count_for_job", "logger", "metrics"]


def count(name: str, value: int = 1) -> None:
    """Add a business metric (signups, points earned...) to this invocation."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def count_for_job(job: str, counters: Mapping[str, int]) -> None:
    """A job unit's counters as metrics with the job as one more dimension, written now.

    One worker batch can hold units of several jobs, so these cannot share the
    invocation's metric set (its dimensions apply to all of it): they get an
    EMF document of their own, with the same namespace, service and stage.
    """
    if not counters:
        return
    provider = AmazonCloudWatchEMFProvider(default_dimensions={**metrics.default_dimensions, "job": job})
    for name, value in counters.items():
        provider.add_metric(name=name, unit=MetricUnit.Count, value=value)
    provider.flush_metrics()
