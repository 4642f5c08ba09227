"""The caller's address for per-client limits, when a request may have come through the member
web app's CloudFront distribution (infra/web.py, docs/web.md).

API Gateway's `identity.sourceIp` is the TCP peer: for a request through the distribution that
is a CloudFront edge, shared by every member that edge serves. So the distribution tells the API
the viewer's address in `x-huiyuan-viewer-address` (a CloudFront Function sets it from
`event.viewer.ip`, overwriting whatever the viewer sent), and proves the request is its own with
`x-huiyuan-origin-verify`, a generated secret CloudFront adds to every origin request (and
overwrites if the viewer sent one). The viewer header is believed only with that secret,
compared in constant time; any other request (straight to the API's own domain, a forged
header, a wrong or missing secret, an address that does not parse) is its `sourceIp`.

Pure: the secret is handed in (`secret` is called only when the request carries the origin
header, so a direct caller costs no parameter read).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable, Mapping
from typing import Any

VIEWER_ADDRESS_HEADER = "x-huiyuan-viewer-address"
ORIGIN_VERIFY_HEADER = "x-huiyuan-origin-verify"
UNKNOWN = "unknown"

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(raw: object) -> IpAddress | None:
    """An IP address from a header or `sourceIp`: bare (`203.0.113.7`, `2001:db8::1`), or with the
    port CloudFront-Viewer-Address carries (`203.0.113.7:46532`, `[2001:db8::1]:443`, and
    CloudFront's unbracketed `2001:db8:1:2:3:4:5:6:46532`). None for anything else. A value that is
    itself a valid IPv6 address is read as one (our function sends the bare address); for
    limits only its /64 counts, which a trailing port group rarely changes."""
    if not isinstance(raw, str):
        return None
    value = raw.strip()
    if not value or len(value) > 64:
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        pass
    host, colon, port = value.rpartition(":")
    if not colon or not port.isdigit() or len(port) > 5 or int(port) > 65535:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def limit_key(address: IpAddress) -> str:
    """What per-client limits count by: an IPv4 address (an IPv4-mapped IPv6 one as IPv4), or an
    IPv6 client's /64 (one subscriber gets a whole /64, so each of its addresses is not another client)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def from_our_distribution(headers: Mapping[str, str], secret: Callable[[], bytes | None]) -> bool:
    """The request carries the distribution's origin secret (constant-time comparison)."""
    sent = headers.get(ORIGIN_VERIFY_HEADER)
    if not sent:
        return False
    expected = secret()
    return expected is not None and hmac.compare_digest(sent.encode(), expected)


def caller_address(context: Mapping[str, Any], headers: Mapping[str, str], secret: Callable[[], bytes | None]) -> str:
    """The viewer's address for a request proven to come through our distribution, else the TCP
    peer API Gateway saw (`sourceIp`); "unknown" if neither parses."""
    if from_our_distribution(headers, secret):
        viewer = parse_address(headers.get(VIEWER_ADDRESS_HEADER))
        if viewer is not None:
            return limit_key(viewer)
    identity = context.get("identity") or {}
    source = identity.get("sourceIp") if isinstance(identity, Mapping) else None
    peer = parse_address(source)
    if peer is not None:
        return limit_key(peer)
    return source if isinstance(source, str) and source else UNKNOWN
