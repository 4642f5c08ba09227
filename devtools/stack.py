"""Finding the running local stack, as `make job` does: `make run` writes
`<state dir>/stack.json` (its API and AWS endpoints and its pid) and removes it
when it stops; every message it sends is appended to `<state dir>/outbox.jsonl`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from localstage.stack import process_alive

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STATE_DIR = ROOT / ".local"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class NoLocalStack(Exception):
    """No local stack answers for that state directory; the message says what to do."""


@dataclass(frozen=True)
class LocalStack:
    api: str  # http://127.0.0.1:<port>
    state_dir: Path
    pid: int

    @property
    def outbox(self) -> Path:
        return self.state_dir / "outbox.jsonl"


def find_local_stack(state_dir: Path = DEFAULT_STATE_DIR) -> LocalStack:
    """The stack `make run` started on this state directory, if it still runs."""
    start = "start it with `make run` in another terminal, wait for its `Serving on` line, then try again"
    stack_file = state_dir / "stack.json"
    if not stack_file.exists():
        raise NoLocalStack(f"No local stack is running here (no {stack_file}): {start}.")
    stack = json.loads(stack_file.read_text())
    pid = int(stack.get("pid", 0))
    if not process_alive(pid):
        raise NoLocalStack(f"The local stack recorded in {stack_file} is gone (pid {pid}; it was killed, its data is kept): {start}.")
    api = str(stack["api"])
    if urlsplit(api).hostname not in LOOPBACK:
        raise NoLocalStack(f"{stack_file} names {api}, not a loopback address: these tools drive the local stage only.")
    return LocalStack(api=api, state_dir=state_dir, pid=pid)
