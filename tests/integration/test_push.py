"""Push devices (POST/DELETE /v1/me/devices) and real push through SNS mobile push (moto): one
endpoint per device, a message to every device, unusable endpoints cleaned up, push chosen first
for a member with a device who consented to it."""

from __future__ import annotations

import json

import boto3
import pytest

from chalicelib.notify.push import application_arn
from chalicelib.store import keys
from chalicelib.store.models import BaseItem
from tests.integration.conftest import bearer
from tests.support.books import stored_member
from tests.support.outbox import messages
from tests.support.rules import set_rules

APNS_TOKEN = "a" * 64
FCM_TOKEN = "fcm-token_" + "b" * 140
OPEN = {"enabled": True, "min_points": 1, "max_points": 500, "max_points_per_day": 1000, "max_transfers_per_day": 5, "min_balance_kept": 0}


@pytest.fixture
def rules(aws):
    return set_rules(aws, transfers=OPEN, quiet_hours_start="00:00:00", quiet_hours_end="00:00:00")


def _member(members, **extra):
    phone = members.phone()
    token, body = members.verified(phone, **extra)
    return token, body["member"]["member_id"], phone


def _register(api, token, platform="apns", device_token=APNS_TOKEN, **extra):
    return api.post("/v1/me/devices", {"platform": platform, "token": device_token, **extra}, headers=bearer(token))


def _endpoints(platform="apns"):
    sns = boto3.client("sns")
    return sns.list_endpoints_by_platform_application(PlatformApplicationArn=application_arn(platform))["Endpoints"]


