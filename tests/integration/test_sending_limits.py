"""Every SMS costs the brand money: code sends are bounded per client address, per recipient
and for the whole program, per minute and per day (issue 10). A refused request says why
(429, Retry-After), sends nothing and changes nothing."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.api.caller_address import ORIGIN_VERIFY_HEADER, VIEWER_ADDRESS_HEADER
from chalicelib.domain.errors import TooManyAttempts
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.models import BaseItem, SendCounter
from chalicelib.usecases import enrolment
from tests.integration.conftest import bearer
from tests.support.outbox import messages
from tests.support.rules import SUITE_SEND_LIMITS, set_rules


def _limits(aws: Any, **limits: int) -> None:
    set_rules(aws, code_send_limits={**SUITE_SEND_LIMITS, **limits})


def _within_one_minute() -> None:
    """Per-minute windows are calendar minutes: start a test that must stay inside one at least
    5 seconds before the next begins (the requests below take well under a second)."""
    import time as clock

    second = datetime.now().second
    if second >= 55:
        clock.sleep(60 - second + 0.1)


def _problem(reply, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status, reply.text
    assert reply.content_type.startswith("application/problem+json")
    assert reply.json()["code"] == code
    return reply.json()


def test_given_one_client_signing_up_many_numbers_then_it_is_refused_past_its_limit_and_nothing_more_is_sent(api, members, aws, outbox_path):
    _limits(aws, per_client_per_minute=3)
    phones = [members.phone() for _ in range(6)]
    _within_one_minute()
    answers = [api.post("/v1/signup", {"phone": phone, "name": "张伟"}) for phone in phones]
    assert [a.status for a in answers] == [202, 202, 202, 429, 429, 429]
    refused = _problem(answers[3], 429, "too_many_attempts")
    assert "network" in refused["detail"]
    assert 1 <= int(answers[3].headers["Retry-After"]) <= 61
    assert [m["to"] for m in messages(outbox_path)] == phones[:3]  # SMS sent: three
    for phone in phones[3:]:
        assert BaseItem.count(keys.phone_pk(phone)) == 0  # nobody enrolled by a refused request


@pytest.fixture
def distribution_secret(aws: Any, monkeypatch: pytest.MonkeyPatch):
    """A stage whose web app's CloudFront distribution proves its requests with a secret (as
    infra/web.py deploys it: a Secrets Manager secret read through SSM)."""
    secret = "s3cr3t-" + "x" * 41
    aws.client("ssm").put_parameter(Name="/huiyuan/test/origin-verify", Value=secret, Type="SecureString")
    monkeypatch.setenv("ORIGIN_VERIFY_PARAMETER", "/huiyuan/test/origin-verify")
    get_settings.cache_clear()
    yield secret
    monkeypatch.delenv("ORIGIN_VERIFY_PARAMETER")
    get_settings.cache_clear()


def test_given_two_members_behind_one_cloudfront_edge_then_each_viewer_has_its_own_limit_and_a_forged_address_counts_as_the_edge(
    api, members, aws, outbox_path, distribution_secret
):
    # Given: every request below reaches the API from one address (the local gateway's sourceIp,
    # here playing the CloudFront edge), and each client may ask for 2 codes a minute
    _limits(aws, per_client_per_minute=2)
    phones = [members.phone() for _ in range(6)]
    _within_one_minute()

    def through_the_app(viewer: str) -> dict[str, str | None]:
        return {ORIGIN_VERIFY_HEADER: distribution_secret, VIEWER_ADDRESS_HEADER: viewer}

    # When two members on different phones sign up through the web app, each twice
    first = [api.post("/v1/signup", {"phone": p, "name": "张伟"}, headers=through_the_app("203.0.113.7")) for p in phones[:2]]
    second = [api.post("/v1/signup", {"phone": p, "name": "李娜"}, headers=through_the_app("2001:db8:1:2::5")) for p in phones[2:4]]

    # Then neither is held back by the other
    assert [r.status for r in first + second] == [202, 202, 202, 202]
    # And each is held to its own limit
    _problem(api.post("/v1/signup", {"phone": phones[4], "name": "张伟"}, headers=through_the_app("203.0.113.7")), 429, "too_many_attempts")
    # And a client that names a viewer address without the distribution's secret (calling the API's own
    # domain) is counted by its own address: the edge's, whose 2 codes it then uses up alone
    forged = {VIEWER_ADDRESS_HEADER: "198.51.100.23", ORIGIN_VERIFY_HEADER: "not-the-secret"}
    assert api.post("/v1/signup", {"phone": phones[4], "name": "王芳"}, headers=forged).status == 202
    assert api.post("/v1/signup", {"phone": phones[5], "name": "王芳"}, headers={VIEWER_ADDRESS_HEADER: "198.51.100.24"}).status == 202
    refused = api.post("/v1/signup", {"phone": members.phone(), "name": "王芳"}, headers={VIEWER_ADDRESS_HEADER: "198.51.100.25"})
    _problem(refused, 429, "too_many_attempts")
    assert [m["to"] for m in messages(outbox_path)] == phones


def test_given_a_code_request_for_a_phone_nobody_holds_then_it_counts_like_any_other(api, members, aws, outbox_path):
    _limits(aws, per_client_per_minute=2)
    _within_one_minute()
    _, body = members.verified()  # one code request already
    unknown = members.phone()
    assert api.post("/v1/auth/code", {"phone": unknown}).status == 202  # nothing sent, but counted
    _problem(api.post("/v1/auth/code", {"phone": body["member"]["phone"]}), 429, "too_many_attempts")


def test_given_one_phone_then_it_gets_at_most_its_daily_codes_whoever_asks(api, members, aws, outbox_path):
    set_rules(aws, code_resend_seconds=0, code_send_limits={**SUITE_SEND_LIMITS, "per_recipient_per_day": 2})
    phone = members.signed_up()
    assert api.post("/v1/auth/code", {"phone": phone}).status == 202
    refused = _problem(api.post("/v1/auth/code", {"phone": phone}), 429, "too_many_attempts")
    assert "today" in refused["detail"]
    assert len([m for m in messages(outbox_path) if m["to"] == phone]) == 2
    # Other phones are not held back by it.
    assert api.post("/v1/signup", {"phone": members.phone(), "name": "李娜"}).status == 202


def test_given_many_clients_each_within_its_limit_then_the_program_limit_refuses_the_rest(api, members, aws, outbox_path):
    _limits(aws, total_per_minute=3, per_client_per_minute=100)
    phones = [members.phone() for _ in range(5)]
    _within_one_minute()
    answers = []
    for n, phone in enumerate(phones):
        try:
            enrolment.signup(_signup(phone), client=f"198.51.100.{n}")
            answers.append(202)
        except TooManyAttempts as refused:
            assert refused.retry_after and refused.retry_after <= 61
            answers.append(429)
    assert answers == [202, 202, 202, 429, 429]
    assert {m["to"] for m in messages(outbox_path)} == set(phones[:3])


def _signup(phone: str) -> Any:
    from chalicelib.api.schemas.members import SignupRequest

    return SignupRequest(phone=phone, name="张伟")


def test_given_a_day_of_codes_used_up_then_429_until_midnight_in_the_programs_time_zone(api, members, aws):
    _limits(aws, total_per_day=1)
    assert api.post("/v1/signup", {"phone": members.phone(), "name": "张伟"}).status == 202
    refused = api.post("/v1/signup", {"phone": members.phone(), "name": "张伟"})
    _problem(refused, 429, "too_many_attempts")
    shanghai = datetime.now(ZoneInfo("Asia/Shanghai"))
    midnight = datetime.combine(shanghai.date() + timedelta(days=1), time(0), tzinfo=ZoneInfo("Asia/Shanghai"))
    assert abs(int(refused.headers["Retry-After"]) - (midnight - shanghai).total_seconds()) <= 3


def test_given_an_email_change_past_the_limit_then_the_whole_patch_is_refused_and_nothing_changes(api, members, aws, outbox_path):
    _within_one_minute()
    token, _ = members.verified()
    _limits(aws, per_client_per_minute=1)  # the signup used this minute's one
    refused = api.request("PATCH", "/v1/me", json_body={"name": "李娜", "email": "nana@example.cn"}, headers=bearer(token))
    _problem(refused, 429, "too_many_attempts")
    me = api.get("/v1/me", headers=bearer(token)).json()
    assert (me["name"], me["pending_email"]) == ("张伟", None)
    assert [m for m in messages(outbox_path) if m["to"] == "nana@example.cn"] == []
    # A PATCH that sends no code is not limited.
    assert api.request("PATCH", "/v1/me", json_body={"name": "李娜"}, headers=bearer(token)).json()["name"] == "李娜"


def test_given_a_phone_change_past_the_limit_then_429_and_no_code_goes_out(api, members, aws, outbox_path):
    _within_one_minute()
    token, _ = members.verified()
    _limits(aws, per_client_per_minute=1)
    new = members.phone()
    _problem(api.post("/v1/me/phone", {"phone": new}, headers=bearer(token)), 429, "too_many_attempts")
    assert [m for m in messages(outbox_path) if m["to"] == new] == []


@pytest.mark.parametrize("field", ["per_client_per_minute", "total_per_day"])
def test_given_a_limit_outside_its_range_then_the_rules_refuse_it(api, field):
    reply = api.request("GET", "/v1/admin/rules")
    rules = reply.json()["rules"]
    rules["code_send_limits"][field] = 0
    refused = api.request("PUT", "/v1/admin/rules", json_body={"rules": rules, "reason": "test"})
    assert refused.status == 400, refused.text


def test_given_counters_then_they_hold_no_phone_or_address_in_clear(api, members, aws):
    phone = members.signed_up()
    counters = [i for i in BaseItem.scan() if isinstance(i, SendCounter)]
    assert counters and all(phone not in c.pk and "127.0.0.1" not in c.pk for c in counters)
    assert all(c.ttl is not None for c in counters)


def test_given_the_programs_limit_reached_then_a_tills_purchase_still_counts_but_sends_no_invitation(api, members, aws, outbox_path):
    """A store's key must not be a way to text any number without limit: invitations count too."""
    _within_one_minute()
    _limits(aws, total_per_minute=1)
    first, second = members.phone(), members.phone()
    assert members.purchase("o-1", 1000, phone=first).status == 201
    assert members.purchase("o-2", 1000, phone=second).status == 201  # recorded: the points are the member's
    invited = [m["to"] for m in messages(outbox_path) if m["kind"] == "invite"]
    assert invited == [first]
