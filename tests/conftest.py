"""Test environment: never a real AWS account.

The environment is fixed before anything imports the app, so the models,
settings and clients all point at moto.
"""

from __future__ import annotations

import os
import socket
import tempfile

_OUTBOX_DIR = tempfile.mkdtemp(prefix="huiyuan-test-")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# The fake WeChat Pay of this test process listens here (tests/integration/test_wechat_pay.py).
WECHAT_PAY_FAKE_PORT = _free_port()

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
        "WECHAT_PAY_SECRET": "huiyuan/test/wechat-pay",
        "WECHAT_PAY_BASE_URL": f"http://127.0.0.1:{WECHAT_PAY_FAKE_PORT}",
        "WECHAT_PAY_NOTIFY_URL": "http://127.0.0.1:9/v1/wechat-pay/notifications",
    }
)
for _var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
    os.environ.pop(_var, None)
