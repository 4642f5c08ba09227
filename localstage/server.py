"""Serve the Chalice app on loopback through `ProblemGateway`.

Like `chalice local`, threaded, with these differences: gateway errors are
problem+json (as deployed); an oversized body is refused from its
Content-Length before it is read; and, since the local stage's admin API is
open, it is safe on a developer's machine: only loopback Host names (no DNS
rebinding), only JSON bodies (a web page's no-cors request cannot send one),
bounded request lines and headers, a read timeout, and an access log without
query strings or headers.
"""

from __future__ import annotations

import json
import os
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from chalice.cli.factory import CLIFactory
from chalice.local import ChaliceRequestHandler, CustomLocalChalice, LocalChalice, LocalDevServer, ThreadedHTTPServer

from chalicelib.api.formats import is_json_media_type
from chalicelib.api.problems import problem
from chalicelib.domain.errors import HuiyuanError, MethodNotAllowed, NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from chalicelib.settings import get_settings
from localstage import webapp

# The gateway (and through it the app) is imported only once the stage's
# environment is applied: the store reads its settings at import.


# The names a browser on this machine uses for the stack. Any other Host (a rebound DNS name that
# now points at 127.0.0.1) is refused, so no web page can drive the local stage's open admin API.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
MAX_TARGET_BYTES = 8 * 1024  # request line's path and query (API Gateway allows about 8 KB too)
MAX_HEADER_BYTES = 16 * 1024
READ_TIMEOUT_SECONDS = 10  # a client that stalls mid-request is cut off, not waited on forever


class LengthRequired(HuiyuanError):
    status, code, title = 411, "length_required", "A Content-Length is required"


class RequestTimeout(HuiyuanError):
    status, code, title = 408, "request_timeout", "The request was not sent in time"


class HeadersTooLarge(HuiyuanError):
    status, code, title = 431, "headers_too_large", "The request headers are too large"


class UriTooLong(HuiyuanError):
    status, code, title = 414, "uri_too_long", "The request URL is too long"


class MisdirectedRequest(HuiyuanError):
    status, code, title = 421, "misdirected_request", "This server answers only on loopback names"


# http.server's own refusals (a malformed request line, too many headers...), as problem+json.
_SERVER_ERRORS: dict[int, type[HuiyuanError]] = {414: UriTooLong, 431: HeadersTooLarge, 411: LengthRequired, 408: RequestTimeout}


