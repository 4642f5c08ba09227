"""Test environment: never a real AWS account.

The environment is fixed before anything imports the app, so the models,
settings and clients all point at moto.
"""

from __future__ import annotations

import os
import socket
import tempfile

import pytest

_OUTBOX_DIR = tempfile.mkdtemp(prefix="huiyuan-test-")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# The fake of WeChat's APIs (localstage/wechat_fake.py) listens here when a test starts it.
WECHAT_FAKE_PORT = _free_port()


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
        "WECHAT_API_BASE": f"http://127.0.0.1:{WECHAT_FAKE_PORT}",
        "WECHAT_TIMEOUT_SECONDS": "1",
        "WECHAT_OAUTH_AUTHORIZE_URL": f"http://127.0.0.1:{WECHAT_FAKE_PORT}/connect/oauth2/authorize",
        "WECHAT_PAY_SECRET": "huiyuan/test/wechat-pay",
        "WECHAT_PAY_BASE_URL": f"http://127.0.0.1:{WECHAT_PAY_FAKE_PORT}",
        "WECHAT_PAY_NOTIFY_URL": "http://127.0.0.1:9/v1/wechat-pay/notifications",
    }
)
for _var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
    os.environ.pop(_var, None)


# --- How `pytest -n N` (make test) spreads the suite over its workers --------------------------
# (docs/quality.md, "The suite's shape and timing"). `make test` runs with `--dist loadfile
# --no-loadscope-reorder`: a module is one unit of work, so a module's own stack (test_fuzz,
# test_demo, test_local_*: module-scoped fixtures) or rules fixture is built once per run, not
# once on each worker that gets one of its tests; and the units go out in this order, with the
# longest first, so they start at once instead of leaving one worker alone at the end.
# (`--dist loadgroup` would put all of tests/infra on one worker, but xdist 3.8 marks groups by
# rewriting `item._nodeid`, which pytest 9 no longer reads: it silently runs as `load`.)
LONGEST_FIRST = (
    "tests/e2e/test_fuzz.py",
    "tests/e2e/test_operator_walkthrough.py",
    "tests/e2e/test_demo.py",
    "tests/integration/test_analytics",
    "tests/infra/",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next((i for i, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)), len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: the order within a rank is the collection's
