"""WeChat sign-in and subscription messages: the rules, pure.

An openid is never a member by itself. Signing in with WeChat yields either the member the
openid is bound to, or a short-lived signed *WeChat ticket* that names the openid and no member;
the client then proves a phone (our SMS code, or WeChat's getPhoneNumber) with the ticket, and
only then is the openid bound to the phone's member (docs/wechat.md).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args

from .errors import WechatBadGateway, WechatCodeInvalid, WechatUnavailable

App = Literal["mini_program", "official_account"]
APPS: tuple[App, ...] = get_args(App)


def is_configured(appid: str) -> bool:
    """Whether a stage has this app: "off" is the stack's appid for a stage without it (infra/stack.py)."""
    return bool(appid) and appid != "off"


TICKET_ISSUER = "huiyuan"
TICKET_AUDIENCE = "huiyuan:wechat-ticket"
TICKET_TTL_SECONDS = 600

# WeChat's errcodes that mean the code the client sent is no good (the client asks for another).
CODE_ERRCODES = frozenset({40029, 40163, 40125, 41008})
# The access token expired or was replaced: fetch a fresh one and try once more.
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
# subscribeMessage.send: the member has no (more) subscription to this template (refused, or the
# one-time subscription was already used).
REFUSED_ERRCODE = 43101


@dataclass(frozen=True)
class WechatIdentity:
    """Who WeChat says the user is, in one of the brand's apps."""

    app: App
    openid: str
    unionid: str | None = None


class InvalidTicket(Exception):
    pass


def code_error(errcode: int, what: str) -> Exception:
    """The error a WeChat errcode answered to a code exchange means to our caller."""
    if errcode in CODE_ERRCODES:
        return WechatCodeInvalid(f"WeChat refused the {what} (errcode {errcode}); ask WeChat for a new one")
    if errcode in (-1, 45011):  # system busy, rate limited: transient
        return WechatUnavailable(f"WeChat is busy (errcode {errcode}); try again shortly with a new code")
    return WechatBadGateway(f"WeChat answered errcode {errcode} to the {what}")


def issue_ticket(secret: bytes, identity: WechatIdentity, now: datetime) -> str:
    """A signed ticket naming the WeChat identity (and no member), valid TICKET_TTL_SECONDS."""
    import jwt

    claims = {
        "iss": TICKET_ISSUER,
        "aud": TICKET_AUDIENCE,
        "sub": identity.openid,
        "app": identity.app,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=TICKET_TTL_SECONDS)).timestamp()),
        "jti": secrets.token_hex(8),
    }
    if identity.unionid:
        claims["uid"] = identity.unionid
    return jwt.encode(claims, secret, algorithm="HS256")


def ticket_identity(secret: bytes, ticket: str) -> WechatIdentity:
    """The WeChat identity a valid, unexpired ticket names; InvalidTicket otherwise."""
    import jwt

    try:
        claims = jwt.decode(
            ticket,
            secret,
            algorithms=["HS256"],
            audience=TICKET_AUDIENCE,
            issuer=TICKET_ISSUER,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidTicket(type(exc).__name__) from exc
    app, openid, unionid = claims.get("app"), claims.get("sub"), claims.get("uid")
    if app not in APPS or not isinstance(openid, str) or not openid or (unionid is not None and not isinstance(unionid, str)):
        raise InvalidTicket("bad claims")
    return WechatIdentity(app, openid, unionid)


def remaining_subscriptions(subscriptions: dict[str, int], template_id: str) -> int:
    return max(int(subscriptions.get(template_id, 0)), 0)


def after_send(subscriptions: dict[str, int], template_id: str) -> dict[str, int]:
    """A one-time subscription is used by one send (accepted or not: WeChat counts the attempt)."""
    left = remaining_subscriptions(subscriptions, template_id) - 1
    return {k: v for k, v in subscriptions.items() if k != template_id} | ({template_id: left} if left > 0 else {})
