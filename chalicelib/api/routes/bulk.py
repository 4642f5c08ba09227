"""Operators' bulk grants and exports.

| caller   | routes                                                                          |
|----------|---------------------------------------------------------------------------------|
| operator | POST /v1/admin/grants, GET /v1/admin/grants/{batch_id},                         |
|          | POST /v1/admin/grants/{batch_id}/start,                                         |
|          | POST /v1/admin/exports, GET /v1/admin/exports/{export_id}                       |

Operator routes are authorised as admin.py's are: IAM (SigV4) when deployed, open in the local
stage only (and marked so in every response).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from ...domain.errors import NotFound
from ...lazy import lazy_module
from ..formats import IDENTIFIER_PATTERN
from ..http import ApiBlueprint, answer_response, json_response, optional_idempotency_key, parse_body
from . import admin

if TYPE_CHECKING:
    from ...usecases.operations import bulk_exports, bulk_grants
    from ..schemas import bulk as schemas
else:
    schemas = lazy_module("chalicelib.api.schemas.bulk")
    bulk_grants = lazy_module("chalicelib.usecases.operations.bulk_grants")
    bulk_exports = lazy_module("chalicelib.usecases.operations.bulk_exports")

bp = ApiBlueprint(__name__)


def _actor() -> str:
    return admin.actor_of(bp.current_request)


def _id(value: str, what: str) -> str:
    if len(value) > 64 or not IDENTIFIER_PATTERN.fullmatch(value):
        raise NotFound(f"No such {what}")
    return value


@admin.operator_route(bp, "/v1/admin/grants", "POST")
def create_grant_batch() -> Response:
    request = bp.current_request
    key = optional_idempotency_key(request)
    body = parse_body(request, schemas.GrantBatchRequest)
    return answer_response(bulk_grants.create_batch(body, _actor(), key))


@admin.operator_route(bp, "/v1/admin/grants/{batch_id}", "GET")
def grant_batch(batch_id: str) -> Response:
    return json_response(bulk_grants.batch_status(_id(batch_id, "grant batch")))


@admin.operator_route(bp, "/v1/admin/grants/{batch_id}/start", "POST")
def start_grant_batch(batch_id: str) -> Response:
    return answer_response(bulk_grants.start_batch(_id(batch_id, "grant batch"), _actor()))


@admin.operator_route(bp, "/v1/admin/exports", "POST")
def create_export() -> Response:
    request = bp.current_request
    key = optional_idempotency_key(request)
    body = parse_body(request, schemas.ExportRequest)
    return answer_response(bulk_exports.create_export(body, _actor(), key))


@admin.operator_route(bp, "/v1/admin/exports/{export_id}", "GET")
def data_export(export_id: str) -> Response:
    return json_response(bulk_exports.export_status(_id(export_id, "export")))
