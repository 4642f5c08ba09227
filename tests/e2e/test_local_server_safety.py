"""The local stage is safe on a developer's laptop (issue 10): its admin API is open, so no web
page the developer visits may drive it (no-cors bodies, DNS rebinding), its access log holds no
phone or token, and malformed or stalled requests get problem+json answers, not HTML or a hung thread."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e.factories import TIMEOUT, bearer, new_phone, signed_in_member
from tests.support.stack import RunningStack, running_stack, set_sending_limits

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def logged_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A stack of its own, with the access log on (the shared one keeps it off)."""
    with running_stack(tmp_path_factory.mktemp("logged-stack"), access_log=True) as running:
        set_sending_limits(running.base)
        yield running


def _raw(stack: RunningStack, request: bytes, *, read_timeout: float = 20) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are and read the answer (status, headers, body)."""
    address = urlsplit(stack.base)
    with socket.create_connection((address.hostname, address.port), timeout=read_timeout) as conn:
        conn.sendall(request)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def _host(stack: RunningStack) -> str:
    return urlsplit(stack.base).netloc


def _assert_problem(status: int, headers: dict[str, str], body: bytes, expected: int, code: str) -> None:
    assert status == expected, body[:300]
    assert headers["content-type"].startswith("application/problem+json"), headers
    assert json.loads(body)["code"] == code


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=b"])
def test_given_a_body_a_web_page_could_send_without_cors_then_415_and_nothing_happens(logged_stack, content_type):
    """A page on any origin can POST these to the loopback port with fetch(mode: 'no-cors')."""
    body = json.dumps({"store_id": "evil", "scope": "brand", "reason": "drive-by"}).encode()
    headers = f"POST /v1/admin/merchant-keys HTTP/1.1\r\nHost: {_host(logged_stack)}\r\nContent-Length: {len(body)}\r\n"
    if content_type:
        headers += f"Content-Type: {content_type}\r\n"
    status, reply_headers, reply = _raw(logged_stack, (headers + "Connection: close\r\n\r\n").encode() + body)
    _assert_problem(status, reply_headers, reply, 415, "unsupported_media_type")
    keys = requests.get(logged_stack.url("/v1/admin/merchant-keys"), timeout=TIMEOUT).json()["items"]
    assert all(k["store_id"] != "evil" for k in keys)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.1.nip.io", "localhost.evil.example", ""])
def test_given_a_host_that_is_not_a_loopback_name_then_421_dns_rebinding_gets_nothing(logged_stack, host):
    request = f"GET /v1/admin/merchant-keys HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    status, headers, body = _raw(logged_stack, request)
    _assert_problem(status, headers, body, 421, "misdirected_request")
    assert b"key_" not in body


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST"])
def test_given_a_loopback_host_name_with_or_without_the_port_then_it_is_served(logged_stack, host):
    port = urlsplit(logged_stack.base).port
    for value in (host, f"{host}:{port}"):
        status, _, _ = _raw(logged_stack, f"GET /v1/health HTTP/1.1\r\nHost: {value}\r\nConnection: close\r\n\r\n".encode())
        assert status == 200, value


def test_given_the_docs_asked_for_under_any_host_then_the_try_it_server_is_the_stack_itself(logged_stack):
    request = f"GET /docs/openapi.json HTTP/1.1\r\nHost: localhost:{urlsplit(logged_stack.base).port}\r\nConnection: close\r\n\r\n".encode()
    status, _, body = _raw(logged_stack, request)
    assert status == 200
    assert json.loads(body)["servers"][0]["url"] == logged_stack.base


def test_given_headers_over_the_limit_then_431_problem_json(logged_stack):
    big = "x" * (20 * 1024)
    request = f"GET /v1/health HTTP/1.1\r\nHost: {_host(logged_stack)}\r\nX-Big: {big}\r\nConnection: close\r\n\r\n".encode()
    _assert_problem(*_raw(logged_stack, request), 431, "headers_too_large")
    many = "".join(f"X-H{n}: 1\r\n" for n in range(150))  # http.server's own limit (100 headers)
    request = f"GET /v1/health HTTP/1.1\r\nHost: {_host(logged_stack)}\r\n{many}Connection: close\r\n\r\n".encode()
    _assert_problem(*_raw(logged_stack, request), 431, "headers_too_large")
    huge_line = "x" * (70 * 1024)  # over http.server's 64 KiB header line
    request = f"GET /v1/health HTTP/1.1\r\nHost: {_host(logged_stack)}\r\nX-Huge: {huge_line}\r\n\r\n".encode()
    _assert_problem(*_raw(logged_stack, request), 431, "headers_too_large")


@pytest.mark.parametrize("length", [9 * 1024, 70 * 1024])
def test_given_a_url_over_the_limit_then_414_problem_json(logged_stack, length):
    request = f"GET /v1/health?{'q' * length} HTTP/1.1\r\nHost: {_host(logged_stack)}\r\nConnection: close\r\n\r\n".encode()
    _assert_problem(*_raw(logged_stack, request), 414, "uri_too_long")


def test_given_a_chunked_body_then_411_problem_json(logged_stack):
    request = (
        f"POST /v1/signup HTTP/1.1\r\nHost: {_host(logged_stack)}\r\nContent-Type: application/json\r\n"
        'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\n{"a":\r\n0\r\n\r\n'
    ).encode()
    _assert_problem(*_raw(logged_stack, request), 411, "length_required")


@pytest.mark.parametrize("length", ["²", "-1", "1e3", "99999999999999999999"])
def test_given_a_content_length_that_is_not_a_number_then_400_problem_json(logged_stack, length):
    request = f"POST /v1/signup HTTP/1.1\r\nHost: {_host(logged_stack)}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    status, headers, body = _raw(logged_stack, request.encode())
    assert status in (400, 413), body
    assert headers["content-type"].startswith("application/problem+json")


def test_given_a_client_that_stalls_mid_body_then_408_and_the_server_keeps_serving(logged_stack):
    address = urlsplit(logged_stack.base)
    with socket.create_connection((address.hostname, address.port), timeout=30) as conn:
        conn.sendall(
            f"POST /v1/signup HTTP/1.1\r\nHost: {_host(logged_stack)}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{".encode()
        )
        started = time.monotonic()
        assert requests.get(logged_stack.url("/v1/health"), timeout=5).status_code == 200  # others are served meanwhile
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
        waited = time.monotonic() - started
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.split()[1] == b"408", data[:200]
    assert json.loads(body)["code"] == "request_timeout"
    assert waited < 20


def test_given_requests_carrying_phones_and_tokens_then_the_access_log_holds_neither(logged_stack):
    member = signed_in_member(logged_stack)
    phone = member.phone
    requests.get(logged_stack.url("/v1/admin/members"), params={"phone": phone}, timeout=TIMEOUT)
    requests.get(logged_stack.url("/v1/me"), headers=bearer(member.token), params={"token": member.token}, timeout=TIMEOUT)
    requests.get(logged_stack.url("/v1/me/ledger"), params={"cursor": new_phone()}, headers=bearer(member.token), timeout=TIMEOUT)
    time.sleep(0.2)  # the log line is written after the answer
    log = logged_stack.log.read_text(errors="replace")
    assert "GET /v1/admin/members" in log  # it is on, and logs the path
    assert phone not in log and phone.removeprefix("+") not in log and "%2B86" not in log
    assert member.token not in log and member.token[:20] not in log
