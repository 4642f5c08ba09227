"""WeChat subscription messages as a channel (docs/wechat.md), through the fake of WeChat's APIs:
sent only where the member accepted the kind's template, one send per acceptance, counted as sent
only when WeChat accepted it; a template withdrawn in WeChat (43101) or here sends nothing there."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.settings import get_settings
from localstage.wechat_fake import openid_for
from tests.integration.conftest import bearer
from tests.support.outbox import messages
from tests.support.rules import set_rules

TEMPLATE = "tmpl-points-received-01"
OPEN = {"enabled": True, "min_points": 1, "max_points": 500, "max_points_per_day": 1000, "max_transfers_per_day": 10, "min_balance_kept": 0}
MINI = get_settings().wechat_mini_program_appid


TEMPLATES = {"points_received": {"template_id": TEMPLATE, "field": "thing1", "page": "pages/points/index", "max_chars": 20}}


@pytest.fixture
def rules(aws: Any) -> Any:
    return _rules(aws)


def _rules(aws: Any, quiet_hours_end: str = "00:00:00") -> Any:
    """Transfers open, the template for `points_received`; no quiet hours, or from midnight to `quiet_hours_end`."""
    return set_rules(aws, transfers=OPEN, quiet_hours_start="00:00:00", quiet_hours_end=quiet_hours_end, wechat_templates=TEMPLATES)


def _bound_member(api: Any, user: str, phone_digits: str) -> tuple[str, str]:
    ticket = api.post("/v1/wechat/sessions", {"code": f"{user}.1"}).json()["wechat_ticket"]
    body = api.post("/v1/wechat/bindings", {"wechat_ticket": ticket, "phone_code": f"phone-{phone_digits}"}).json()
    return body["access_token"], body["member"]["phone"]


def _subscribe(api: Any, token: str, **answer: Any) -> Any:
    return api.post("/v1/me/wechat/subscriptions", answer, headers=bearer(token))


def _gift(api: Any, token: str, to_phone: str, key: str) -> None:
    reply = api.post("/v1/me/transfers", {"to_phone": to_phone, "points": 5}, headers={**bearer(token), "Idempotency-Key": key})
    assert reply.status == 201, reply.text


def _told(outbox: str, since: int) -> list[tuple[str, str]]:
    return [(m["channel"], m["kind"]) for m in messages(outbox)[since:] if m["kind"] in ("points_received", TEMPLATE)]


def _remaining(api: Any, token: str) -> list[dict[str, Any]]:
    return list(api.get("/v1/me/wechat", headers=bearer(token)).json()["subscriptions"])


def test_given_an_accepted_template_then_one_message_goes_by_wechat_and_the_next_by_sms(api, members, rules, wechat, outbox_path):
    receiver_token, receiver_phone = _bound_member(api, "rita", "13900000101")
    sender_token, _ = members.verified()
    assert _subscribe(api, receiver_token, accepted=[TEMPLATE]).json()["subscriptions"] == [{"template_id": TEMPLATE, "remaining": 1}]

    sent = len(messages(outbox_path))
    _gift(api, sender_token, receiver_phone, "g-1")
    assert _told(outbox_path, sent) == [("wechat", TEMPLATE)]
    delivered = messages(outbox_path)[-1]
    assert delivered["to"] == openid_for("rita", MINI) and delivered["page"] == "pages/points/index"
    assert len(delivered["body"]) <= 20  # the template keyword's limit
    assert _remaining(api, receiver_token) == []  # a one-time subscription carries one message

    sent = len(messages(outbox_path))
    _gift(api, sender_token, receiver_phone, "g-2")
    assert _told(outbox_path, sent) == [("sms", "points_received")]


def test_given_the_member_withdrew_the_template_in_wechat_then_wechat_refuses_nothing_counts_as_sent_and_consent_is_cleared(
    api, members, rules, wechat, outbox_path
):
    receiver_token, receiver_phone = _bound_member(api, "sam", "13900000102")
    sender_token, _ = members.verified()
    _subscribe(api, receiver_token, accepted=[TEMPLATE, TEMPLATE])  # two acceptances: two sends
    wechat.withdraw({"openid": openid_for("sam", MINI), "template_id": TEMPLATE})

    sent = len(messages(outbox_path))
    _gift(api, sender_token, receiver_phone, "g-1")
    assert _told(outbox_path, sent) == [("sms", "points_received")]  # WeChat answered 43101: the SMS instead
    assert wechat.received == []
    assert _remaining(api, receiver_token) == []  # the second acceptance is void too


def test_given_the_member_withdrew_consent_here_then_nothing_goes_by_wechat(api, members, rules, wechat, outbox_path):
    receiver_token, receiver_phone = _bound_member(api, "tina", "13900000103")
    sender_token, _ = members.verified()
    _subscribe(api, receiver_token, accepted=[TEMPLATE])
    withdrawn = api.request("DELETE", "/v1/me/wechat/subscriptions", headers=bearer(receiver_token))
    assert withdrawn.status == 200 and withdrawn.json()["subscriptions"] == []

    sent = len(messages(outbox_path))
    _gift(api, sender_token, receiver_phone, "g-1")
    assert _told(outbox_path, sent) == [("sms", "points_received")]
    assert wechat.received == []


def test_given_a_rejected_or_unknown_template_or_no_binding_then_nothing_is_recorded(api, members, rules, wechat):
    token, _ = _bound_member(api, "uma", "13900000104")
    _subscribe(api, token, accepted=[TEMPLATE])
    assert _subscribe(api, token, rejected=[TEMPLATE]).json()["subscriptions"] == []
    unknown = _subscribe(api, token, accepted=["not-ours"])
    assert unknown.status == 400 and unknown.json()["code"] == "validation_error"
    plain_token, _ = members.verified()
    unbound = _subscribe(api, plain_token, accepted=[TEMPLATE])
    assert unbound.status == 409 and unbound.json()["code"] == "wechat_not_bound"


def test_given_a_wechat_message_held_by_quiet_hours_then_it_goes_later_and_a_refusal_then_clears_the_consent(
    api, members, aws, rules, wechat, outbox_path
):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from localstage.job import run

    _rules(aws, quiet_hours_end="23:59:59")
    sender_token, _ = members.verified()
    held = {}
    for user, digits in (("vera", "13900000105"), ("walt", "13900000106")):
        token, phone = _bound_member(api, user, digits)
        _subscribe(api, token, accepted=[TEMPLATE, TEMPLATE])
        sent = len(messages(outbox_path))
        _gift(api, sender_token, phone, f"g-{user}")
        assert _told(outbox_path, sent) == []  # quiet hours: held back, one acceptance used
        held[user] = token
    wechat.withdraw({"openid": openid_for("walt", MINI), "template_id": TEMPLATE})  # Walt turns it off in WeChat meanwhile
    _rules(aws)

    sent = len(messages(outbox_path))
    tomorrow = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=1)).date()  # the program's day after the hold
    dispatched = run("send-deferred", tomorrow.isoformat(), False)

    assert dispatched["messages_sent"] == 1 and dispatched["messages_skipped"] == {"delivery_failed": 1}, dispatched
    assert _told(outbox_path, sent) == [("wechat", TEMPLATE)] and [m["touser"] for m in wechat.received] == [openid_for("vera", MINI)]
    assert _remaining(api, held["vera"]) == [{"template_id": TEMPLATE, "remaining": 1}]
    assert _remaining(api, held["walt"]) == []  # WeChat's 43101 cleared what was left of his consent
