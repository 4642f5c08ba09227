"""Finding a member and reading what operators see of them: profile, ledger, coupons.

Closed members are found and shown too (members see their own at /v1/me).
"""

from __future__ import annotations

from typing import Any

from ...api.schemas.operator_views import operator_coupon_view, operator_member_view
from ...api.schemas.views import ledger_entry_view, stamp_cards_view
from ...domain.clock import today_in, utcnow
from ...domain.errors import NotFound
from ...domain.points import expiring_summary
from ...domain.rules import ProgramRules
from ...domain.tiers import tier_progress
from ...store.coupons import unfiltered_coupon_page
from ...store.ledger import entries_page
from ...store.members import get_member, member_id_for_phone, points_state, stamp_counts
from ...store.models import Member
from ...store.parameters import load_rules
from ..analytics import member_analytics
from ..common import phone_or_error, stamps_pending_view


def member_or_404(member_id: str) -> Member:
    member = get_member(member_id)
    if member is None:
        raise NotFound(f"No member {member_id}")
    return member


def operator_view(member: Member, rules: ProgramRules) -> dict[str, Any]:
    """The member as operators see them: the tier in effect (the override is a floor), what expires."""
    state = points_state(member)
    tier = rules.effective_tier(member.tier, member.tier_override)
    today = today_in(rules.zone, utcnow())
    progress = tier_progress(rules, tier, state, today)
    view = operator_member_view(member, expiring_summary(state, rules.points_validity_months), tier, progress, today)
    counts = stamp_counts(member)
    view["stamp_cards"] = stamp_cards_view(rules, counts)
    view["stamps_pending"] = stamps_pending_view(member)
    # Stamps on a card the rules no longer list stay on the member (the card may come back): an
    # operator answering "where did my stamps go" sees them.
    listed = {card.id for card in rules.stamp_cards}
    view["retired_stamp_cards"] = [{"card_id": card_id, "stamps": n} for card_id, n in sorted(counts.items()) if card_id not in listed and n]
    return view


def find_members(*, phone: str | None, member_id: str | None) -> dict[str, Any]:
    """By phone (through the phone guard: never stale) or by id; a list of at most one."""
    rules = load_rules()
    if phone is not None:
        member_id = member_id_for_phone(phone_or_error(phone, rules))
    member = get_member(member_id) if member_id else None
    return {"items": [operator_view(member, rules)] if member else [], "next_cursor": None}


def member_profile(member_id: str) -> dict[str, Any]:
    """The member, with their scores, value segment and lifecycle stage in the latest analytics
    build (`analytics`, null before the first or when the member is not in it)."""
    return operator_view(member_or_404(member_id), load_rules()) | {"analytics": member_analytics(member_id)}


def member_ledger(member_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """Newest first, closed members included."""
    member_or_404(member_id)
    return entries_page(member_id, limit, cursor).view(ledger_entry_view)


def member_coupons(member_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """In code order, every status (an issued coupon past its date shows as expired)."""
    member_or_404(member_id)
    now = utcnow()
    return unfiltered_coupon_page(member_id, limit, cursor).view(lambda coupon: operator_coupon_view(coupon, now))
