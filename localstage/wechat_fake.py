"""A fake of WeChat's server APIs on loopback, for the local stage and the tests.

It speaks the documented protocol of the calls Huiyuan makes (chalicelib/notify/wechat.py):

- `GET /sns/jscode2session` (code2Session) and `GET /sns/oauth2/access_token` (the official
  account's OAuth code exchange): the openid of the user the code names;
- `GET /connect/oauth2/authorize` (WeChat's authorize page, served by open.weixin.qq.com in
  reality; the web app's "Sign in with WeChat" goes there): redirects straight back to a loopback
  `redirect_uri` with a code and the `state`, as snsapi_base does, for the user `h5-user` or the
  one its `user` parameter names (the browser tests' way of being a given WeChat user);
- `POST /cgi-bin/stable_token` and `GET /cgi-bin/token`: an app access token (2 hours);
- `POST /wxa/business/getuserphonenumber`: the phone a `phone_code` names;
- `POST /cgi-bin/message/subscribe/send`: appended to the outbox (`channel` "wechat"), or
  errcode 43101 when the user withdrew that template in WeChat (`POST /fake/withdraw`).

Codes the client sends choose the answer:

- `<user>.<anything>`: the user `<user>` (each app gives them its own openid; the unionid is the
  same in every app); a code is single use (40163 the second time), as WeChat's are;
- `fail-<errcode>`: WeChat answers that errcode (40029 invalid code, -1 system busy, ...);
- `timeout`: the answer comes after `slow_seconds`, beyond the client's timeout;
- a phone code `phone-<digits>` or `phone-<digits>.<anything>`: the user's verified phone is +86<digits>.

Nothing here is a real credential: the app secrets are the local stage's, generated at bootstrap.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
import urllib.parse
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MINI_PROGRAM = "mini_program"
OFFICIAL_ACCOUNT = "official_account"


def openid_for(user: str, appid: str) -> str:
    """The openid WeChat (the fake) gives `user` in the app `appid`."""
    return "o" + hashlib.sha256(f"{appid}:{user}".encode()).hexdigest()[:27]


def unionid_for(user: str) -> str:
    return "u" + hashlib.sha256(f"union:{user}".encode()).hexdigest()[:27]


class FakeWechat:
    def __init__(
        self, app_secrets: dict[str, str], outbox_path: str | None, *, host: str = "127.0.0.1", port: int = 0, slow_seconds: float = 12.0
    ) -> None:
        self.app_secrets = dict(app_secrets)
        self.outbox_path = outbox_path
        self.slow_seconds = slow_seconds
        self.used_codes: set[str] = set()
        self.tokens: dict[str, str] = {}  # access token -> appid
        self.withdrawn: set[tuple[str, str]] = set()  # (openid, template_id)
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(_Handler):
            owner = fake

        self.server = _Server((host, port), Handler)
        self.server.daemon_threads = True
        self.thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = str(self.server.server_address[0]), self.server.server_address[1]
        return f"http://{host}:{port}"

    def start(self) -> FakeWechat:
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-wechat", daemon=True)
        self.thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # The answers

    def _app_error(self, appid: str, secret: str) -> dict[str, Any] | None:
        if appid not in self.app_secrets:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if not secrets.compare_digest(self.app_secrets[appid], secret):
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        return None

    def _code(self, code: str) -> tuple[str | None, dict[str, Any] | None]:
        """The user a code names, or WeChat's error answer."""
        if code == "timeout":
            time.sleep(self.slow_seconds)
            return None, {"errcode": -1, "errmsg": "system error"}
        if code.startswith("fail-"):
            try:
                return None, {"errcode": int(code[5:]), "errmsg": "fake error"}
            except ValueError:
                pass
        user, dot, _ = code.partition(".")
        if not dot or not user:
            return None, {"errcode": 40029, "errmsg": "invalid code"}
        with self.lock:
            if code in self.used_codes:
                return None, {"errcode": 40163, "errmsg": "code been used"}
            self.used_codes.add(code)
        return user, None

    def code_to_session(self, query: dict[str, str]) -> dict[str, Any]:
        error = self._app_error(query.get("appid", ""), query.get("secret", ""))
        if error:
            return error
        user, error = self._code(query.get("js_code", ""))
        if user is None:
            return error or {}
        return {"openid": openid_for(user, query["appid"]), "unionid": unionid_for(user), "session_key": secrets.token_urlsafe(16)}

    def oauth_access_token(self, query: dict[str, str]) -> dict[str, Any]:
        error = self._app_error(query.get("appid", ""), query.get("secret", ""))
        if error:
            return error
        user, error = self._code(query.get("code", ""))
        if user is None:
            return error or {}
        openid = openid_for(user, query["appid"])
        return {
            "access_token": secrets.token_urlsafe(24),
            "expires_in": 7200,
            "refresh_token": secrets.token_urlsafe(24),
            "openid": openid,
            "scope": "snsapi_base",
            "unionid": unionid_for(user),
        }

    def access_token(self, appid: str, secret: str) -> dict[str, Any]:
        error = self._app_error(appid, secret)
        if error:
            return error
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = appid
        return {"access_token": token, "expires_in": 7200}

    def _token_app(self, query: dict[str, str]) -> str | None:
        with self.lock:
            return self.tokens.get(query.get("access_token", ""))

    def phone_number(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        if self._token_app(query) is None:
            return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
        code = str(body.get("code", ""))
        if code == "timeout" or code.startswith("fail-"):
            return self._code(code)[1] or {}
        digits = code[6:].partition(".")[0]
        if not code.startswith("phone-") or not digits.isdigit():
            return {"errcode": 40029, "errmsg": "invalid code"}
        with self.lock:
            if code in self.used_codes:
                return {"errcode": 40163, "errmsg": "code been used"}
            self.used_codes.add(code)
        watermark = {"appid": self.tokens.get(query["access_token"]), "timestamp": int(time.time())}
        return {
            "errcode": 0,
            "errmsg": "ok",
            "phone_info": {"phoneNumber": digits, "purePhoneNumber": digits, "countryCode": "86", "watermark": watermark},
        }

    def subscribe_send(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        if self._token_app(query) is None:
            return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
        openid, template_id = str(body.get("touser", "")), str(body.get("template_id", ""))
        if not openid or not template_id or not isinstance(body.get("data"), dict):
            return {"errcode": 47003, "errmsg": "argument invalid!"}
        with self.lock:
            if (openid, template_id) in self.withdrawn:
                return {"errcode": 43101, "errmsg": "user refuse to accept the msg"}
            self.received.append(body)
        self._to_outbox(body)
        return {"errcode": 0, "errmsg": "ok", "msgid": secrets.randbelow(10**12)}

    def _to_outbox(self, body: dict[str, Any]) -> None:
        if not self.outbox_path:
            return
        text = " ".join(str(field.get("value", "")) for field in body["data"].values() if isinstance(field, dict))
        line = {
            "channel": "wechat",
            "to": body["touser"],
            "kind": body["template_id"],
            "body": text,
            "page": body.get("page"),
            "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        with self.lock:
            Path(self.outbox_path).parent.mkdir(parents=True, exist_ok=True)
            with open(self.outbox_path, "a", encoding="utf-8") as outbox:
                outbox.write(json.dumps(line, ensure_ascii=False) + "\n")

    def withdraw(self, body: dict[str, Any]) -> dict[str, Any]:
        """The user turned the template's messages off in WeChat's settings."""
        with self.lock:
            self.withdrawn.add((str(body.get("openid", "")), str(body.get("template_id", ""))))
        return {"errcode": 0, "errmsg": "ok"}


class _Server(ThreadingHTTPServer):
    # WeChat does not drop connections: a burst of sign-ins at once (tests/e2e/
    # test_wechat_binding_concurrency.py) must not overflow the default backlog of 5, whose
    # dropped SYNs are retried after 1 s and 3 s, past the service's 3 s timeout on a busy machine.
    request_queue_size = 128
    daemon_threads = True


class _Handler(BaseHTTPRequestHandler):
    owner: FakeWechat
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: codes and openids are in the query strings

    def _answer(self, body: dict[str, Any], status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _parts(self) -> tuple[str, dict[str, str]]:
        url = urllib.parse.urlsplit(self.path)
        return url.path, dict(urllib.parse.parse_qsl(url.query))

    def do_GET(self) -> None:
        path, query = self._parts()
        fake = self.owner
        if path == "/sns/jscode2session":
            self._answer(fake.code_to_session(query))
        elif path == "/sns/oauth2/access_token":
            self._answer(fake.oauth_access_token(query))
        elif path == "/cgi-bin/token":
            self._answer(fake.access_token(query.get("appid", ""), query.get("secret", "")))
        elif path == "/connect/oauth2/authorize":
            self._authorize(query)
        else:
            self._answer({"errcode": 404, "errmsg": "not found"}, 404)

    def _authorize(self, query: dict[str, str]) -> None:
        """As if the user opened the page in WeChat and agreed: back to redirect_uri with a code."""
        redirect = query.get("redirect_uri", "")
        if not redirect.startswith(("http://127.0.0.1", "http://localhost")):
            self._answer({"errcode": 10003, "errmsg": "redirect_uri domain not allowed"}, 400)
            return
        user = query.get("user") or "h5-user"
        code = f"{user}.{secrets.token_hex(6)}"
        separator = "&" if "?" in redirect else "?"
        target = f"{redirect}{separator}{urllib.parse.urlencode({'code': code, 'state': query.get('state', '')})}"
        self.send_response(302)
        self.send_header("location", target)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        path, query = self._parts()
        length = int(self.headers.get("content-length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self._answer({"errcode": 47001, "errmsg": "data format error"})
            return
        fake = self.owner
        if path == "/cgi-bin/stable_token":
            self._answer(fake.access_token(str(body.get("appid", "")), str(body.get("secret", ""))))
        elif path == "/wxa/business/getuserphonenumber":
            self._answer(fake.phone_number(query, body))
        elif path == "/cgi-bin/message/subscribe/send":
            self._answer(fake.subscribe_send(query, body))
        elif path == "/fake/withdraw":
            self._answer(fake.withdraw(body))
        else:
            self._answer({"errcode": 404, "errmsg": "not found"}, 404)
