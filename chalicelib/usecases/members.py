"""What a member reads about themselves, and the public catalogue."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from ..domain.clock import iso
from ..domain.errors import Unauthorized
from ..domain.points import expiring_summary
from ..observability import logger
from ..store import keys
from ..store.members import get_member, member_view, points_state
from ..store.models import BaseItem, LedgerEntry, Member, Reward
from ..store.parameters import load_rules
from ..store.unit_of_work import Retryable, error_code, with_retries
from .pages import decode_cursor, encode_cursor


def session_is_open(member_id: str, epoch: int) -> bool:
    """A token of `epoch` may still act for the member: the membership is not closed (or erased)
    and nobody signed out since the token was issued. One small read (three attributes)."""
    try:
        member = Member.get(keys.member_pk(member_id), keys.PROFILE, consistent_read=True, attributes_to_get=["status", "token_epoch", "erased"])
    except DoesNotExist:
        return False
    return member.status != "closed" and not member.erased and int(member.token_epoch or 0) == epoch


def sign_out(member_id: str) -> None:
    """Every token issued to the member so far stops working (the next epoch starts)."""

    def attempt() -> None:
        member = get_member(member_id)
        if member is None or member.status == "closed":
            raise Unauthorized("The membership is closed")
        try:
            member.update(actions=[Member.token_epoch.set(int(member.token_epoch or 0) + 1)])
        except UpdateError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise Retryable("member changed meanwhile") from exc
            raise

    with_retries(attempt)
    logger.info("member signed out", extra={"member_id": member_id})


def active_member_view(member_id: str) -> dict[str, Any]:
    """GET /v1/me: one read; the balance is stored, never summed from the ledger."""
    member = get_member(member_id)
    if member is None or member.status == "closed":
        raise Unauthorized("The membership is closed")
    rules = load_rules()
    return member_view(member, expiring_summary(points_state(member), rules.points_validity_months))


def ledger_entry_view(entry: LedgerEntry) -> dict[str, Any]:
    """A ledger entry as the member and the operators see it."""
    return {
        "entry_id": entry.entry_id,
        "kind": entry.kind,
        "points": int(entry.points),
        "balance_after": int(entry.balance_after),
        "created_at": iso(entry.created_at),
        "ref": entry.ref,
    }


def ledger_page(member_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """One query, newest first.

    The first page starts at the member's PROFILE item (sorted just before
    the entries), so the closed-member check rides on the same query. A
    cursor carries only a sort key: the partition always comes from the
    caller's token, so no cursor can reach another member's ledger. (Pages
    after the first follow a checked first page and a token of at most
    `access_token_ttl_seconds`.)
    """
    pk = keys.member_pk(member_id)
    if cursor:
        start = {"pk": {"S": pk}, "sk": {"S": decode_cursor(cursor, keys.LEDGER_PREFIX)}}
        results = BaseItem.query(pk, BaseItem.sk.startswith(keys.LEDGER_PREFIX), limit=limit, last_evaluated_key=start, consistent_read=True)
    else:
        results = BaseItem.query(pk, BaseItem.sk.startswith(keys.PROFILE), limit=limit + 1, consistent_read=True)
    entries: list[LedgerEntry] = []
    member_open = bool(cursor)
    for item in results:
        if isinstance(item, Member):
            member_open = item.status != "closed"
        elif isinstance(item, LedgerEntry):
            entries.append(item)
    if not member_open:
        raise Unauthorized("The membership is closed")
    items = [ledger_entry_view(e) for e in entries]
    last = results.last_evaluated_key
    next_cursor = encode_cursor(last["sk"]["S"]) if last and len(items) == limit else None
    return {"items": items, "next_cursor": next_cursor}


def reward_catalogue(limit: int, cursor: str | None) -> dict[str, Any]:
    """The rewards members can redeem, one page (retired ones left out, so a page may hold
    fewer than `limit`; `next_cursor` says whether more follow)."""
    prefix = keys.reward_sk("")
    start = {"pk": {"S": keys.REWARD_PK}, "sk": {"S": decode_cursor(cursor, prefix)}} if cursor else None
    active = Reward.active == True  # noqa: E712 - a condition expression for DynamoDB, not a comparison
    results = Reward.query(keys.REWARD_PK, Reward.sk.startswith(prefix), filter_condition=active, limit=limit, last_evaluated_key=start)
    items = [
        {"reward_id": r.reward_id, "name": r.name, "points_cost": int(r.points_cost), "stock": None if r.stock is None else int(r.stock)}
        for r in results
    ]
    last = results.last_evaluated_key
    return {"items": items, "next_cursor": encode_cursor(last["sk"]["S"]) if last else None}
