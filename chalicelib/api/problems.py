"""The one mapping from a domain error to an RFC 9457 problem+json answer: its status, headers
(Retry-After where the error says how long) and body. The routes, the local gateway and server,
and the deployed gateway responses (infra/stack.py) all answer through it."""

from __future__ import annotations

from typing import Any

from ..domain.errors import HuiyuanError

PROBLEM_JSON = "application/problem+json"


def problem(error: HuiyuanError) -> tuple[int, dict[str, str], dict[str, Any]]:
    """The one mapping from a domain error to (status, headers, problem body)."""
    body: dict[str, Any] = {
        "type": f"https://huiyuan.example/problems/{error.code}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "code": error.code,
    }
    body.update(error.extra())
    headers = {"Content-Type": PROBLEM_JSON}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return error.status, headers, body
