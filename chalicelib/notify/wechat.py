"""WeChat's server APIs, the few calls Huiyuan makes: code2Session (mini-program sign-in), the
official account's OAuth code exchange, getuserphonenumber, subscribeMessage.send, and the
access token they need (stable_token, cached in memory until shortly before it expires).

Hand-written over urllib rather than wechatpy (docs/wechat.md: wechatpy brings requests, six,
xmltodict, dateutil and ~0.36 s of imports to every cold start for five GETs and POSTs).
The base URL is a setting (`WECHAT_API_BASE`): the local stage and the tests point it at the fake
on loopback (localstage/wechat_fake.py). Nothing here logs a code, a session key, a phone or a
token; the session key code2Session returns is dropped at once (we never need it).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from ..domain.errors import WechatBadGateway, WechatNotConfigured, WechatUnavailable
from ..domain.wechat import TOKEN_ERRCODES, App, WechatIdentity, code_error, is_configured
from ..observability import logger
from ..settings import get_settings

_tokens: dict[str, tuple[str, float]] = {}  # appid -> (access token, monotonic expiry)
_tokens_lock = threading.Lock()


class WechatError(Exception):
    """WeChat answered a non-zero errcode."""

    def __init__(self, errcode: int, errmsg: str = "") -> None:
        super().__init__(f"errcode {errcode}")
        self.errcode = errcode
        self.errmsg = errmsg


def appid(app: App) -> str:
    settings = get_settings()
    value = settings.wechat_mini_program_appid if app == "mini_program" else settings.wechat_official_account_appid
    if not is_configured(value):
        raise WechatNotConfigured()
    return value


def _app_secret(app_id: str) -> str:
    """The app's secret from the secrets parameter (JSON: appid -> secret), cached 5 minutes."""
    from aws_lambda_powertools.utilities import parameters

    name = get_settings().wechat_secrets_parameter
    try:
        raw = parameters.get_parameter(name, decrypt=True, max_age=300)
        secret = json.loads(str(raw)).get(app_id)
    except (parameters.exceptions.GetParameterError, ValueError, AttributeError):
        logger.exception("WeChat app secrets unreadable")
        raise WechatNotConfigured() from None
    if not isinstance(secret, str) or not secret:
        raise WechatNotConfigured()
    return secret


def _call(path: str, query: dict[str, str], body: dict[str, Any] | None = None) -> dict[str, Any]:
    """One call; the answer as JSON. WechatUnavailable when WeChat does not answer in time or at
    all, WechatError when it answers a non-zero errcode."""
    settings = get_settings()
    url = f"{settings.wechat_api_base.rstrip('/')}{path}?{urllib.parse.urlencode(query)}"
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
    method = "GET" if body is None else "POST"
    request = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})  # noqa: S310  (a setting)
    try:
        with urllib.request.urlopen(request, timeout=settings.wechat_timeout_seconds) as response:  # noqa: S310  (the base URL is a setting, https in the cloud)
            answer = json.loads(response.read().decode() or "{}")
    except (TimeoutError, urllib.error.URLError, OSError, ValueError) as exc:
        logger.warning("WeChat did not answer", extra={"path": path, "error": type(exc).__name__})
        raise WechatUnavailable() from exc
    if not isinstance(answer, dict):
        raise WechatBadGateway("WeChat answered something that is not a JSON object")
    errcode = answer.get("errcode") or 0
    if errcode:
        logger.info("WeChat answered an error", extra={"path": path, "errcode": errcode})
        raise WechatError(int(errcode), str(answer.get("errmsg", "")))
    return answer


def _identity(app: App, answer: dict[str, Any]) -> WechatIdentity:
    openid = answer.get("openid")
    if not isinstance(openid, str) or not openid:
        raise WechatBadGateway("WeChat answered without an openid")
    unionid = answer.get("unionid")
    return WechatIdentity(app, openid, unionid if isinstance(unionid, str) and unionid else None)


def code_to_session(code: str) -> WechatIdentity:
    """The mini-program user wx.login's code names (code2Session). The session key is dropped."""
    app_id = appid("mini_program")
    query = {"appid": app_id, "secret": _app_secret(app_id), "js_code": code, "grant_type": "authorization_code"}
    try:
        return _identity("mini_program", _call("/sns/jscode2session", query))
    except WechatError as exc:
        raise code_error(exc.errcode, "wx.login code") from None


def oauth_identity(code: str) -> WechatIdentity:
    """The official-account page visitor the OAuth redirect's code names (sns/oauth2/access_token).
    The user access token it also returns is dropped: we need only the openid."""
    app_id = appid("official_account")
    query = {"appid": app_id, "secret": _app_secret(app_id), "code": code, "grant_type": "authorization_code"}
    try:
        return _identity("official_account", _call("/sns/oauth2/access_token", query))
    except WechatError as exc:
        raise code_error(exc.errcode, "OAuth code") from None


def _access_token(app_id: str, *, refresh: bool = False) -> str:
    """The app's access token from stable_token (WeChat limits how often a token may be fetched;
    stable_token hands out the same token until it expires, so containers do not invalidate each
    other's), cached until 5 minutes before it expires."""
    now = time.monotonic()
    with _tokens_lock:
        cached = _tokens.get(app_id)
        if cached and cached[1] > now and not refresh:
            return cached[0]
    body = {"grant_type": "client_credential", "appid": app_id, "secret": _app_secret(app_id), "force_refresh": False}
    try:
        answer = _call("/cgi-bin/stable_token", {}, body)
    except WechatError as exc:
        raise WechatBadGateway(f"WeChat refused an access token (errcode {exc.errcode})") from None
    token, expires_in = answer.get("access_token"), int(answer.get("expires_in") or 0)
    if not isinstance(token, str) or not token:
        raise WechatBadGateway("WeChat answered without an access token")
    with _tokens_lock:
        _tokens[app_id] = (token, now + max(expires_in - 300, 0))
    return token


def _with_token(app: App, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A call that needs the app's access token; a token WeChat calls expired is fetched again once."""
    app_id = appid(app)
    try:
        return _call(path, {"access_token": _access_token(app_id)}, body)
    except WechatError as exc:
        if exc.errcode not in TOKEN_ERRCODES:
            raise
    return _call(path, {"access_token": _access_token(app_id, refresh=True)}, body)


@dataclass(frozen=True)
class WechatPhone:
    phone: str  # E.164 when WeChat gave a country code, else as WeChat gave it


def phone_number(phone_code: str) -> WechatPhone:
    """The phone WeChat verified for the mini-program user (getPhoneNumber's code)."""
    try:
        answer = _with_token("mini_program", "/wxa/business/getuserphonenumber", {"code": phone_code})
    except WechatError as exc:
        raise code_error(exc.errcode, "phone code") from None
    info = answer.get("phone_info") or {}
    pure, country = info.get("purePhoneNumber"), info.get("countryCode")
    if not isinstance(pure, str) or not pure:
        raise WechatBadGateway("WeChat answered without a phone number")
    return WechatPhone(f"+{country}{pure}" if country else pure)


def forget_tokens() -> None:
    """Tests: forget cached access tokens."""
    with _tokens_lock:
        _tokens.clear()


def send_subscribe_message(openid: str, template_id: str, data: dict[str, dict[str, str]], page: str | None) -> None:
    """subscribeMessage.send; returns when WeChat accepted it (errcode 0). Raises WechatError with
    WeChat's errcode (43101: the user has no subscription to this template) or WechatUnavailable."""
    body: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": data}
    if page:
        body["page"] = page
    _with_token("mini_program", "/cgi-bin/message/subscribe/send", body)
