"""Reading what the service sent (the local outbox)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

CODE = re.compile(r"code is (\d{6})")


def messages(path: str | Path) -> list[dict[str, Any]]:
    p = Path(path)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


def last_code(path: str | Path, to: str) -> str:
    for message in reversed(messages(path)):
        if message["to"] == to and message["kind"] == "verification_code":
            match = CODE.search(message["body"])
            assert match, "a verification message carries a code"
            return match.group(1)
    raise AssertionError(f"no code was sent to {to}")
