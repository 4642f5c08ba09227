import pytest

pytestmark = pytest.mark.e2e


def test_given_the_local_stack_when_asking_for_health_then_it_answers_ok(stack):
    import requests

    reply = requests.get(stack.url("/v1/health"), timeout=5)
    assert reply.status_code == 200
    assert reply.json() == {"status": "ok"}
