"""Webhook endpoints (operators): /v1/admin/webhooks, audited.

| route                                         | does                                                  |
|-----------------------------------------------|-------------------------------------------------------|
| POST /v1/admin/webhooks                       | register an endpoint; the answer shows its secret once |
| GET /v1/admin/webhooks                        | list endpoints and their delivery status              |
| GET /v1/admin/webhooks/{webhook_id}           | one endpoint, with its dead-lettered deliveries       |
| PATCH /v1/admin/webhooks/{webhook_id}         | enable / disable, event types, description            |
| POST /v1/admin/webhooks/{webhook_id}/secret   | rotate the secret (shown once)                        |
| DELETE /v1/admin/webhooks/{webhook_id}        | remove the endpoint                                   |
| POST /v1/admin/webhooks/{webhook_id}/replays  | deliver the dead-lettered deliveries again            |

Authorised as admin.py's routes are: IAM (SigV4) when deployed, open in the local stage only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from ...lazy import lazy_module
from ..http import ApiBlueprint, json_response, parse_body, path_id, query_cursor, query_limit
from . import admin

if TYPE_CHECKING:
    from ...usecases import webhooks
    from ..schemas import webhooks as schemas
else:
    schemas = lazy_module("chalicelib.api.schemas.webhooks")
    webhooks = lazy_module("chalicelib.usecases.webhooks")

bp = ApiBlueprint(__name__)


def _actor() -> str:
    return admin.actor_of(bp.current_request)


def _id(webhook_id: str) -> str:
    return path_id(webhook_id, "webhook_id")


@admin.operator_route(bp, "/v1/admin/webhooks", "POST")
def create_webhook() -> Response:
    return json_response(webhooks.create_webhook(parse_body(bp.current_request, schemas.WebhookCreateRequest), _actor()), status=201)


@admin.operator_route(bp, "/v1/admin/webhooks", "GET")
def list_webhooks() -> Response:
    request = bp.current_request
    return json_response(webhooks.list_webhooks(query_limit(request), query_cursor(request)))


@admin.operator_route(bp, "/v1/admin/webhooks/{webhook_id}", "GET")
def get_webhook(webhook_id: str) -> Response:
    return json_response(webhooks.get_webhook(_id(webhook_id)))


@admin.operator_route(bp, "/v1/admin/webhooks/{webhook_id}", "PATCH")
def update_webhook(webhook_id: str) -> Response:
    body = parse_body(bp.current_request, schemas.WebhookUpdateRequest)
    return json_response(webhooks.update_webhook(_id(webhook_id), body, _actor()))


@admin.operator_route(bp, "/v1/admin/webhooks/{webhook_id}/secret", "POST")
def rotate_webhook_secret(webhook_id: str) -> Response:
    return json_response(webhooks.rotate_secret(_id(webhook_id), _actor()))


@admin.operator_route(bp, "/v1/admin/webhooks/{webhook_id}", "DELETE")
def delete_webhook(webhook_id: str) -> Response:
    webhooks.delete_webhook(_id(webhook_id), _actor())
    return Response(body="", status_code=204)


@admin.operator_route(bp, "/v1/admin/webhooks/{webhook_id}/replays", "POST")
def replay_webhook_deliveries(webhook_id: str) -> Response:
    return json_response(webhooks.replay_dead_letters(_id(webhook_id), _actor()), status=202)
