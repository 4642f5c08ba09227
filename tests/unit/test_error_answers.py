"""api/http.py's error_response: the one place an exception a route meets becomes an answer."""

import json

from botocore.exceptions import ClientError
from pynamodb.exceptions import GetError

from chalicelib.api.http import error_response
from chalicelib.domain.errors import NotFound


def _problem(response):
    assert response.headers["Content-Type"] == "application/problem+json"
    return json.loads(response.body)


def test_given_a_domain_error_then_the_caller_gets_its_problem():
    response = error_response(NotFound("No member mbr_1"), None)
    assert response.status_code == 404
    assert _problem(response) | {"type": None} == {
        "type": None,
        "title": NotFound.title,
        "status": 404,
        "detail": "No member mbr_1",
        "code": "not_found",
    }


def test_given_the_store_throttled_beyond_its_retries_then_503_retryable():
    cause = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "GetItem")
    throttled = GetError("Failed to get item", cause)
    response = error_response(throttled, None)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert _problem(response)["code"] == "temporarily_unavailable"


def test_given_an_unexpected_error_then_a_generic_500_that_leaks_nothing():
    try:
        raise RuntimeError("member +8613800138000 broke it")
    except RuntimeError as exc:
        response = error_response(exc, None)
    assert response.status_code == 500
    body = _problem(response)
    assert body["code"] == "internal_error"
    assert "13800138000" not in response.body and "broke" not in response.body
