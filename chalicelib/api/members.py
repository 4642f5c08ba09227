"""The member's own routes, behind the token authorizer.

The member id always comes from the verified token (the authorizer's
principal), never from the path or body: a member can only reach themselves.
"""

from __future__ import annotations

from chalice import AuthResponse, Response
from chalice.app import AuthRequest

from ..observability import logger
from ..schemas import RedemptionRequest
from ..store.parameters import signing_key
from ..tokens import InvalidToken, member_id_from_token
from ..usecases.members import active_member_view, ledger_page
from ..usecases.redemptions import redeem_reward
from .http import ApiBlueprint, json_response, parse_body, query_cursor, query_limit

bp = ApiBlueprint(__name__)


class TokenRefused(Exception):
    """Raised with the message "Unauthorized": API Gateway's way to answer 401."""


@bp.authorizer(ttl_seconds=300)
def member_token(auth_request: AuthRequest) -> AuthResponse:
    token = (auth_request.token or "").strip()
    scheme, _, value = token.partition(" ")
    if scheme.lower() != "bearer" or not value:
        raise TokenRefused("Unauthorized")
    try:
        member_id = member_id_from_token(signing_key(), value.strip())
    except InvalidToken as exc:
        logger.info("token refused", extra={"reason": str(exc)})
        raise TokenRefused("Unauthorized") from None
    return AuthResponse(routes=["*"], principal_id=member_id)


def _member_id() -> str:
    principal = bp.current_request.context["authorizer"]["principalId"]
    assert isinstance(principal, str)
    return principal


@bp.route("/v1/me", methods=["GET"], authorizer=member_token)
def me() -> Response:
    return json_response(active_member_view(_member_id()))


@bp.route("/v1/me/ledger", methods=["GET"], authorizer=member_token)
def my_ledger() -> Response:
    request = bp.current_request
    return json_response(ledger_page(_member_id(), query_limit(request), query_cursor(request)))


@bp.route("/v1/me/redemptions", methods=["POST"], authorizer=member_token)
def redeem() -> Response:
    request = bp.current_request
    body = parse_body(request, RedemptionRequest)
    outcome = redeem_reward(_member_id(), request.headers.get("idempotency-key"), body.reward_id)
    return json_response(outcome.body, status=outcome.status)
