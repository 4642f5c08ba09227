"""`WECHAT_MP_VERIFY_TOKEN=XXXX make run` serves WeChat's domain verification file at the local
stack's root (docs/wechat.md, "The domain's verification file"), and nothing else changes."""

from __future__ import annotations

import requests

from tests.support.stack import running_stack

TOKEN = "Xo3kP9aZ2mQ7wE1r"


def test_given_a_token_when_wechat_fetches_its_file_then_the_local_stack_answers_the_token(tmp_path):
    with running_stack(tmp_path, extra_env={"WECHAT_MP_VERIFY_TOKEN": TOKEN}) as stack:
        answer = requests.get(f"{stack.base}/MP_verify_{TOKEN}.txt", timeout=10)
        assert (answer.status_code, answer.text) == (200, TOKEN)
        assert answer.headers["Content-Type"] == "text/plain"
        # Only that file; the app and the API are as before.
        assert requests.get(f"{stack.base}/MP_verify_other.txt", timeout=10).status_code != 200
        assert requests.get(f"{stack.base}/app/", timeout=10).headers["Content-Type"].startswith("text/html")
        assert requests.get(f"{stack.base}/v1/health", timeout=10).status_code == 200
