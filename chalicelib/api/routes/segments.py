"""Segments (docs/analytics.md): saved definitions over the analytics build, their preview, their
audiences and bulk tag changes. Operator routes, authorised as admin.py's are.

| route                                                  | does                                        |
|--------------------------------------------------------|---------------------------------------------|
| POST /v1/admin/segments, GET /v1/admin/segments        | save one (202: its count queued), list      |
| GET, PUT, DELETE /v1/admin/segments/{segment_id}       | read, replace (202), delete (audited)       |
| POST /v1/admin/segments/{segment_id}/preview           | size and a sample, as last counted          |
| POST /v1/admin/segments/{segment_id}/audiences         | count its audience again (202, queued)      |
| POST /v1/admin/segments/{segment_id}/tags              | a bulk tag change (202, a job run)          |
| GET /v1/admin/segments/{segment_id}/tags/{run_id}      | that change's progress                      |
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from chalice.app import Response

from ...domain.errors import NotFound
from ...lazy import lazy_module
from ..http import ApiBlueprint, json_response, parse_body, query_cursor, query_limit
from . import admin

if TYPE_CHECKING:
    from ...usecases.operations import segments
    from ..schemas import operators as schemas_admin
    from ..schemas import segments as schemas
else:
    schemas = lazy_module("chalicelib.api.schemas.segments")
    schemas_admin = lazy_module("chalicelib.api.schemas.operators")
    segments = lazy_module("chalicelib.usecases.operations.segments")

bp = ApiBlueprint(__name__)
_SEGMENT_ID = re.compile(r"seg_[0-9a-f]{12}", re.ASCII)
_RUN_ID = re.compile(r"[0-9]{8}T[0-9]{6}-[0-9a-f]{6}", re.ASCII)


def _actor() -> str:
    return admin.actor_of(bp.current_request)


def _segment_id(value: str) -> str:
    if not _SEGMENT_ID.fullmatch(value):
        raise NotFound(f"No segment {value[:64]}")
    return value


@admin.operator_route(bp, "/v1/admin/segments", "POST")
def create_segment() -> Response:
    body = parse_body(bp.current_request, schemas.SegmentRequest)
    saved = segments.create_segment(body.name, body.definition, _actor())
    return json_response(saved, status=202 if saved["status"] == "computing" else 201)


@admin.operator_route(bp, "/v1/admin/segments", "GET")
def list_segments() -> Response:
    request = bp.current_request
    return json_response(segments.list_segments(query_limit(request), query_cursor(request)))


@admin.operator_route(bp, "/v1/admin/segments/{segment_id}", "GET")
def get_segment(segment_id: str) -> Response:
    return json_response(segments.get_segment(_segment_id(segment_id)))


@admin.operator_route(bp, "/v1/admin/segments/{segment_id}", "PUT")
def replace_segment(segment_id: str) -> Response:
    _segment_id(segment_id)
    body = parse_body(bp.current_request, schemas.SegmentRequest)
    saved = segments.update_segment(segment_id, body.name, body.definition, _actor())
    return json_response(saved, status=202 if saved["status"] == "computing" else 200)


@admin.operator_route(bp, "/v1/admin/segments/{segment_id}", "DELETE")
def delete_segment(segment_id: str) -> Response:
    _segment_id(segment_id)
    request = bp.current_request
    reason = parse_body(request, schemas_admin.OptionalReasonRequest).reason if (request.raw_body or b"").strip() else None
    return json_response(segments.delete_segment(segment_id, _actor(), reason))


@admin.operator_route(bp, "/v1/admin/segments/{segment_id}/preview", "POST")
def preview_segment(segment_id: str) -> Response:
    """Size and a sample as the last count of the segment's version wrote them: nothing written."""
    return json_response(segments.preview_segment(_segment_id(segment_id)))


@admin.operator_route(bp, "/v1/admin/segments/{segment_id}/audiences", "POST")
def write_segment_audience(segment_id: str) -> Response:
    return json_response(segments.write_audience(_segment_id(segment_id)), status=202)


@admin.operator_route(bp, "/v1/admin/segments/{segment_id}/tags", "POST")
def change_segment_tags(segment_id: str) -> Response:
    _segment_id(segment_id)
    body = parse_body(bp.current_request, schemas_admin.TagsChangeRequest)
    return json_response(segments.start_tag_change(segment_id, body.add, body.remove, body.reason, _actor()), status=202)


@admin.operator_route(bp, "/v1/admin/segments/{segment_id}/tags/{run_id}", "GET")
def segment_tags_progress(segment_id: str, run_id: str) -> Response:
    _segment_id(segment_id)
    if not _RUN_ID.fullmatch(run_id):
        raise NotFound(f"No tag change {run_id[:64]}")
    return json_response(segments.tag_change_progress(segment_id, run_id))