def _published_to(arn: str) -> list[dict]:
    """What SNS (moto) accepted for one endpoint: the JSON message structure, per provider."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    region = boto3.session.Session().region_name
    return [json.loads(m) for m in sns_backends[DEFAULT_ACCOUNT_ID][region].platform_endpoints[arn].messages.values()]


def _guards():
    return [i for i in BaseItem.scan() if i.sk == keys.PUSH_TOKEN_SK]


def test_given_a_member_when_they_register_a_device_then_it_has_an_sns_endpoint_and_the_token_is_kept_only_there(api, members):
    token, member_id, _ = _member(members)

    reply = _register(api, token, app_version="3.2.1")

    assert reply.status == 201, reply.text
    device = reply.json()
    assert device["platform"] == "apns" and device["app_version"] == "3.2.1"
    [endpoint] = _endpoints()
    assert endpoint["Attributes"]["Token"] == APNS_TOKEN
    held = stored_member(member_id).devices.as_dict()
    assert list(held) == [device["device_id"]]
    assert held[device["device_id"]]["endpoint"] == endpoint["EndpointArn"]
    assert APNS_TOKEN not in str(held) and all(APNS_TOKEN not in str(g.attribute_values) for g in _guards())


def test_given_a_registered_token_when_it_is_registered_again_then_nothing_new_is_made(api, members):
    token, member_id, _ = _member(members)
    first = _register(api, token)

    again = _register(api, token)

    assert first.status == 201 and again.status == 200
    assert again.json() == first.json()
    assert len(_endpoints()) == 1 and len(_guards()) == 1
    assert len(stored_member(member_id).devices.as_dict()) == 1


def test_given_a_token_of_another_member_when_it_is_registered_then_it_moves_to_the_last_one(api, members):
    token_a, a_id, _ = _member(members)
    token_b, b_id, _ = _member(members)
    assert _register(api, token_a).status == 201

    moved = _register(api, token_b)

    assert moved.status == 201
    assert not stored_member(a_id).devices
    assert list(stored_member(b_id).devices.as_dict()) == [moved.json()["device_id"]]
    assert [g.member_id for g in _guards()] == [b_id]


def test_given_several_devices_when_one_is_deleted_then_only_it_goes_with_its_endpoint(api, members):
    token, member_id, _ = _member(members)
    phone_device = _register(api, token).json()
    _register(api, token, platform="fcm", device_token=FCM_TOKEN)

    reply = api.request("DELETE", f"/v1/me/devices/{phone_device['device_id']}", headers=bearer(token))

    assert reply.status == 204
    assert len(stored_member(member_id).devices.as_dict()) == 1
    assert _endpoints("apns") == [] and len(_endpoints("fcm")) == 1
    assert api.request("DELETE", f"/v1/me/devices/{phone_device['device_id']}", headers=bearer(token)).status == 404


def test_given_devices_when_the_member_signs_out_then_they_are_all_removed(api, members):
    token, member_id, _ = _member(members)
    _register(api, token)
    _register(api, token, platform="fcm", device_token=FCM_TOKEN)

    assert api.post("/v1/me/sign-out", headers=bearer(token)).status == 204

    assert not stored_member(member_id).devices
    assert _guards() == [] and _endpoints("apns") == [] and _endpoints("fcm") == []


def test_given_two_devices_when_the_member_closes_the_account_then_their_endpoints_and_devices_are_gone(api, members):
    token, member_id, _ = _member(members)
    _register(api, token)
    _register(api, token, platform="fcm", device_token=FCM_TOKEN)
    assert len(_endpoints("apns")) == 1 and len(_endpoints("fcm")) == 1

    assert api.request("DELETE", "/v1/me", headers=bearer(token)).status == 200

    assert _endpoints("apns") == [] and _endpoints("fcm") == []
    assert not stored_member(member_id).devices and _guards() == []
    assert _register(api, token).status == 401  # and a closed member registers nothing again
    assert _endpoints() == [] and _guards() == []


def test_given_devices_when_an_operator_closes_the_membership_then_they_go_too_and_a_restore_does_not_bring_them_back(api, members):
    token, member_id, _ = _member(members)
    _register(api, token)

    assert api.post(f"/v1/admin/members/{member_id}/close", {"reason": "asked"}).status == 200

    assert _endpoints() == [] and not stored_member(member_id).devices and _guards() == []
    assert api.post(f"/v1/admin/members/{member_id}/restore", {"reason": "mistake"}).status == 200
    assert not stored_member(member_id).devices


def test_given_a_closed_member_still_holding_a_device_when_erased_then_its_endpoint_and_guard_go(api, members, aws):
    """A membership closed before closure removed devices: the erasure removes them."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from chalicelib.store.models import Member
    from localstage.job import run

    set_rules(aws, closure_grace_days=0)
    token, member_id, _ = _member(members)
    _register(api, token)
    held = stored_member(member_id).devices.as_dict()
    assert api.request("DELETE", "/v1/me", headers=bearer(token)).status == 200
    # As a closure of an older version left it: the device on the member, its endpoint in SNS.
    arn = boto3.client("sns").create_platform_endpoint(PlatformApplicationArn=application_arn("apns"), Token=APNS_TOKEN)["EndpointArn"]
    [(device_id, device)] = held.items()
    stored_member(member_id).update(actions=[Member.devices.set({device_id: {**device, "endpoint": arn}})])
    assert len(_endpoints()) == 1

    tomorrow = (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)).isoformat()
    assert run("erase-closed", tomorrow, False)["members_affected"] == 1

    assert _endpoints() == [] and not stored_member(member_id).devices


def test_given_a_closed_member_when_they_register_a_device_then_it_is_refused_and_nothing_is_made(api, members):
    token, member_id, _ = _member(members)
    assert api.post(f"/v1/admin/members/{member_id}/close", {"reason": "asked"}).status == 200

    reply = _register(api, token)

    assert reply.status == 401
    assert _endpoints() == [] and _guards() == []


def test_given_bad_device_bodies_then_400(api, members):
    token, _, _ = _member(members)
    for body in ({"platform": "sms", "token": APNS_TOKEN}, {"platform": "apns", "token": "short"}, {"platform": "apns", "token": "x y" * 20}):
        assert api.post("/v1/me/devices", body, headers=bearer(token)).status == 400


