from tests.integration.conftest import bearer


def test_given_a_new_phone_when_signing_up_and_verifying_then_the_member_is_active_with_welcome_points(members, api):
    token, body = members.verified(name="张伟")
    assert body["token_type"] == "Bearer"
    assert body["member"]["status"] == "active"
    assert body["member"]["name"] == "张伟"
    me = api.get("/v1/me", headers=bearer(token))
    assert me.status == 200
    assert me.json()["points"]["balance"] == 100
