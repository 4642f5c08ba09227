"""The one Logger and Metrics of the service.

No Tracer here on purpose: creating one imports the X-Ray SDK (~370 ms of cold
start); Lambda's active tracing covers the invocation.

Personal data (phone, name, email, birthday) and secrets (codes, tokens, API
keys) are never passed to the logger: log member ids and outcomes only.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "huiyuan")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Huiyuan")

logger = Logger()
metrics = Metrics()

__all__ = ["MetricUnit", "count", "logger", "metrics"]


def count(name: str, value: int = 1) -> None:
    """Add a business metric (signups, points earned...) to this invocation."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
