"""Bulk import of members (operators): create an import and get its upload URL, start it, watch it.

| caller   | routes                                                                      |
|----------|-----------------------------------------------------------------------------|
| operator | POST /v1/admin/imports, POST /v1/admin/imports/{import_id}/start,           |
|          | GET /v1/admin/imports/{import_id}                                           |

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
    from ...usecases.operations import member_imports
    from ..schemas import imports as schemas
else:
    schemas = lazy_module("chalicelib.api.schemas.imports")
    member_imports = lazy_module("chalicelib.usecases.operations.member_imports")

bp = ApiBlueprint(__name__)


def _import_id(value: str) -> str:
    if len(value) > 64 or not IDENTIFIER_PATTERN.fullmatch(value):
        raise NotFound("No such import")
    return value


@admin.operator_route(bp, "/v1/admin/imports", "POST")
def create_import() -> Response:
    request = bp.current_request
    key = optional_idempotency_key(request)
    body = parse_body(request, schemas.ImportRequest) if (request.raw_body or b"").strip() else schemas.ImportRequest()
    return answer_response(member_imports.create_import(body, admin.actor_of(request), key))


@admin.operator_route(bp, "/v1/admin/imports/{import_id}/start", "POST")
def start_import(import_id: str) -> Response:
    return answer_response(member_imports.start_import(_import_id(import_id), admin.actor_of(bp.current_request)))


@admin.operator_route(bp, "/v1/admin/imports/{import_id}", "GET")
def import_status(import_id: str) -> Response:
    return json_response(member_imports.import_status(_import_id(import_id)))
