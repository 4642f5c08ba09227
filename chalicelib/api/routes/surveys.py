"""Surveys (问卷): operators define and publish them, members answer once (docs/surveys.md).

| caller   | routes                                                                        |
|----------|-------------------------------------------------------------------------------|
| operator | POST and GET /v1/admin/surveys, GET /v1/admin/surveys/{survey_id},             |
|          | POST /v1/admin/surveys/{survey_id}/publish and /close,                        |
|          | GET /v1/admin/surveys/{survey_id}/free-text (audited)                         |
| member   | GET /v1/me/surveys, GET /v1/me/surveys/{survey_id},                           |
|          | POST /v1/me/surveys/{survey_id}/responses                                     |
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from ...lazy import lazy_module
from ..http import ApiBlueprint, answer_response, json_response, parse_body, path_id, query_cursor, query_limit
from . import admin
from .members import member_route

if TYPE_CHECKING:
    from ...usecases import surveys
    from ...usecases.sessions import MemberSession
    from ..schemas import surveys as schemas
else:
    schemas = lazy_module("chalicelib.api.schemas.surveys")
    surveys = lazy_module("chalicelib.usecases.surveys")

bp = ApiBlueprint(__name__)


def _actor() -> str:
    return admin.actor_of(bp.current_request)


def _survey_id(raw: str) -> str:
    return path_id(raw, "survey_id")


# --- operators --------------------------------------------------------------------------------


@admin.operator_route(bp, "/v1/admin/surveys", "POST")
def create_survey() -> Response:
    body = parse_body(bp.current_request, schemas.SurveyRequest)
    return answer_response(surveys.create_survey(body, _actor()))


@admin.operator_route(bp, "/v1/admin/surveys", "GET")
def list_surveys() -> Response:
    request = bp.current_request
    return json_response(surveys.survey_list(query_limit(request), query_cursor(request)))


@admin.operator_route(bp, "/v1/admin/surveys/{survey_id}", "GET")
def get_survey(survey_id: str) -> Response:
    return json_response(surveys.survey_with_results(_survey_id(survey_id)))


@admin.operator_route(bp, "/v1/admin/surveys/{survey_id}/publish", "POST")
def publish_survey(survey_id: str) -> Response:
    return json_response(surveys.publish_survey(_survey_id(survey_id), _actor()))


@admin.operator_route(bp, "/v1/admin/surveys/{survey_id}/close", "POST")
def close_survey(survey_id: str) -> Response:
    return json_response(surveys.close_survey(_survey_id(survey_id), _actor()))


@admin.operator_route(bp, "/v1/admin/surveys/{survey_id}/free-text", "GET")
def free_text_answers(survey_id: str) -> Response:
    request = bp.current_request
    return json_response(surveys.free_text_answers(_survey_id(survey_id), _actor(), query_limit(request), query_cursor(request)))


# --- members ----------------------------------------------------------------------------------


@member_route(bp, "/v1/me/surveys", "GET")
def my_surveys(session: MemberSession) -> Response:
    return json_response(surveys.my_surveys(session))


@member_route(bp, "/v1/me/surveys/{survey_id}", "GET")
def my_survey(session: MemberSession, survey_id: str) -> Response:
    return json_response(surveys.my_survey(session, _survey_id(survey_id)))


@member_route(bp, "/v1/me/surveys/{survey_id}/responses", "POST")
def answer_survey(session: MemberSession, survey_id: str) -> Response:
    body = parse_body(bp.current_request, schemas.SurveyAnswersRequest)
    return answer_response(surveys.answer_survey(session, _survey_id(survey_id), body))
