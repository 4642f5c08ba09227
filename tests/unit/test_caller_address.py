"""Per-client limits count the caller's address (api/caller_address.py): behind the web app's
CloudFront distribution, the viewer's, but only when the request proves it came through it with
the origin secret; otherwise the TCP peer API Gateway saw, whatever headers the client sends."""

from __future__ import annotations

import pytest

from chalicelib.api.caller_address import ORIGIN_VERIFY_HEADER, VIEWER_ADDRESS_HEADER, caller_address, parse_address

SECRET = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL"
EDGE = "130.176.1.20"  # a CloudFront edge: API Gateway's sourceIp for every request through the distribution


def _address(headers: dict[str, str], source_ip: str | None = EDGE, secret: bytes | None = SECRET) -> str:
    return caller_address({"identity": {"sourceIp": source_ip}}, headers, lambda: secret)


def _through_distribution(viewer: str) -> dict[str, str]:
    return {ORIGIN_VERIFY_HEADER: SECRET.decode(), VIEWER_ADDRESS_HEADER: viewer}


@pytest.mark.parametrize(
    ("viewer", "counted_as"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("203.0.113.7:46532", "203.0.113.7"),  # CloudFront-Viewer-Address carries the port
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("[2001:db8:1:2::1]:443", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:3:4:5:6:46532", "2001:db8:1:2::/64"),  # CloudFront's unbracketed IPv6 with a port
        ("::ffff:203.0.113.7", "203.0.113.7"),
    ],
)
def test_given_a_request_through_the_distribution_then_the_viewer_s_address_is_counted(viewer, counted_as):
    assert _address(_through_distribution(viewer)) == counted_as


@pytest.mark.parametrize(
    "viewer",
    ["", "garbage", "203.0.113.7, 198.51.100.1", "203.0.113.256", "203.0.113.7:99999", "203.0.113.7:", "[2001:db8::1]", "1" * 100],
)
def test_given_a_viewer_address_that_does_not_parse_then_the_peer_is_counted(viewer):
    assert _address(_through_distribution(viewer)) == EDGE


def test_given_no_viewer_address_then_the_peer_is_counted():
    assert _address({ORIGIN_VERIFY_HEADER: SECRET.decode()}) == EDGE


@pytest.mark.parametrize(
    "headers",
    [
        {VIEWER_ADDRESS_HEADER: "203.0.113.7"},  # a client calling the API's own domain, forging the header
        {VIEWER_ADDRESS_HEADER: "203.0.113.7", ORIGIN_VERIFY_HEADER: ""},
        {VIEWER_ADDRESS_HEADER: "203.0.113.7", ORIGIN_VERIFY_HEADER: "guess"},
        {VIEWER_ADDRESS_HEADER: "203.0.113.7", ORIGIN_VERIFY_HEADER: SECRET.decode()[:-1] + "X"},
        {VIEWER_ADDRESS_HEADER: "203.0.113.7", ORIGIN_VERIFY_HEADER: SECRET.decode() + "X"},
    ],
)
def test_given_a_viewer_address_without_the_right_secret_then_it_is_ignored(headers):
    assert _address(headers, source_ip="198.51.100.9") == "198.51.100.9"


def test_given_a_stage_without_a_secret_then_no_viewer_address_is_believed():
    assert _address(_through_distribution("203.0.113.7"), secret=None) == EDGE


def test_given_a_direct_caller_then_the_secret_is_never_read():
    def never() -> bytes:
        raise AssertionError("read the secret for a request without the origin header")

    assert caller_address({"identity": {"sourceIp": "198.51.100.9"}}, {VIEWER_ADDRESS_HEADER: "203.0.113.7"}, never) == "198.51.100.9"


def test_the_peer_is_counted_as_before_an_ipv6_peer_by_its_64():
    assert _address({}, source_ip="2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert _address({}, source_ip=None) == "unknown"
    assert caller_address({}, {}, lambda: SECRET) == "unknown"


def test_parse_address_reads_only_addresses():
    assert str(parse_address("203.0.113.7:80")) == "203.0.113.7"
    assert parse_address(None) is None and parse_address(7) is None and parse_address("example.com:443") is None
