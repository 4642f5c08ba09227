"""WeChat tickets and errcodes (domain/wechat.py): pure."""

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.errors import WechatBadGateway, WechatCodeInvalid, WechatUnavailable
from chalicelib.domain.wechat import InvalidTicket, WechatIdentity, after_send, code_error, issue_ticket, ticket_identity

KEY = b"k" * 32
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def test_a_ticket_names_the_wechat_identity_and_no_member():
    identity = WechatIdentity("mini_program", "o123", "u456")
    assert ticket_identity(KEY, issue_ticket(KEY, identity, datetime.now(UTC))) == identity


def test_an_expired_forged_or_foreign_ticket_is_refused():
    with pytest.raises(InvalidTicket):
        ticket_identity(KEY, issue_ticket(KEY, WechatIdentity("mini_program", "o1"), NOW - timedelta(minutes=11)))
    with pytest.raises(InvalidTicket):
        ticket_identity(b"x" * 32, issue_ticket(KEY, WechatIdentity("mini_program", "o1"), datetime.now(UTC)))


def test_errcodes_map_to_what_the_client_can_do():
    assert isinstance(code_error(40029, "code"), WechatCodeInvalid)
    assert isinstance(code_error(40163, "code"), WechatCodeInvalid)
    assert type(code_error(-1, "code")) is WechatUnavailable
    assert isinstance(code_error(40226, "code"), WechatBadGateway)


def test_a_send_uses_one_acceptance():
    assert after_send({"t": 2, "u": 1}, "t") == {"t": 1, "u": 1}
    assert after_send({"t": 1}, "t") == {}