def test_given_a_receiver_with_two_devices_who_consented_to_push_then_the_transfer_notice_goes_to_sns_for_each(api, members, rules, outbox_path):
    token, _, _ = _member(members)
    r_token, _, r_phone = _member(members, consents={"push": True})
    _register(api, r_token)
    _register(api, r_token, platform="fcm", device_token=FCM_TOKEN)

    assert api.post("/v1/me/transfers", {"to_phone": r_phone, "points": 5}, headers={**bearer(token), "Idempotency-Key": "p1"}).status == 201

    [apns], [fcm] = _endpoints("apns"), _endpoints("fcm")
    [to_phone] = _published_to(apns["EndpointArn"])
    [to_android] = _published_to(fcm["EndpointArn"])
    assert "5 points" in json.loads(to_phone["APNS"])["aps"]["alert"]["body"]
    assert "5 points" in json.loads(to_android["GCM"])["notification"]["body"]
    notices = [m for m in messages(outbox_path) if m["kind"] == "points_received"]
    assert len(notices) == 1 and notices[0]["channel"] == "push"  # the local outbox line, for developers


def test_given_a_disabled_endpoint_when_a_push_goes_to_it_then_the_device_is_removed_and_the_other_still_gets_it(api, members, rules, outbox_path):
    token, _, _ = _member(members)
    r_token, r_id, r_phone = _member(members, consents={"push": True})
    dead = _register(api, r_token).json()
    _register(api, r_token, platform="fcm", device_token=FCM_TOKEN)
    [apns] = _endpoints("apns")
    boto3.client("sns").set_endpoint_attributes(EndpointArn=apns["EndpointArn"], Attributes={"Enabled": "false"})

    assert api.post("/v1/me/transfers", {"to_phone": r_phone, "points": 5}, headers={**bearer(token), "Idempotency-Key": "p2"}).status == 201

    held = stored_member(r_id).devices.as_dict()
    assert dead["device_id"] not in held and len(held) == 1
    assert _endpoints("apns") == []
    assert len(_published_to(_endpoints("fcm")[0]["EndpointArn"])) == 1
    assert [m["channel"] for m in messages(outbox_path) if m["kind"] == "points_received"] == ["push"]


def test_given_push_consent_but_no_device_then_the_notice_goes_by_sms(api, members, rules, outbox_path):
    token, _, _ = _member(members)
    _, _, r_phone = _member(members, consents={"push": True})

    assert api.post("/v1/me/transfers", {"to_phone": r_phone, "points": 5}, headers={**bearer(token), "Idempotency-Key": "p3"}).status == 201

    assert [(m["channel"], m["to"]) for m in messages(outbox_path) if m["kind"] == "points_received"] == [("sms", r_phone)]


def test_given_devices_and_a_transfer_with_a_note_then_no_log_line_holds_the_token_the_phones_or_the_note(api, members, rules, capfd, caplog):
    import logging

    caplog.set_level(logging.DEBUG, logger="huiyuan")
    token, _, sender_phone = _member(members)
    r_token, _, r_phone = _member(members, consents={"push": True})
    capfd.readouterr()
    assert _register(api, r_token).status == 201
    note = "私人留言给小王"
    reply = api.post("/v1/me/transfers", {"to_phone": r_phone, "points": 5, "note": note}, headers={**bearer(token), "Idempotency-Key": "priv"})
    assert reply.status == 201
    assert api.post("/v1/me/transfers", {"to_phone": "+8613900009998", "points": 5}, headers={**bearer(token), "Idempotency-Key": "x"}).status == 422

    out, err = capfd.readouterr()
    logged = out + err + caplog.text
    assert "points transferred" in logged and "push device registered" in logged  # the logs were captured at all
    for secret in (APNS_TOKEN, sender_phone, r_phone, "13900009998", note):
        assert secret not in logged, f"log leaked {secret[:4]}..."


def test_given_the_only_device_disabled_then_the_transfer_notice_falls_back_to_sms_and_the_device_goes(api, members, rules, outbox_path):
    token, _, _ = _member(members)
    r_token, r_id, r_phone = _member(members, consents={"push": True})
    _register(api, r_token)
    [apns] = _endpoints("apns")
    boto3.client("sns").set_endpoint_attributes(EndpointArn=apns["EndpointArn"], Attributes={"Enabled": "false"})

    assert api.post("/v1/me/transfers", {"to_phone": r_phone, "points": 5}, headers={**bearer(token), "Idempotency-Key": "fb"}).status == 201

    assert [(m["channel"], m["to"]) for m in messages(outbox_path) if m["kind"] == "points_received"] == [("sms", r_phone)]
    assert not stored_member(r_id).devices
    assert _endpoints("apns") == []
