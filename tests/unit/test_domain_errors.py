"""Domain errors (chalicelib/domain/errors.py) as the caller receives them: the problem+json answer."""

import pytest

from chalicelib.api.problems import problem
from chalicelib.domain.errors import (
    FieldError,
    HuiyuanError,
    InsufficientPoints,
    MemberFrozen,
    NotFound,
    TemporarilyUnavailable,
    TooManyAttempts,
    ValidationFailed,
)


def test_given_an_error_without_a_detail_then_the_caller_reads_its_title_as_the_detail():
    status, headers, body = problem(NotFound())
    assert status == 404
    assert body == {
        "type": "https://huiyuan.example/problems/not_found",
        "title": "Not found",
        "status": 404,
        "detail": "Not found",
        "code": "not_found",
    }
    assert "Retry-After" not in headers
    assert str(NotFound()) == "Not found"


def test_given_an_error_with_a_detail_then_the_caller_reads_that_detail_under_the_stable_title():
    error = InsufficientPoints("The reward costs 500 points; the balance is 300")
    _, _, body = problem(error)
    assert body["title"] == "Not enough points"
    assert body["detail"] == "The reward costs 500 points; the balance is 300"
    assert str(error) == "The reward costs 500 points; the balance is 300"


def test_given_an_error_that_says_when_to_retry_then_the_caller_gets_a_retry_after_header():
    assert problem(TooManyAttempts("Wait a minute", retry_after=60))[1]["Retry-After"] == "60"
    assert problem(TemporarilyUnavailable())[1]["Retry-After"] == "1"  # the class default
    assert problem(TemporarilyUnavailable(retry_after=None))[1]["Retry-After"] == "1"  # None keeps it
    assert "Retry-After" not in problem(MemberFrozen())[1]
    assert HuiyuanError().retry_after is None


def test_given_invalid_fields_then_the_caller_reads_each_field_and_message_and_a_detail_naming_them_all():
    error = ValidationFailed([FieldError("phone", "not a phone number"), FieldError("birthday", "must not be in the future")])
    status, _, body = problem(error)
    assert status == 400
    assert body["code"] == "validation_error"
    assert body["detail"] == "phone: not a phone number; birthday: must not be in the future"
    assert body["errors"] == [
        {"field": "phone", "message": "not a phone number"},
        {"field": "birthday", "message": "must not be in the future"},
    ]
    assert error.errors == [FieldError("phone", "not a phone number"), FieldError("birthday", "must not be in the future")]


def test_given_one_invalid_field_then_single_answers_it_with_its_own_detail_when_given():
    _, _, body = problem(ValidationFailed.single("tier", "must be one of member, silver, gold"))
    assert body["detail"] == "tier: must be one of member, silver, gold"
    assert body["errors"] == [{"field": "tier", "message": "must be one of member, silver, gold"}]
    _, _, explained = problem(ValidationFailed([FieldError("phone", "missing")], "Give a phone"))
    assert explained["detail"] == "Give a phone"


@pytest.mark.parametrize("error", [NotFound(), MemberFrozen(), TemporarilyUnavailable()])
def test_an_error_without_fields_adds_nothing_to_the_problem_body(error):
    assert set(problem(error)[2]) == {"type", "title", "status", "detail", "code"}
