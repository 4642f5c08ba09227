"""Phones, codes and tokens."""

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from chalicelib.domain import codes, tokens
from chalicelib.domain.phones import InvalidPhone, normalise_phone

SECRET = b"s" * 48


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("13800138000", "CN", "+8613800138000"),
        ("+8613800138000", "CN", "+8613800138000"),
        ("138 0013 8000", "CN", "+8613800138000"),
        ("+44 20 7946 0958", "CN", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
    ],
)
def test_phones_are_normalised_to_e164(raw, region, expected):
    assert normalise_phone(raw, region) == expected


@pytest.mark.parametrize("raw", ["", "12345", "abc", "+86 1380013800000000", "1" * 40])
def test_invalid_phones_are_refused(raw):
    with pytest.raises(InvalidPhone):
        normalise_phone(raw, "CN")


def test_codes_are_six_digits_and_vary():
    seen = {codes.new_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in seen)
    assert len(seen) > 150


def test_a_code_digest_matches_only_the_same_code_phone_and_key():
    salt = codes.new_salt()
    digest = codes.code_digest(SECRET, salt, "+8613800138000", "123456")
    assert "123456" not in digest
    assert codes.code_matches(SECRET, salt, "+8613800138000", "123456", digest)
    assert not codes.code_matches(SECRET, salt, "+8613800138000", "123457", digest)
    assert not codes.code_matches(SECRET, salt, "+8613800138001", "123456", digest)
    assert not codes.code_matches(b"t" * 48, salt, "+8613800138000", "123456", digest)


def _now():
    return datetime.now(UTC)


def test_a_fresh_token_names_its_member():
    token = tokens.issue_access_token(SECRET, "mbr_1", _now(), 900)
    assert tokens.member_id_from_token(SECRET, token) == "mbr_1"


def test_an_expired_token_is_refused():
    token = tokens.issue_access_token(SECRET, "mbr_1", _now() - timedelta(hours=1), 900)
    with pytest.raises(tokens.InvalidToken):
        tokens.member_id_from_token(SECRET, token)


def test_a_token_signed_with_another_key_is_refused():
    token = tokens.issue_access_token(b"x" * 48, "mbr_1", _now(), 900)
    with pytest.raises(tokens.InvalidToken):
        tokens.member_id_from_token(SECRET, token)


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_an_unsigned_alg_none_token_is_refused():
    claims = {"iss": tokens.ISSUER, "aud": tokens.AUDIENCE, "sub": "mbr_1", "iat": int(time.time()), "exp": int(time.time()) + 900}
    forged = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    with pytest.raises(tokens.InvalidToken):
        tokens.member_id_from_token(SECRET, forged)


def test_a_token_with_another_algorithm_is_refused():
    claims = {"iss": tokens.ISSUER, "aud": tokens.AUDIENCE, "sub": "mbr_1", "iat": int(time.time()), "exp": int(time.time()) + 900}
    other = jwt.encode(claims, SECRET, algorithm="HS512")
    with pytest.raises(tokens.InvalidToken):
        tokens.member_id_from_token(SECRET, other)


def test_a_token_for_another_audience_is_refused():
    claims = {"iss": tokens.ISSUER, "aud": "someone-else", "sub": "mbr_1", "iat": int(time.time()), "exp": int(time.time()) + 900}
    with pytest.raises(tokens.InvalidToken):
        tokens.member_id_from_token(SECRET, jwt.encode(claims, SECRET, algorithm="HS256"))
