"""The demo's client of the HTTP API, and its reader of the local outbox.

Every request goes through `Api.call`: a keep-alive session per thread, the
merchant key or a member's token or the operator header as the caller needs,
and the retries a well-behaved client makes (a `503` or `429` waits its
`Retry-After`). It counts what the stack answered, so the summary can say how
many writes were new and how many were replays of earlier ones.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

MERCHANT_KEY = "local-dev-key"  # the local stage's brand-wide key: a head office's POS server naming the store
OPERATOR = "make-demo"  # the audit trail names the actor local-operator:make-demo
TIMEOUT = 60  # seconds: a busy local stack on a shared machine answers slowly
RETRIES = 8
CODE = re.compile(r"code is (\d{6})")


class ApiError(Exception):
    """An answer the demo did not expect: the problem's status and code."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        self.status = status
        self.code = body.get("code") if isinstance(body, dict) else None
        detail = body.get("detail") if isinstance(body, dict) else str(body)[:300]
        super().__init__(f"{method} {path}: {status} {self.code or ''} {detail}")


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    replayed: bool  # an idempotent write answered from its first time (200, or Idempotent-Replayed: true)
    headers: dict[str, str]


class Api:
    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self._local = threading.local()
        self._lock = threading.Lock()
        self.writes: Counter[str] = Counter()  # "created", "replayed" (creating writes), "other"
        self.reads = 0
        self.waited_seconds = 0.0

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        merchant: bool = False,
        token: str | None = None,
        operator: bool = False,
        key: str | None = None,
        params: dict[str, Any] | None = None,
        creates: bool = True,
    ) -> Reply:
        """One request, retried as a client should. A `creates` write answers 201 when it made
        something and 200 (or `Idempotent-Replayed: true`) when it had been made before."""
        headers = {}
        if merchant:
            headers["x-api-key"] = MERCHANT_KEY
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if operator:
            headers["X-Operator"] = OPERATOR
        if key:
            headers["Idempotency-Key"] = key
        for attempt in range(RETRIES):
            try:
                reply = self._session().request(method, self.base + path, json=body, headers=headers, params=params, timeout=TIMEOUT)
            except requests.ConnectionError:
                if attempt == RETRIES - 1:
                    raise
                self._wait(1.0 + attempt)  # every write the demo makes is safe to send again
                continue
            if reply.status_code in (429, 503) and attempt < RETRIES - 1:
                self._wait(float(reply.headers.get("Retry-After") or 1 + attempt))
                continue
            break
        payload = reply.json() if reply.content else None
        if reply.status_code >= 300:
            raise ApiError(method, path, reply.status_code, payload)
        replayed = creates and (reply.status_code == 200 or reply.headers.get("Idempotent-Replayed") == "true")
        with self._lock:
            if method == "GET":
                self.reads += 1
            else:
                self.writes["replayed" if replayed else "created" if creates else "other"] += 1
        return Reply(reply.status_code, payload, replayed, dict(reply.headers))

    def _wait(self, seconds: float) -> None:
        seconds = min(seconds, 65.0)
        with self._lock:
            self.waited_seconds += seconds
        time.sleep(seconds)

    def pages(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a paged list, following `next_cursor`."""
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.call("GET", path, params={**params, "limit": 100, **({"cursor": cursor} if cursor else {})}).body
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return items


class Outbox:
    """The codes the stack sent, read as they are appended to `.local/outbox.jsonl`
    (one JSON object a line), from where the file ended when the demo started."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = path.stat().st_size if path.exists() else 0
        self._codes: dict[str, list[tuple[int, str]]] = {}  # recipient -> (offset, code), oldest first
        self._lock = threading.Lock()

    def mark(self) -> int:
        """Where the outbox ends now: a code sent after this is an answer to what follows."""
        return self.path.stat().st_size if self.path.exists() else 0

    def code_for(self, to: str, after: int, timeout: float = 20.0) -> str:
        """The newest verification code sent to `to` (a phone or an email) since `after`."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                self._read()
                codes = [code for offset, code in self._codes.get(to, []) if offset >= after]
            if codes:
                return codes[-1]
            if time.monotonic() > deadline:
                raise TimeoutError(f"no verification code for {to} appeared in {self.path}")
            time.sleep(0.05)

    def _read(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        end = data.rfind(b"\n") + 1  # a line still being written is read next time
        for line in data[:end].splitlines(keepends=True):
            offset, self._offset = self._offset, self._offset + len(line)
            if not line.strip():
                continue
            message = json.loads(line)
            match = CODE.search(message.get("body", ""))
            if message.get("kind") == "verification_code" and match:
                self._codes.setdefault(message["to"], []).append((offset, match.group(1)))
