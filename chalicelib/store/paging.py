"""Pages of one partition: one query a page, and cursors opaque to clients with a sort key inside.

A cursor carries only a sort key; the partition always comes from the
caller's token (or the operator route), so no cursor reaches someone else's
items. `decode_cursor` refuses anything that does not carry the expected prefix.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pynamodb.expressions.condition import Condition
from pynamodb.models import Model

from ..domain.errors import ValidationFailed


def encode_cursor(sk: str) -> str:
    return base64.urlsafe_b64encode(sk.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, prefix: str) -> str:
    try:
        sk = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValidationFailed.single("cursor", "not a cursor this API gave out") from None
    if not sk.startswith(prefix) or len(sk) > 200:
        raise ValidationFailed.single("cursor", "not a cursor this API gave out")
    return sk


def head_and_entries[H, E](items: Iterable[Any], head: type[H], entry: type[E]) -> tuple[H | None, list[E]]:
    """A query that starts at the item its entries sort after (the member's PROFILE, the WALLET),
    split into that item (None when the query did not reach it) and the entries, in order."""
    found: H | None = None
    entries: list[E] = []
    for item in items:
        if isinstance(item, head):
            found = item
        elif isinstance(item, entry):
            entries.append(item)
    return found, entries


@dataclass(frozen=True)
class Page[T]:
    items: list[T]
    next_cursor: str | None

    def view(self, view: Any) -> dict[str, Any]:
        """The API's list object: `{"items": [...], "next_cursor"}`, each item through `view`."""
        return {"items": [view(item) for item in self.items], "next_cursor": self.next_cursor}


def start_key(pk: str, cursor: str | None, prefix: str) -> dict[str, Any] | None:
    """Where a page after `cursor` starts, in `pk`'s items under `prefix` (400 for a cursor the API
    did not give out)."""
    return {"pk": {"S": pk}, "sk": {"S": decode_cursor(cursor, prefix)}} if cursor else None


def query_page[M: Model](
    model: type[M],
    pk: str,
    prefix: str,
    limit: int,
    cursor: str | None,
    *,
    newest_first: bool = False,
    filter_condition: Condition | None = None,
    more_if_any: bool = False,
) -> Page[M]:
    """One page of `pk`'s items whose sort key starts with `prefix`. `next_cursor` when a full page
    came back and DynamoDB has more (or, `more_if_any`, whenever it has more: for a filtered page)."""
    results = model.query(
        pk,
        model.sk.startswith(prefix),  # type: ignore[attr-defined]
        limit=limit,
        last_evaluated_key=start_key(pk, cursor, prefix),
        scan_index_forward=not newest_first,
        filter_condition=filter_condition,
        consistent_read=True,
    )
    items = list(results)
    last = results.last_evaluated_key
    more = bool(last) and (more_if_any or len(items) == limit)
    return Page(items, encode_cursor(last["sk"]["S"]) if more and last else None)
