"""Which failures a caller can act on: every exception a use case lets escape, as a domain error
(api/http.py answers those as problem+json) or None for one nobody expected (a 500).

The store meets transient failures (throttling, contention, DynamoDB not answering, each outlasting
botocore's own retries) as PynamoDB's exceptions, and it meets them everywhere: in a model's get,
in a query iterated lazily inside a use case, in a batch read. `run` already turns contention in
a unit of work into 503 temporarily_unavailable; translating every other read at its source would
mean wrapping each read of each store module (and every new one). Instead the store keeps the one
test of "is this transient" (`unit_of_work.is_transient`), and this module is where the HTTP layer
asks it: routes and api/ import use cases, never the store.
"""

from __future__ import annotations

from ..domain.errors import HuiyuanError, TemporarilyUnavailable
from ..store.unit_of_work import is_transient


def domain_error_for(exc: BaseException) -> HuiyuanError | None:
    """The error a caller can act on that `exc` is: itself if it is one, 503
    temporarily_unavailable (retry: nothing was written) for a transient storage failure, None
    for anything unexpected."""
    if isinstance(exc, HuiyuanError):
        return exc
    if is_transient(exc):
        return TemporarilyUnavailable()
    return None
