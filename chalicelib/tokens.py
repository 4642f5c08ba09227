"""Member access tokens: short-lived HS256 JWTs (PyJWT).

PyJWT is imported on first use: it is not on the import path of functions
that never see a token (cold start).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

ISSUER = "huiyuan"
AUDIENCE = "huiyuan:member"
ALGORITHM = "HS256"


class InvalidToken(Exception):
    pass


def issue_access_token(secret: bytes, member_id: str, now: datetime, ttl_seconds: int) -> str:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": member_id,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_seconds)).timestamp()),
        "jti": secrets.token_hex(8),
    }
    import jwt

    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def member_id_from_token(secret: bytes, token: str) -> str:
    """The member id a valid token was issued to; InvalidToken otherwise.

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
    return subject
