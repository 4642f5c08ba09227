"""The member's own routes, behind the token authorizer.

The member id always comes from the verified token (the authorizer's
principal), never from the path or body: a member can only reach themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import AuthRequest, AuthResponse, Response

from ...lazy import lazy_module
from ...observability import logger
from ..http import ApiBlueprint, answer_response, idempotency_key, json_response, member_id_of, parse_body, query_cursor, query_limit

if TYPE_CHECKING:
    from ...domain import tokens
    from ...usecases import members, redemptions
    from ..schemas import members as schemas
else:
    schemas = lazy_module("chalicelib.api.schemas.members")
    tokens = lazy_module("chalicelib.domain.tokens")
    members = lazy_module("chalicelib.usecases.members")
    redemptions = lazy_module("chalicelib.usecases.redemptions")

bp = ApiBlueprint(__name__)


class TokenRefused(Exception):
    """Raised with the message "Unauthorized": API Gateway's way to answer 401."""


# API Gateway caches the authorizer's answer per token. Kept short: an expired token, a closed
# membership or a signed-out token stops working within this many seconds everywhere, and at
# once on the routes that read the member anyway (they refuse a closed membership themselves).
AUTHORIZER_CACHE_SECONDS = 30


@bp.authorizer(ttl_seconds=AUTHORIZER_CACHE_SECONDS)
def member_token(auth_request: AuthRequest) -> AuthResponse:
    """A valid token of a membership that is not closed, from the current token epoch (not signed
    out since): usecases/members.authenticate. Frozen members pass: they may read, and every
    action they may not take answers 403 member_frozen."""
    token = (auth_request.token or "").strip()
    scheme, _, value = token.partition(" ")
    if scheme.lower() != "bearer" or not value:
        raise TokenRefused("Unauthorized")
    try:
        member_id = members.authenticate(value.strip())
    except tokens.InvalidToken as exc:
        logger.info("token refused", extra={"reason": str(exc)})
        raise TokenRefused("Unauthorized") from None
    return AuthResponse(routes=["*"], principal_id=member_id)


@bp.route("/v1/me/sign-out", methods=["POST"], authorizer=member_token)
def sign_out() -> Response:
    members.sign_out(member_id_of(bp.current_request))
    return Response(body="", status_code=204, headers={"Cache-Control": "no-store"})


@bp.route("/v1/me", methods=["GET"], authorizer=member_token)
def me() -> Response:
    return json_response(members.active_member_view(member_id_of(bp.current_request)))


@bp.route("/v1/me/ledger", methods=["GET"], authorizer=member_token)
def my_ledger() -> Response:
    request = bp.current_request
    return json_response(members.ledger_page(member_id_of(request), query_limit(request), query_cursor(request)))


@bp.route("/v1/me/redemptions", methods=["POST"], authorizer=member_token)
def redeem() -> Response:
    request = bp.current_request
    body = parse_body(request, schemas.RedemptionRequest)
    return answer_response(redemptions.redeem_reward(member_id_of(bp.current_request), idempotency_key(request), body.reward_id))
