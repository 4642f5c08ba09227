"""The member's own routes, behind the token authorizer.

The member id always comes from the verified token (the authorizer's
principal), never from the path or body: a member can only reach themselves.
Every member route is declared with `member_route`, which hands the view the
caller's session (usecases/sessions.py): the one way a view learns who is
calling, and the check that the use case admitted it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice.app import AuthRequest, AuthResponse, Request, Response

from ...domain.errors import InternalError, Unauthorized
from ...lazy import lazy_module
from ...observability import logger
from ..http import ApiBlueprint, answer_response, idempotency_key, json_response, parse_body, query_cursor, query_limit

if TYPE_CHECKING:
    from ...domain import tokens
    from ...usecases import members, redemptions, sessions
    from ...usecases.sessions import MemberSession
    from ..schemas import members as schemas
else:
    schemas = lazy_module("chalicelib.api.schemas.members")
    tokens = lazy_module("chalicelib.domain.tokens")
    members = lazy_module("chalicelib.usecases.members")
    redemptions = lazy_module("chalicelib.usecases.redemptions")
    sessions = lazy_module("chalicelib.usecases.sessions")

bp = ApiBlueprint(__name__)


class TokenRefused(Exception):
    """Raised with the message "Unauthorized": API Gateway's way to answer 401."""


# API Gateway caches the authorizer's answer per token. The answer depends on the token alone
# (its signature and expiry), so caching it changes nothing: a closed membership or a signed-out
# token is refused by the route itself, at once (usecases/sessions.py).
AUTHORIZER_CACHE_SECONDS = 30
EPOCH = "epoch"  # the authorizer context's key for the token's epoch


@bp.authorizer(ttl_seconds=AUTHORIZER_CACHE_SECONDS)
def member_token(auth_request: AuthRequest) -> AuthResponse:
    """A valid member token (signature, issuer, audience, expiry: usecases/sessions.authenticate),
    no table read. Its member id is the principal and its epoch rides in the context; the route's
    use case refuses a closed membership or a token from before a sign-out on the member read it
    does (`member_route`). Frozen members pass: they may read, and every action they may not take
    answers 403 member_frozen."""
    token = (auth_request.token or "").strip()
    scheme, _, value = token.partition(" ")
    if scheme.lower() != "bearer" or not value:
        raise TokenRefused("Unauthorized")
    try:
        claims = sessions.authenticate(value.strip())
    except tokens.InvalidToken as exc:
        logger.info("token refused", extra={"reason": str(exc)})
        raise TokenRefused("Unauthorized") from None
    # API Gateway passes context values to the route as strings: the epoch goes as one.
    return AuthResponse(routes=["*"], principal_id=claims.member_id, context={EPOCH: str(claims.epoch)})


_EPOCH_TEXT = re.compile(r"[0-9]{1,12}", re.ASCII)


def session_of(request: Request) -> MemberSession:
    """The caller the authorizer proved: its principal (the member id) and the token's epoch."""
    context = request.context.get("authorizer") or {}
    member_id, epoch = context.get("principalId"), str(context.get(EPOCH))
    if not isinstance(member_id, str) or not member_id or not _EPOCH_TEXT.fullmatch(epoch):
        raise Unauthorized("No member token")
    return sessions.MemberSession(member_id, int(epoch))


MemberView = Callable[..., Response]


def member_route(blueprint: ApiBlueprint, path: str, method: str, **options: Any) -> Callable[[MemberView], MemberView]:
    """A member's route on `blueprint`: behind `member_token`, its view called with the caller's
    session first. The view's use case must admit the session on its member read
    (`MemberSession.admit`, or `check` where it reads nothing of the member): an answer given
    without that is refused with a logged 500, so a route that forgets fails its first test
    instead of serving a closed membership or a signed-out token."""

    def decorator(view: MemberView) -> MemberView:
        @functools.wraps(view)
        def with_session(*args: Any, **kwargs: Any) -> Response:
            session = session_of(blueprint.current_request)
            response = view(session, *args, **kwargs)
            if not session.admitted:
                logger.error("member route answered without admitting the session", extra={"path": path, "method": method})
                raise InternalError("An internal error occurred")
            return response

        with_session.member_route = True  # type: ignore[attr-defined]  # read by tests/integration/test_sessions.py
        blueprint.route(path, methods=[method], authorizer=member_token, **options)(with_session)
        return view

    return decorator


@member_route(bp, "/v1/me/sign-out", "POST")
def sign_out(session: MemberSession) -> Response:
    members.sign_out(session)
    return Response(body="", status_code=204, headers={"Cache-Control": "no-store"})


@member_route(bp, "/v1/me", "GET")
def me(session: MemberSession) -> Response:
    return json_response(members.active_member_view(session))


@member_route(bp, "/v1/me/ledger", "GET")
def my_ledger(session: MemberSession) -> Response:
    request = bp.current_request
    return json_response(members.ledger_page(session, query_limit(request), query_cursor(request)))


@member_route(bp, "/v1/me/redemptions", "POST")
def redeem(session: MemberSession) -> Response:
    request = bp.current_request
    body = parse_body(request, schemas.RedemptionRequest)
    return answer_response(redemptions.redeem_reward(session, idempotency_key(request), body.reward_id))
