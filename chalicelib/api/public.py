"""Routes anyone may call: health and the rewards catalogue."""

from __future__ import annotations

from chalice import Response

from ..usecases.members import reward_catalogue
from .http import ApiBlueprint, json_response

bp = ApiBlueprint(__name__)


@bp.route("/v1/health", methods=["GET"])
def health() -> Response:
    return json_response({"status": "ok"})


@bp.route("/v1/rewards", methods=["GET"])
def list_rewards() -> Response:
    return json_response(reward_catalogue())
