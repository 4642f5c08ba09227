"""Web frontends call the API from their own origin: CORS preflights and headers."""

import pytest
import requests

pytestmark = pytest.mark.e2e

ORIGIN = "http://localhost:3000"  # the local stage's CORS_ALLOW_ORIGIN


def test_given_a_browser_preflight_then_the_frontend_origin_and_headers_are_allowed(stack):
    reply = requests.options(
        stack.url("/v1/me/redemptions"),
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,idempotency-key"},
        timeout=10,
    )
    assert reply.status_code == 200
    assert reply.headers["Access-Control-Allow-Origin"] == ORIGIN
    allowed = reply.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "idempotency-key" in allowed
    assert "POST" in reply.headers["Access-Control-Allow-Methods"]


def test_given_a_cross_origin_call_then_the_answer_carries_the_allowed_origin(stack):
    reply = requests.get(stack.url("/v1/rewards"), headers={"Origin": ORIGIN}, timeout=10)
    assert reply.status_code == 200
    assert reply.headers["Access-Control-Allow-Origin"] == ORIGIN
