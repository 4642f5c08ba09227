"""Member access tokens: short-lived HS256 JWTs (PyJWT).

PyJWT is imported on first use: it is not on the import path of functions
that never see a token (cold start).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

ISSUER = "huiyuan"
AUDIENCE = "huiyuan:member"
ALGORITHM = "HS256"


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class AccessClaims:
    member_id: str
    # The member's token epoch when the token was issued: signing out moves the member's on,
    # and a token from an older epoch is refused (api/members.py).
    epoch: int


def issue_access_token(secret: bytes, member_id: str, now: datetime, ttl_seconds: int, *, epoch: int = 0) -> str:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": member_id,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_seconds)).timestamp()),
        "jti": secrets.token_hex(8),
        "ep": epoch,
    }
    import jwt

    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def access_claims(secret: bytes, token: str) -> AccessClaims:
    """Who a valid token was issued to, and in which epoch; InvalidToken otherwise.

    Only HS256 is accepted, so `none` and RS/HS confusion are refused.
    """
    import jwt

    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(type(exc).__name__) from exc
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("no subject")
    epoch = claims.get("ep", 0)  # tokens issued before epochs existed belong to epoch 0
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        raise InvalidToken("bad epoch")
    return AccessClaims(subject, epoch)


def member_id_from_token(secret: bytes, token: str) -> str:
    """The member id a valid token was issued to; InvalidToken otherwise."""
    return access_claims(secret, token).member_id
