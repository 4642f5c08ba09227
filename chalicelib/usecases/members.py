"""What a member reads about themselves, their session, and the public catalogue."""

from __future__ import annotations

from typing import Any

from ..api.schemas.views import catalogue_reward_view, ledger_entry_view
from ..domain import tokens
from ..domain.clock import utcnow
from ..domain.errors import Unauthorized
from ..domain.membership import is_open
from ..observability import logger
from ..store.ledger import ledger_page as read_ledger_page
from ..store.members import get_member, session_of
from ..store.parameters import load_rules, signing_key
from ..store.rewards import catalogue_page
from ..store.unit_of_work import UnitOfWork, run
from .common import member_answer


def authenticate(token: str) -> str:
    """The member a bearer token acts for: a valid token (signature, issuer, audience, expiry) of
    a membership that is not closed, from the member's current token epoch (not signed out
    since). Raises tokens.InvalidToken otherwise. One small read (three attributes)."""
    claims = tokens.access_claims(signing_key(), token)
    session = session_of(claims.member_id)
    if session is None or not is_open(session.status) or session.erased or session.token_epoch != claims.epoch:
        raise tokens.InvalidToken("closed or signed out")
    return claims.member_id


def sign_out(member_id: str) -> None:
    """Every token issued to the member so far stops working (the next epoch starts)."""

    def attempt(uow: UnitOfWork) -> None:
        member = get_member(member_id)
        if member is None or not is_open(member.status):
            raise Unauthorized("The membership is closed")
        uow.update("member", member, [type(member).token_epoch.set(int(member.token_epoch or 0) + 1)])
        uow.commit()

    run(attempt)
    logger.info("member signed out", extra={"member_id": member_id})


def active_member_view(member_id: str) -> dict[str, Any]:
    """GET /v1/me: one read; the balance is stored, never summed from the ledger."""
    member = get_member(member_id)
    if member is None or not is_open(member.status):
        raise Unauthorized("The membership is closed")
    rules = load_rules()
    return member_answer(member, rules, utcnow())


def ledger_page(member_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """The member's ledger, newest first: one query a page. The first page carries the member's
    status (a closed membership is refused); later pages follow a checked first page and a token
    of at most `access_token_ttl_seconds`."""
    page = read_ledger_page(member_id, limit, cursor)
    if not cursor and (page.member is None or not is_open(page.member.status)):
        raise Unauthorized("The membership is closed")
    return {"items": [ledger_entry_view(e) for e in page.entries], "next_cursor": page.next_cursor}


def reward_catalogue(limit: int, cursor: str | None) -> dict[str, Any]:
    """The rewards members can redeem, one page."""
    return catalogue_page(limit, cursor, active_only=True).view(catalogue_reward_view)
