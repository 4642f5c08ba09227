"""WeChat sign-in against the fake of WeChat's APIs on loopback (localstage/wechat_fake.py):
an openid is a member only once a phone is proven, by our SMS code or WeChat's getPhoneNumber."""

from __future__ import annotations

from typing import Any

from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.models import BaseItem, Member
from localstage.wechat_fake import openid_for
from tests.integration.conftest import bearer
from tests.support.outbox import last_code, messages

MINI = get_settings().wechat_mini_program_appid


def _session(api, code: str, app: str = "mini_program") -> Any:
    return api.post("/v1/wechat/sessions", {"code": code, "app": app})


def _ticket(api, user: str, n: int = 1, app: str = "mini_program") -> str:
    reply = _session(api, f"{user}.{n}", app)
    assert reply.status == 200, reply.text
    body = reply.json()
    assert body["status"] == "phone_required" and body["expires_in"] == 600
    assert "access_token" not in body and "member" not in body  # an openid alone is no member
    return str(body["wechat_ticket"])


def _problem(reply: Any, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status, reply.text
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    body = reply.json()
    assert body["code"] == code
    return body


def _table_items() -> int:
    return sum(1 for _ in BaseItem.scan())


def test_given_a_new_phone_when_binding_with_get_phone_number_then_a_new_active_member_and_next_time_wechat_suffices(api, wechat, outbox_path):
    ticket = _ticket(api, "alice")
    reply = api.post("/v1/wechat/bindings", {"wechat_ticket": ticket, "phone_code": "phone-13900000001"})
    assert reply.status == 200, reply.text
    body = reply.json()
    assert body["status"] == "signed_in" and body["token_type"] == "Bearer"
    member = body["member"]
    assert (member["phone"], member["status"], member["points"]["balance"]) == ("+8613900000001", "active", 100)  # welcome points
    me = api.get("/v1/me/wechat", headers=bearer(body["access_token"])).json()
    assert [b["app"] for b in me["bindings"]] == ["mini_program"]

    again = _session(api, "alice.2")
    assert again.status == 200 and again.json()["status"] == "signed_in"
    assert again.json()["member"]["member_id"] == member["member_id"]


def test_given_an_existing_member_when_binding_with_an_sms_code_then_that_member_signs_in_and_the_bind_is_audited(api, members, wechat, outbox_path):
    _, verified = members.verified()
    phone, member_id = verified["member"]["phone"], verified["member"]["member_id"]
    ticket = _ticket(api, "bob")
    BaseItem(keys.phone_pk(phone), keys.SENT).delete()  # the resend interval, not under test here
    assert api.post("/v1/auth/code", {"phone": phone}).status == 202
    reply = api.post("/v1/wechat/bindings", {"wechat_ticket": ticket, "phone": phone, "code": last_code(outbox_path, phone)})
    assert reply.status == 200, reply.text
    assert reply.json()["member"]["member_id"] == member_id
    audit = api.get(f"/v1/admin/audit?member_id={member_id}").json()["items"]
    assert [e["action"] for e in audit] == ["member.wechat.bind"]
    assert openid_for("bob", MINI) not in str(audit)  # the audit names the openid's end only


def test_given_member_and_non_member_phones_then_the_binding_answers_have_the_same_shape(api, members, wechat):
    _, verified = members.verified()
    known = api.post(
        "/v1/wechat/bindings", {"wechat_ticket": _ticket(api, "carol"), "phone_code": "phone" + verified["member"]["phone"].replace("+86", "-")}
    )
    unknown = api.post("/v1/wechat/bindings", {"wechat_ticket": _ticket(api, "dave"), "phone_code": "phone-13900000077"})
    assert known.status == unknown.status == 200
    assert set(known.json()) == set(unknown.json()) and set(known.json()["member"]) == set(unknown.json()["member"])


def test_given_an_openid_bound_to_another_member_when_binding_it_again_then_409_and_nothing_changes(api, members, wechat, outbox_path):
    # Frank binds his WeChat account to one phone; a ticket of his (still valid) then proves another.
    ticket = _ticket(api, "frank")
    assert api.post("/v1/wechat/bindings", {"wechat_ticket": ticket, "phone_code": "phone-13900000003"}).status == 200
    phone = members.signed_up()
    before = _table_items()
    reply = api.post("/v1/wechat/bindings", {"wechat_ticket": ticket, "phone": phone, "code": last_code(outbox_path, phone)})
    _problem(reply, 409, "wechat_taken")
    assert _table_items() == before  # the code stays unused, no member activated, no audit
    # The code was not spent: the member can still sign in with it.
    assert api.post("/v1/auth/verify", {"phone": phone, "code": last_code(outbox_path, phone)}).status == 200


def test_given_wechat_answers_an_error_or_times_out_then_a_clear_problem_and_nothing_is_written(api, wechat):
    before = _table_items()
    _problem(_session(api, "fail-40029"), 400, "invalid_wechat_code")
    _problem(_session(api, "fail--1"), 503, "wechat_unavailable")
    _problem(_session(api, "fail-40226"), 502, "wechat_error")
    timed_out = _problem(_session(api, "timeout"), 503, "wechat_unavailable")
    assert timed_out["status"] == 503
    ticket = _ticket(api, "gina")
    _problem(api.post("/v1/wechat/bindings", {"wechat_ticket": ticket, "phone_code": "timeout"}), 503, "wechat_unavailable")
    _problem(api.post("/v1/wechat/bindings", {"wechat_ticket": ticket, "phone_code": "fail-40029"}), 400, "invalid_wechat_code")
    assert _table_items() == before


def test_given_a_used_code_or_a_forged_ticket_then_refused(api, wechat):
    _ticket(api, "hank", 1)
    _problem(_session(api, "hank.1"), 400, "invalid_wechat_code")  # WeChat's codes are single use
    forged = _ticket(api, "hank", 2)[:-4] + "AAAA"
    _problem(api.post("/v1/wechat/bindings", {"wechat_ticket": forged, "phone_code": "phone-13900000005"}), 401, "unauthorized")
    _problem(api.post("/v1/wechat/bindings", {"wechat_ticket": forged}), 400, "validation_error")
    _problem(_session(api, "x" * 200), 400, "validation_error")


def test_given_a_bound_member_when_unbinding_then_wechat_no_longer_signs_in_and_rebinding_is_audited(api, wechat):
    body = api.post("/v1/wechat/bindings", {"wechat_ticket": _ticket(api, "ivy"), "phone_code": "phone-13900000006"}).json()
    token, member_id = body["access_token"], body["member"]["member_id"]
    unbound = api.request("DELETE", "/v1/me/wechat", headers=bearer(token))
    assert unbound.status == 200 and unbound.json()["bindings"] == []
    _problem(api.request("DELETE", "/v1/me/wechat", headers=bearer(token)), 409, "wechat_not_bound")
    assert _session(api, "ivy.2").json()["status"] == "phone_required"
    # Another WeChat account bound to the same member, then the first one again: a rebind.
    assert api.post("/v1/wechat/bindings", {"wechat_ticket": _ticket(api, "ivy-new"), "phone_code": "phone-13900000006.2"}).status == 200
    assert api.post("/v1/wechat/bindings", {"wechat_ticket": _ticket(api, "ivy", 3), "phone_code": "phone-13900000006.3"}).status == 200
    actions = [e["action"] for e in api.get(f"/v1/admin/audit?member_id={member_id}").json()["items"]]
    assert actions == ["member.wechat.rebind", "member.wechat.bind", "member.wechat.unbind", "member.wechat.bind"]
    assert _session(api, "ivy-new.2").json()["status"] == "phone_required"  # released by the rebind


def test_given_a_bound_member_when_closing_then_the_binding_is_released(api, wechat):
    body = api.post("/v1/wechat/bindings", {"wechat_ticket": _ticket(api, "jack"), "phone_code": "phone-13900000008"}).json()
    assert api.request("DELETE", "/v1/me", headers=bearer(body["access_token"])).status == 200
    assert _session(api, "jack.2").json()["status"] == "phone_required"
    member = Member.get(keys.member_pk(body["member"]["member_id"]), keys.PROFILE)
    assert member.wechat is None


def test_given_an_official_account_page_then_the_oauth_code_signs_in_the_same_way(api, wechat, outbox_path):
    ticket = _ticket(api, "kate", app="official_account")
    _problem(api.post("/v1/wechat/bindings", {"wechat_ticket": ticket, "phone_code": "phone-13900000009"}), 400, "validation_error")
    assert not [m for m in messages(outbox_path) if m["channel"] == "wechat"]


def test_given_a_page_inside_wechat_when_it_follows_the_programs_authorize_page_then_the_code_it_gets_back_signs_in(api, wechat, outbox_path):
    import urllib.parse

    import requests

    sign_in = api.get("/v1/program").json()["wechat_sign_in"]
    assert sign_in == {
        "appid": get_settings().wechat_official_account_appid,
        "authorize_url": get_settings().wechat_oauth_authorize_url,
        "scope": "snsapi_base",
    }
    # The web app's redirect, as WeChat's authorize page (the fake) answers it: back with a code and the state.
    page = "http://127.0.0.1:8000/app/?lang=en"
    query = {"appid": sign_in["appid"], "redirect_uri": page, "response_type": "code", "scope": "snsapi_base", "state": "s1", "user": "lena"}
    back = requests.get(f"{sign_in['authorize_url']}?{urllib.parse.urlencode(query)}", allow_redirects=False, timeout=5)
    assert back.status_code == 302
    returned = urllib.parse.urlsplit(back.headers["location"])
    assert returned.path == "/app/" and dict(urllib.parse.parse_qsl(returned.query))["state"] == "s1"
    code = dict(urllib.parse.parse_qsl(returned.query))["code"]
    first = _session(api, code, "official_account").json()
    assert first["status"] == "phone_required" and first["app"] == "official_account"


def test_given_an_email_sign_in_code_when_binding_wechat_with_it_then_refused_and_the_code_still_signs_in(api, members, wechat, outbox_path):
    """An email code proves the email, not the phone: a binding takes our SMS code or getPhoneNumber."""
    _, verified = members.verified(email="binder@example.cn")
    phone = verified["member"]["phone"]
    BaseItem(keys.phone_pk(phone), keys.SENT).delete()  # the resend interval, not under test here
    assert api.post("/v1/auth/code", {"phone": phone, "channel": "email"}).status == 202
    code = last_code(outbox_path, "binder@example.cn")
    before = _table_items()

    refused = api.post("/v1/wechat/bindings", {"wechat_ticket": _ticket(api, "liam"), "phone": phone, "code": code})

    assert "SMS" in _problem(refused, 401, "invalid_code")["detail"]
    assert _table_items() == before  # nothing bound, the code not used, no failed attempt counted
    assert _session(api, "liam.2").json()["status"] == "phone_required"
    assert api.post("/v1/auth/verify", {"phone": phone, "code": code}).status == 200


def test_given_a_bound_member_when_an_operator_closes_the_membership_then_the_binding_is_released(api, wechat):
    body = api.post("/v1/wechat/bindings", {"wechat_ticket": _ticket(api, "mona"), "phone_code": "phone-13900000009"}).json()
    member_id = body["member"]["member_id"]

    closed = api.post(f"/v1/admin/members/{member_id}/close", {"reason": "顾客来电要求注销"})

    assert closed.status == 200, closed.text
    assert _session(api, "mona.2").json()["status"] == "phone_required"
    assert Member.get(keys.member_pk(member_id), keys.PROFILE).wechat is None


def test_given_a_closed_member_still_bound_when_erased_then_the_binding_goes_with_it(api, wechat):
    from datetime import timedelta

    from chalicelib.domain.clock import utcnow
    from chalicelib.domain.wechat import WechatIdentity
    from chalicelib.store import wechat as wechat_store
    from chalicelib.store.unit_of_work import UnitOfWork
    from localstage.job import run
    from tests.integration.test_closure import today

    body = api.post("/v1/wechat/bindings", {"wechat_ticket": _ticket(api, "nora"), "phone_code": "phone-13900000010"}).json()
    member_id = body["member"]["member_id"]
    assert api.request("DELETE", "/v1/me", headers=bearer(body["access_token"])).status == 200
    # A closure from before closures released bindings: the binding is still there.
    member = Member.get(keys.member_pk(member_id), keys.PROFILE)
    uow = UnitOfWork()
    uow.update("member", member, wechat_store.bind(uow, member, WechatIdentity("mini_program", openid_for("nora", MINI)), MINI, utcnow()))
    uow.commit()
    openid = openid_for("nora", MINI)
    assert wechat_store.bound_member_id(MINI, openid) == member_id

    assert run("erase-closed", (today() + timedelta(days=31)).isoformat(), False)["members_affected"] == 1

    assert wechat_store.bound_member_id(MINI, openid) is None  # the openid is free: a new member may bind it
    assert Member.get(keys.member_pk(member_id), keys.PROFILE).wechat is None