class ProblemRequestHandler(ChaliceRequestHandler):
    timeout = READ_TIMEOUT_SECONDS

    def __init__(self, request: Any, client_address: Any, server: Any, app_object: Any, config: Any) -> None:
        from localstage.gateway import ProblemGateway

        self.local_gateway = ProblemGateway(app_object, config)
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)

    def _refuse(self, error: HuiyuanError) -> None:
        status, headers, body = problem(error)
        payload = json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        if getattr(self, "command", None) != "HEAD":
            self.wfile.write(payload)
        self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's refusals answered as problem+json, not its HTML page."""
        kind = _SERVER_ERRORS.get(code)
        if kind is not None:
            error: HuiyuanError = kind()
        elif code == 501:
            error = MethodNotAllowed()
        else:
            error = ValidationFailed.single("request", message or "the request could not be read")
        self.log_error("refused: %d", code)
        self._refuse(error)

    def _refusal(self) -> HuiyuanError | None:
        """Why this request is refused before it reaches the app, if it is."""
        host = (self.headers.get("host") or "").strip().lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name not in LOOPBACK_HOSTS:
            return MisdirectedRequest("Use http://127.0.0.1 or http://localhost to reach the local stack")
        if len(self.path) > MAX_TARGET_BYTES:
            return UriTooLong()
        if sum(len(k) + len(v) + 4 for k, v in self.headers.items()) > MAX_HEADER_BYTES:
            return HeadersTooLarge()
        if self.headers.get("transfer-encoding"):
            return LengthRequired("Send the body with a Content-Length (chunked bodies are not accepted)")
        raw_length = (self.headers.get("content-length") or "0").strip()
        if not (raw_length.isascii() and raw_length.isdigit()) or len(raw_length) > 12:
            return ValidationFailed.single("Content-Length", "not a number")
        if int(raw_length) > get_settings().max_body_bytes:
            return PayloadTooLarge(f"Bodies are limited to {get_settings().max_body_bytes} bytes")
        if int(raw_length) > 0 and not is_json_media_type(self.headers.get("content-type")):
            # A browser's no-cors request can only send text/plain, form or multipart bodies.
            return UnsupportedMediaType("Send the body as JSON, with Content-Type: application/json")
        return None

    def _guarded_handle(self) -> None:
        refusal = self._refusal()
        if refusal is not None:
            return self._refuse(refusal)
        path = self.path.split("?", 1)[0]
        if self.command == "GET" and (path == "/docs" or path.startswith("/docs/")):
            return self._serve_docs(path)
        if self.command in ("GET", "HEAD") and webapp.serves(path):
            return webapp.serve(self, path)
        self._generic_handle()

    def _parse_payload(self) -> tuple[Any, bytes | None]:
        try:
            return super()._parse_payload()
        except TimeoutError:
            raise _Stalled from None

    def _generic_handle(self) -> None:
        try:
            super()._generic_handle()
        except _Stalled:
            self._refuse(RequestTimeout())

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _guarded_handle

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, CONNECT, made-up ones) gets the gateway's answer
        # (405 problem+json), not http.server's HTML 501.
        if name.startswith("do_"):
            return self._guarded_handle
        raise AttributeError(name)

    def _serve_docs(self, path: str) -> None:
        """The interactive API docs (Swagger UI from the npm registry, installed by make)."""
        if path in ("/docs", "/docs/"):
            return self._send(200, "text/html; charset=utf-8", DOCS_PAGE.encode())
        if path == "/docs/openapi.json":
            host, port = self.server.server_address[:2]
            base = f"http://[{host}]:{port}" if ":" in str(host) else f"http://{host}:{port}"
            return self._send(200, "application/json", openapi_for(base))
        name = path.removeprefix("/docs/")
        asset = (SWAGGER_UI / name).resolve()
        if name in DOCS_ASSETS and asset.is_file():
            return self._send(200, DOCS_ASSETS[name], asset.read_bytes())
        return self._refuse(NotFound(f"No docs asset {name}: run `make run`, which installs them"))

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """The access log names the method, the path and the status: never the query string
        (phones in an operator's lookup), nor any header (tokens, keys)."""
        # A request line too long to read leaves neither a path nor a method.
        path = str(getattr(self, "path", "-")).split("?", 1)[0]
        self.log_message("%s %s %s", getattr(self, "command", None) or "-", path[:200], getattr(code, "value", code))

    def log_message(self, format: str, *args: Any) -> None:
        if os.environ.get("HUIYUAN_ACCESS_LOG", "1") != "0":
            super().log_message(format, *args)


class _Stalled(Exception):
    """The client stopped sending its body."""


PROJECT = Path(__file__).resolve().parents[1]
SWAGGER_UI = PROJECT / "docs" / "ui" / "node_modules" / "swagger-ui-dist"
DOCS_ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "application/javascript",
    "swagger-ui-standalone-preset.js": "application/javascript",
    "favicon-32x32.png": "image/png",
}
DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Huiyuan API</title>
<link rel="icon" href="/docs/favicon-32x32.png"><link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({url: "/docs/openapi.json", dom_id: "#swagger-ui", deepLinking: true});</script>
</body></html>
"""


def openapi_for(base_url: str) -> bytes:
    """openapi.yaml as JSON, its server set to this stack so "Try it out" calls it."""
    import yaml

    document = yaml.safe_load((PROJECT / "openapi.yaml").read_text(encoding="utf-8"))
    document["servers"] = [{"url": base_url, "description": "this local stack"}]
    return json.dumps(document, ensure_ascii=False, default=str).encode()


class LocalHTTPServer(ThreadedHTTPServer):
    # socketserver's default backlog of 5 resets connections under a burst of clients.
    request_queue_size = 256


def load_local_config(project_dir: str, stage: str = "local") -> Any:
    """The stage's Chalice config, its environment applied to this process
    (as Lambda would): call before anything reads the settings."""
    factory = CLIFactory(project_dir=project_dir, environ=os.environ)
    config = factory.create_config_obj(chalice_stage_name=stage)
    os.environ.update(config.environment_variables)
    return config


def make_server(project_dir: str, host: str, port: int, stage: str = "local") -> LocalDevServer:
    config = load_local_config(project_dir, stage)
    app = config.chalice_app
    # As `chalice local` does: a thread-local current_request for the threaded server.
    CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
    app.__class__ = CustomLocalChalice
    return LocalDevServer(app, config, host, port, handler_cls=ProblemRequestHandler, server_cls=LocalHTTPServer)
