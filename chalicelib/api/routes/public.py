"""Routes anyone may call: health and the rewards catalogue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from ...lazy import lazy_module
from ..http import ApiBlueprint, json_response, query_cursor, query_limit

if TYPE_CHECKING:
    from ...usecases import members
else:
    members = lazy_module("chalicelib.usecases.members")

bp = ApiBlueprint(__name__)


@bp.route("/v1/health", methods=["GET"])
def health() -> Response:
    return json_response({"status": "ok"})


@bp.route("/v1/rewards", methods=["GET"])
def list_rewards() -> Response:
    request = bp.current_request
    return json_response(members.reward_catalogue(query_limit(request), query_cursor(request)))
