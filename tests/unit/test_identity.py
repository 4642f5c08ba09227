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


# --- codes: digests that are stored must never change, or what is stored stops matching ------------

PEPPER = b"p" * 32


def test_a_merchant_api_key_is_kept_as_its_sha256_so_keys_issued_before_a_deploy_still_work():
    # The digest of a key issued yesterday: if this changes, every merchant is locked out.
    assert codes.key_digest("hy_live_0123456789abcdef") == "895b37fedd006adfd93c0f31b131f128cc6894e666589b607546d940681e6739"
    assert codes.key_digest("hy_live_0123456789abcdeg") != codes.key_digest("hy_live_0123456789abcdef")


def test_a_code_digest_is_the_keyed_hash_of_salt_phone_and_code_so_a_code_sent_before_a_deploy_still_matches():
    digest = "5d19a7b25d6e8f34825664f6168748a073cb8d23257bd99dab763163a5c318d4"
    assert codes.code_digest(PEPPER, "00ff", "+8613800138000", "123456") == digest
    assert codes.code_matches(PEPPER, "00ff", "+8613800138000", "123456", digest)


def test_a_client_or_recipient_is_kept_as_a_short_keyed_digest_that_names_neither():
    digest = codes.subject_digest(PEPPER, "client", "203.0.113.7")
    assert digest == "c3e1c4470b5b20059de12e7c32a98282"  # the counters written before a deploy still count
    assert codes.subject_digest(PEPPER, "recipient", "203.0.113.7") != digest
    assert codes.subject_digest(b"q" * 32, "client", "203.0.113.7") != digest


def test_every_code_gets_its_own_salt_of_16_random_bytes():
    salts = {codes.new_salt() for _ in range(50)}
    assert len(salts) == 50
    assert all(len(s) == 32 and int(s, 16) >= 0 for s in salts)


# --- phones: what a member who typed a number is told -----------------------------------------


def _refusal(raw) -> str:
    with pytest.raises(InvalidPhone) as refused:
        normalise_phone(raw, "CN")
    return str(refused.value)


def test_given_something_that_is_not_a_number_then_the_member_is_told_it_is_not_a_phone_number():
    assert _refusal("") == "not a phone number"
    assert _refusal("   ") == "not a phone number"
    assert _refusal("abc") == "not a phone number"
    assert _refusal(None) == "not a phone number"
    assert _refusal(13800138000) == "not a phone number"


def test_given_a_number_that_does_not_exist_then_the_member_is_told_it_is_not_valid():
    assert _refusal("12345") == "not a valid phone number"
    assert _refusal("+86 1380013800000000") == "not a valid phone number"


def test_given_a_valid_number_padded_with_spaces_then_32_characters_are_accepted_and_33_are_not():
    number = "+8613800138000"
    assert normalise_phone(number.ljust(32), "CN") == number
    assert _refusal(number.ljust(33)) == "not a phone number"


# --- tokens: what a member's app holds, and which tokens are refused (and why, in the log) ------


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _signed(**claims) -> str:
    return jwt.encode({key: value for key, value in claims.items() if value is not None}, SECRET, algorithm="HS256")


def _valid_claims(**overrides) -> dict:
    now = int(time.time())
    return {"iss": tokens.ISSUER, "aud": tokens.AUDIENCE, "sub": "mbr_1", "iat": now, "exp": now + 900, **overrides}


def _reason(token: str) -> str:
    with pytest.raises(tokens.InvalidToken) as refused:
        tokens.access_claims(SECRET, token)
    return str(refused.value)


def test_a_token_carries_its_member_issuer_audience_times_epoch_and_a_unique_id_in_hs256():
    now = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    token = tokens.issue_access_token(SECRET, "mbr_1", now, 900, epoch=3)
    claims = _claims(token)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert claims == {
        "iss": "huiyuan",
        "aud": "huiyuan:member",
        "sub": "mbr_1",
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + 900,
        "jti": claims["jti"],
        "ep": 3,
    }
    assert len(claims["jti"]) == 16 and int(claims["jti"], 16) >= 0
    again = tokens.issue_access_token(SECRET, "mbr_1", now, 900, epoch=3)
    assert _claims(again)["jti"] != claims["jti"]  # two sign-ins in the same second get two tokens


def test_a_token_names_the_epoch_it_was_issued_in_and_a_first_sign_in_is_epoch_0():
    assert tokens.access_claims(SECRET, tokens.issue_access_token(SECRET, "mbr_1", _now(), 900, epoch=3)) == tokens.AccessClaims("mbr_1", 3)
    assert tokens.access_claims(SECRET, tokens.issue_access_token(SECRET, "mbr_1", _now(), 900)) == tokens.AccessClaims("mbr_1", 0)


def test_a_token_issued_before_epochs_existed_belongs_to_epoch_0():
    assert tokens.access_claims(SECRET, _signed(**_valid_claims())) == tokens.AccessClaims("mbr_1", 0)


@pytest.mark.parametrize("missing", ["exp", "iat", "iss", "aud"])
def test_a_token_without_a_required_claim_is_refused_and_the_log_says_which_check_failed(missing):
    assert _reason(_signed(**_valid_claims(**{missing: None}))) == "MissingRequiredClaimError"


def test_a_token_without_a_subject_is_refused():
    assert _reason(_signed(**_valid_claims(sub=None))) == "MissingRequiredClaimError"
    assert _reason(_signed(**_valid_claims(sub=""))) == "no subject"


def test_a_token_from_another_issuer_is_refused():
    assert _reason(_signed(**_valid_claims(iss="someone-else"))) == "InvalidIssuerError"


def test_an_expired_or_forged_token_is_refused_and_the_log_says_why():
    assert _reason(tokens.issue_access_token(SECRET, "mbr_1", _now() - timedelta(hours=1), 900)) == "ExpiredSignatureError"
    assert _reason(tokens.issue_access_token(b"x" * 48, "mbr_1", _now(), 900)) == "InvalidSignatureError"


@pytest.mark.parametrize("epoch", [-1, True, "3", 1.5])
def test_a_token_with_an_epoch_that_is_not_a_count_is_refused(epoch):
    assert _reason(_signed(**_valid_claims(ep=epoch))) == "bad epoch"
