"""Test environment: never a real AWS account.

The environment is fixed before anything imports the app, so the models,
settings and clients all point at moto.
"""

from __future__ import annotations

import os
import tempfile

_OUTBOX_DIR = tempfile.mkdtemp(prefix="huiyuan-test-")

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "HUIYUAN_STAGE": "local",
        "TABLE_NAME": "huiyuan-test",
        "RULES_PARAMETER": "/huiyuan/test/program-rules",
        "SIGNING_KEY_PARAMETER": "/huiyuan/test/token-signing-key",
        "OUTBOX_PATH": os.path.join(_OUTBOX_DIR, "outbox.jsonl"),
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_DEV": "false",
    }
)
for _var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
    os.environ.pop(_var, None)
