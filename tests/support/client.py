"""An in-process HTTP client for the app, through the same gateway emulation
the local server uses (authorizer, problem+json gateway responses)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chalice.config import Config

from localstage.gateway import ProblemGateway


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def content_type(self) -> str:
        return {k.lower(): v for k, v in self.headers.items()}.get("content-type", "")


class ApiClient:
    def __init__(self, app: Any) -> None:
        self._gateway = ProblemGateway(app, Config.create(chalice_app=app, chalice_stage="local", app_name="huiyuan"))

    def request(
        self, method: str, path: str, *, json_body: Any = None, body: bytes | None = None, headers: dict[str, str | None] | None = None
    ) -> Reply:
        # JSON unless the test says otherwise; a header given as None is not sent at all.
        sent = {k: v for k, v in {"content-type": "application/json", **(headers or {})}.items() if v is not None}
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False).encode()
        response = self._gateway.handle_request(method=method, path=path, headers=sent, body=body or b"")
        raw = response.get("body") or ""
        if isinstance(raw, bytes):
            raw = raw.decode()
        headers_out = {**response.get("headers", {}), **{k: v[0] for k, v in response.get("multiValueHeaders", {}).items() if v}}
        return Reply(response["statusCode"], headers_out, raw)

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Reply:
        return self.request("POST", path, json_body=json, **kw)
