"""Who may call the operator API, and who the audit trail names."""

import pytest
from chalice import IAMAuthorizer

from chalicelib.api.routes.admin import operator_of, route_authorizer
from chalicelib.domain.errors import Forbidden, ValidationFailed
from chalicelib.settings import Settings

ARN = "arn:aws:sts::123456789012:assumed-role/HuiyuanOperator/li.na"


def test_given_any_stage_then_admin_routes_carry_the_iam_authorizer():
    # Even the local stage's routes: a deployment with a missing stage setting stays closed.
    for stage in ("prod", "dev", "local"):
        assert isinstance(route_authorizer(Settings(stage=stage)), IAMAuthorizer)


def test_given_the_app_then_every_admin_route_is_behind_iam():
    from app import app

    admin = [(path, method, entry) for path, methods in app.routes.items() if path.startswith("/v1/admin") for method, entry in methods.items()]
    assert admin
    assert all(isinstance(entry.authorizer, IAMAuthorizer) for _, _, entry in admin)


def test_given_a_deployed_call_then_the_actor_is_the_iam_principal_and_x_operator_cannot_forge_it():
    context = {"identity": {"userArn": ARN, "caller": "AROAEXAMPLE:li.na"}}
    assert operator_of(context, {"x-operator": "someone-else"}, local_open=False) == ARN
    assert operator_of({"identity": {"caller": "AROAEXAMPLE:li.na"}}, {}, local_open=False) == "AROAEXAMPLE:li.na"


def test_given_a_deployed_call_without_an_iam_identity_then_it_is_refused_rather_than_done_unaudited():
    with pytest.raises(Forbidden):
        operator_of({"identity": {"sourceIp": "10.0.0.1"}}, {}, local_open=False)


def test_given_the_local_stage_then_the_actor_is_the_local_operator_optionally_named():
    assert operator_of({}, {}, local_open=True) == "local-operator"
    assert operator_of({}, {"x-operator": "li.na@example.com"}, local_open=True) == "local-operator:li.na@example.com"
    with pytest.raises(ValidationFailed):
        operator_of({}, {"x-operator": "bad\nname"}, local_open=True)


def test_a_clients_address_is_its_ip_and_an_ipv6_client_is_its_64_network():
    from types import SimpleNamespace

    from chalicelib.api.http import client_address

    def of(ip: str | None) -> str:
        return client_address(SimpleNamespace(context={"identity": {"sourceIp": ip}}, headers={}))  # type: ignore[arg-type]

    assert of("203.0.113.7") == "203.0.113.7"
    assert of("2001:db8:1:2:aaaa::1") == of("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert of("2001:db8:1:3::1") != of("2001:db8:1:2::1")
    assert of("::ffff:203.0.113.7") == "203.0.113.7"
    assert of(None) == "unknown"
