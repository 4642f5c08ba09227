"""Campaigns to a segment (operators): create (now or at `send_at`), list, look at with results,
dry run, cancel. usecases/campaigns.py says how they fan out.

Operator routes are authorised as admin.py's are: IAM (SigV4) when deployed, open in the local
stage only (and marked so in every response).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from ...domain.errors import NotFound
from ...lazy import lazy_module
from ..formats import IDENTIFIER_PATTERN
from ..http import ApiBlueprint, answer_response, json_response, parse_body, query_cursor, query_limit
from . import admin

if TYPE_CHECKING:
    from ...usecases import campaigns
    from ..schemas import campaigns as schemas
else:
    schemas = lazy_module("chalicelib.api.schemas.campaigns")
    campaigns = lazy_module("chalicelib.usecases.campaigns")

bp = ApiBlueprint(__name__)


def _actor() -> str:
    return admin.actor_of(bp.current_request)


def _campaign_id(value: str) -> str:
    if len(value) > 64 or not IDENTIFIER_PATTERN.fullmatch(value):
        raise NotFound("No such campaign")
    return value


@admin.operator_route(bp, "/v1/admin/campaigns", "POST")
def create_campaign() -> Response:
    body = parse_body(bp.current_request, schemas.CampaignRequest)
    return answer_response(campaigns.create_campaign(body, _actor()))


@admin.operator_route(bp, "/v1/admin/campaigns", "GET")
def list_campaigns() -> Response:
    request = bp.current_request
    return json_response(campaigns.list_campaigns(query_limit(request), query_cursor(request)))


@admin.operator_route(bp, "/v1/admin/campaigns/{campaign_id}", "GET")
def get_campaign(campaign_id: str) -> Response:
    return json_response(campaigns.campaign_details(_campaign_id(campaign_id)))


@admin.operator_route(bp, "/v1/admin/campaigns/{campaign_id}/dry-run", "POST")
def dry_run_campaign(campaign_id: str) -> Response:
    return json_response(campaigns.dry_run_campaign(_campaign_id(campaign_id)))


@admin.operator_route(bp, "/v1/admin/campaigns/{campaign_id}/cancel", "POST")
def cancel_campaign(campaign_id: str) -> Response:
    return json_response(campaigns.cancel(_campaign_id(campaign_id), _actor()))


@admin.operator_route(bp, "/v1/admin/campaigns/{campaign_id}/outcomes", "POST")
def count_outcomes(campaign_id: str) -> Response:
    return answer_response(campaigns.request_outcomes(_campaign_id(campaign_id), _actor()))
