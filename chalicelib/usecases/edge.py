"""What the API takes from the member web app's CloudFront distribution (infra/web.py).

Its own module, importing nothing but the parameters' reader: the HTTP layer loads it with the
app, before any route's use case (and pydantic) is needed."""

from __future__ import annotations

from ..store.parameters import origin_verify_secret


def distribution_secret() -> bytes | None:
    """The secret the distribution proves its requests with: the HTTP layer believes the viewer
    address it forwards only with it (api/caller_address.py), and per-client send limits count by
    that address."""
    return origin_verify_secret()
