"""api/routes/members.member_route: a member route answers only after its use case admitted the
caller's session (usecases/sessions.py); one that forgets fails loudly instead of answering."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from chalice.app import Chalice, Response

from chalicelib.api.http import ApiBlueprint
from chalicelib.api.routes.members import member_route
from chalicelib.domain.tokens import AccessClaims
from chalicelib.usecases import sessions
from chalicelib.usecases.sessions import MemberSession
from tests.support.client import ApiClient

TOKEN = {"authorization": "Bearer a-token"}


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> ApiClient:
    monkeypatch.setattr(sessions, "authenticate", lambda token: AccessClaims("mbr_1", 2))
    bp = ApiBlueprint(__name__)

    @member_route(bp, "/v1/me/forgetful", "GET")
    def forgetful(session: MemberSession) -> Response:
        return Response(body="what only the member may read", status_code=200)

    @member_route(bp, "/v1/me/careful", "GET")
    def careful(session: MemberSession) -> Response:
        member = SimpleNamespace(member_id=session.member_id, status="active", erased=False, token_epoch=2)
        session.admit(member)  # type: ignore[arg-type]
        return Response(body=f"{session.member_id} {session.epoch}", status_code=200)

    @member_route(bp, "/v1/me/signed-out", "GET")
    def signed_out(session: MemberSession) -> Response:
        session.admit(SimpleNamespace(status="active", erased=False, token_epoch=3))  # type: ignore[arg-type]
        return Response(body="never", status_code=200)

    app = Chalice(app_name="member-routes")
    app.register_blueprint(bp)
    return ApiClient(app)


def test_given_a_route_whose_use_case_admits_the_session_then_it_answers_with_the_token_s_member_and_epoch(client):
    reply = client.get("/v1/me/careful", headers=TOKEN)
    assert (reply.status, reply.text) == (200, "mbr_1 2")


def test_given_a_route_that_never_admits_the_session_then_it_answers_500_and_not_the_view_s_body(client):
    reply = client.get("/v1/me/forgetful", headers=TOKEN)
    assert reply.status == 500
    assert "member may read" not in reply.text


def test_given_a_token_from_an_older_epoch_then_the_route_answers_401(client):
    reply = client.get("/v1/me/signed-out", headers=TOKEN)
    assert (reply.status, reply.json()["code"]) == (401, "unauthorized")


def test_given_no_token_then_the_authorizer_refuses_before_any_route(client):
    assert client.get("/v1/me/careful").status == 401
