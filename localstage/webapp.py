"""The member web app (`web/dist`, built by make) at /app/, as CloudFront serves it when deployed.

- A file of the build is served with its content type; hashed files under
  /app/assets/ may be cached for a year, everything else is revalidated.
- Any other path under /app/ without a file extension is a page of the app
  (its router reads the path): it gets index.html. A missing file with an
  extension is a 404, not the page, so a broken asset link shows as one.
- Nothing outside `web/dist` is reachable: the path is decoded once, and a
  name with `..`, a backslash or a NUL, or one that resolves outside the
  build (a symlink), is refused.
- With `WECHAT_MP_VERIFY_TOKEN` set, `/MP_verify_<token>.txt` at the root answers the token as
  text/plain: the file WeChat fetches to check the official account's web-page authorisation
  domain (docs/wechat.md; CloudFront answers it the same way, infra/web.py).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

PROJECT = Path(__file__).resolve().parents[1]
WEB_DIST = PROJECT / "web" / "dist"
PREFIX = "/app"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
}
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# The app loads nothing from another origin and runs no inline script; Vant sets inline styles,
# and QR codes are data: images. The same policy is set by CloudFront (infra/web.py).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
}


# WeChat names the file MP_verify_<token>.txt and its content is <token>: letters and digits only
# (what WeChat issues), so a token can never put anything else into a path or a function's code.
MP_VERIFY_TOKEN = re.compile(r"[A-Za-z0-9]{1,64}")
MP_VERIFY_ENVIRONMENT = "WECHAT_MP_VERIFY_TOKEN"


def mp_verify_path(token: str) -> str:
    """The root path WeChat fetches for `token`; ValueError for anything but 1-64 letters and digits."""
    if not isinstance(token, str) or not MP_VERIFY_TOKEN.fullmatch(token):
        raise ValueError(f"the WeChat domain verification token is the XXXX of MP_verify_XXXX.txt: 1 to 64 letters and digits, not {token!r}")
    return f"/MP_verify_{token}.txt"


def configured_mp_verify_token() -> str | None:
    """The token of the verification file the local stack serves (`WECHAT_MP_VERIFY_TOKEN`), None when
    unset; ValueError when it is not a token (the stack refuses to start: localstage/stack.py)."""
    token = os.environ.get(MP_VERIFY_ENVIRONMENT) or None
    if token is not None:
        mp_verify_path(token)
    return token


@dataclass(frozen=True)
class StaticResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def serves(path: str) -> bool:
    """True for /app and everything under /app/ (not /application), and for the WeChat verification
    file when one is configured."""
    return path == PREFIX or path.startswith(PREFIX + "/") or _mp_verify(path) is not None


def _mp_verify(path: str) -> StaticResponse | None:
    """The verification file's answer when `path` is exactly its path (as sent: nothing decoded)."""
    try:
        token = configured_mp_verify_token()
    except ValueError:
        return None
    if token is None or path != mp_verify_path(token):
        return None
    return StaticResponse(200, {"Content-Type": "text/plain", "Cache-Control": REVALIDATE, **SECURITY_HEADERS}, token.encode("ascii"))


def _text(status: int, message: str) -> StaticResponse:
    return StaticResponse(status, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": REVALIDATE, **SECURITY_HEADERS}, message.encode())


def _file(path: Path, cache_control: str) -> StaticResponse:
    content_type = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
    return StaticResponse(200, {"Content-Type": content_type, "Cache-Control": cache_control, **SECURITY_HEADERS}, path.read_bytes())


def _refused(relative: str) -> bool:
    """A name that could leave the build: a `.` or `..` segment, an absolute path, a backslash, a NUL."""
    return relative.startswith("/") or any(p in ("..", ".") for p in relative.split("/")) or "\\" in relative or "\x00" in relative


def _inside(dist: Path, relative: str) -> Path | None:
    """The file `relative` names inside `dist`, or None (also for a symlink that points out of it)."""
    candidate = dist.joinpath(*PurePosixPath(relative).parts).resolve()
    return candidate if candidate.is_relative_to(dist.resolve()) and candidate.is_file() else None


def response(path: str, dist: Path = WEB_DIST) -> StaticResponse:
    """What GET `path` (no query string, as sent: percent-encoded) answers."""
    verification = _mp_verify(path)
    if verification is not None:
        return verification
    if path == PREFIX:
        return StaticResponse(308, {"Location": PREFIX + "/", "Cache-Control": REVALIDATE})
    index = dist / "index.html"
    if not index.is_file():
        return _text(503, "The member web app is not built: `make run` builds it into web/dist (it needs Node.js and npm).")
    relative = unquote(path.removeprefix(PREFIX + "/"))
    if _refused(relative):
        return _text(404, "No such file in the web app's build.")
    if relative:
        found = _inside(dist, relative)
        if found is not None:
            return _file(found, IMMUTABLE if relative.startswith("assets/") else REVALIDATE)
        if "." in PurePosixPath(relative).name or relative.startswith("assets/"):
            return _text(404, f"No file {PREFIX}/{relative} in the web app's build.")
    return _file(index, REVALIDATE)


def serve(handler: BaseHTTPRequestHandler, path: str) -> None:
    """Answer a GET or HEAD for `path` on the local server's request handler."""
    answer = response(path)
    handler.send_response(answer.status)
    for name, value in answer.headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(answer.body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(answer.body)
