"""Serve the Chalice app on loopback through `ProblemGateway`.

Like `chalice local`, threaded, with two differences: gateway errors are
problem+json (as deployed), and an oversized body is refused from its
Content-Length before it is read.
"""

from __future__ import annotations

import json
import os
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from chalice.cli.factory import CLIFactory
from chalice.local import ChaliceRequestHandler, CustomLocalChalice, LocalChalice, LocalDevServer, ThreadedHTTPServer

from ..errors import NotFound, PayloadTooLarge, ValidationFailed, problem
from ..settings import get_settings
from . import webapp

# The gateway (and through it the app) is imported only once the stage's
# environment is applied: the store reads its settings at import.


class ProblemRequestHandler(ChaliceRequestHandler):
    def __init__(self, request: Any, client_address: Any, server: Any, app_object: Any, config: Any) -> None:
        from .gateway import ProblemGateway

        self.local_gateway = ProblemGateway(app_object, config)
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)

    def _refuse(self, error: Any) -> None:
        status, headers, body = problem(error)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", headers["Content-Type"])
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)
        self.close_connection = True

    def _guarded_handle(self) -> None:
        path = self.path.split("?", 1)[0]
        if self.command == "GET" and (path == "/docs" or path.startswith("/docs/")):
            return self._serve_docs(path)
        if self.command in ("GET", "HEAD") and webapp.serves(path):
            return webapp.serve(self, path)
        raw_length = self.headers.get("content-length", "0") or "0"
        if not raw_length.isdigit():
            return self._refuse(ValidationFailed.single("Content-Length", "not a number"))
        if int(raw_length) > get_settings().max_body_bytes:
            return self._refuse(PayloadTooLarge(f"Bodies are limited to {get_settings().max_body_bytes} bytes"))
        self._generic_handle()

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
            return self._send(200, "application/json", openapi_for(f"http://{self.headers.get('host', 'localhost')}"))
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

    def log_message(self, format: str, *args: Any) -> None:
        if os.environ.get("HUIYUAN_ACCESS_LOG", "1") != "0":
            super().log_message(format, *args)


PROJECT = Path(__file__).resolve().parents[2]
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
