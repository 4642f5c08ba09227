"""Scan-to-earn product codes (一物一码).

| caller   | routes                                                                   |
|----------|--------------------------------------------------------------------------|
| member   | POST /v1/me/product-codes                                                |
| operator | POST /v1/admin/product-codes, GET /v1/admin/product-codes/{batch_id},    |
|          | POST /v1/admin/product-codes/{batch_id}/revoke                           |

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
from .members import member_route

if TYPE_CHECKING:
    from ...usecases import product_codes
    from ...usecases.operations import product_codes as operations
    from ...usecases.sessions import MemberSession
    from ..schemas import operators as schemas_admin
    from ..schemas import product_codes as schemas
else:
    schemas = lazy_module("chalicelib.api.schemas.product_codes")
    schemas_admin = lazy_module("chalicelib.api.schemas.operators")
    product_codes = lazy_module("chalicelib.usecases.product_codes")
    operations = lazy_module("chalicelib.usecases.operations.product_codes")

bp = ApiBlueprint(__name__)


@member_route(bp, "/v1/me/product-codes", "POST")
def scan_product_code(session: MemberSession) -> Response:
    body = parse_body(bp.current_request, schemas.ProductCodeScanRequest)
    return answer_response(product_codes.redeem_product_code(session, body.code))


def _actor() -> str:
    return admin.actor_of(bp.current_request)


def _batch_id(value: str) -> str:
    if len(value) > 64 or not IDENTIFIER_PATTERN.fullmatch(value):
        raise NotFound("No such batch")
    return value


@admin.operator_route(bp, "/v1/admin/product-codes", "POST")
def generate_product_codes() -> Response:
    request = bp.current_request
    key = optional_idempotency_key(request)
    body = parse_body(request, schemas.ProductCodeBatchRequest)
    return answer_response(operations.generate_batch(body, _actor(), key))


@admin.operator_route(bp, "/v1/admin/product-codes/{batch_id}", "GET")
def product_code_batch(batch_id: str) -> Response:
    return json_response(operations.batch_status(_batch_id(batch_id)))


@admin.operator_route(bp, "/v1/admin/product-codes/{batch_id}/revoke", "POST")
def revoke_product_codes(batch_id: str) -> Response:
    _batch_id(batch_id)
    request = bp.current_request
    reason = parse_body(request, schemas_admin.OptionalReasonRequest).reason if (request.raw_body or b"").strip() else None
    return json_response(operations.revoke_batch(batch_id, _actor(), reason))
