"""What a member reads about themselves, their session, and the public catalogue."""

from __future__ import annotations

from typing import Any

from ..api.schemas.views import catalogue_reward_view, ledger_entry_view
from ..domain.clock import utcnow
from ..observability import logger
from ..store.ledger import ledger_page as read_ledger_page
from ..store.parameters import load_rules
from ..store.rewards import catalogue_page
from ..store.unit_of_work import UnitOfWork, run
from .common import member_answer
from .devices import delete_endpoints, forget_all_actions, forget_all_devices
from .sessions import MemberSession, open_member


def sign_out(session: MemberSession) -> None:
    """Every token issued to the member so far stops working (the next epoch starts), and the
    member's push devices are forgotten (usecases/devices.py)."""
    member_id = session.member_id

    def attempt(uow: UnitOfWork) -> list[str]:
        member = open_member(session)
        endpoints = forget_all_devices(uow, member)  # a signed-out phone gets no more pushes
        uow.update("member", member, [type(member).token_epoch.set(int(member.token_epoch or 0) + 1), *forget_all_actions(member)])
        uow.commit()
        return endpoints

    delete_endpoints(run(attempt))
    logger.info("member signed out", extra={"member_id": member_id})


def active_member_view(session: MemberSession) -> dict[str, Any]:
    """GET /v1/me: one read (which also admits the token); the balance is stored, never summed
    from the ledger."""
    member = open_member(session)
    rules = load_rules()
    return member_answer(member, rules, utcnow())


def ledger_page(session: MemberSession, limit: int, cursor: str | None) -> dict[str, Any]:
    """The member's ledger, newest first. The first page is one query, which returns the member
    too: the token is admitted on it. A later page starts after the cursor, away from the member,
    so it reads the member's session first (two round trips)."""
    if cursor:
        session.check()
    page = read_ledger_page(session.member_id, limit, cursor)
    if not cursor:
        session.admit(page.member)
    return {"items": [ledger_entry_view(e) for e in page.entries], "next_cursor": page.next_cursor}


def reward_catalogue(limit: int, cursor: str | None) -> dict[str, Any]:
    """The rewards members can redeem, one page."""
    return catalogue_page(limit, cursor, active_only=True).view(catalogue_reward_view)
