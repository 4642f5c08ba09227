"""Business metrics as CloudWatch receives them: the EMF documents powertools prints."""

from __future__ import annotations

import json
from typing import Any


def emf_documents(stdout: str) -> list[dict[str, Any]]:
    """The EMF documents among printed lines (log lines are JSON too, without `_aws`)."""
    return [doc for doc in (json.loads(line) for line in stdout.splitlines() if line.startswith("{")) if "_aws" in doc]


def metric_values(documents: list[dict[str, Any]], name: str, **dimensions: str) -> list[float]:
    """Every value of `name` among the documents whose dimensions include `dimensions`."""
    values: list[float] = []
    for doc in documents:
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            names = {m["Name"] for m in directive["Metrics"]}
            declared = {d for group in directive["Dimensions"] for d in group}
            if name in names and all(doc.get(k) == v and k in declared for k, v in dimensions.items()):
                value = doc[name]
                values += value if isinstance(value, list) else [value]
    return values
