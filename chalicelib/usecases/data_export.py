"""GET /v1/me/export: everything stored about the member, as one JSON document.

Their partition (profile, points, lots, ledger, coupons, redemptions and whatever else lives
there), their pending changes, and what is kept outside it but found from it without a scan:
the orders and the paid plan purchases (with their refunds) their ledger refers to, and the
actions stores reported about them (their partition's ActionRef items point to them): one query
and up to three batch reads (store/member_data.py). Never the table's keys or secrets, nor
other people's data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..domain.clock import iso, utcnow
from ..domain.plans import PLAN_LEDGER_KINDS
from ..domain.points import expiring_summary
from ..observability import logger
from ..store import member_data
from ..store.contact_changes import change_kind_of
from ..store.ledger import lot_earnings
from ..store.members import points_state
from ..store.models import BaseItem, LedgerEntry, Lot, Member, VerificationCode
from ..store.models_engagement import ActionRef
from ..store.models_plans import PlanMembership, PlanRefundRecord
from ..store.parameters import load_rules
from .common import plain
from .sessions import MemberSession

FORMAT = "huiyuan-member-export/1"
# Fields of other people kept on the member's items (an operator's identity on an audit entry).
_OTHERS = {"AuditEntry": frozenset({"actor"})}
_SECTIONS = {"LedgerEntry": "ledger", "Lot": "points_lots", "Coupon": "coupons", "Redemption": "redemptions"}
# Security counters: no content of the member's, and gone within minutes (TTL).
_SKIPPED = ("CodeAttempts", "SendThrottle")
# Ledger kinds whose `ref` is an order id: the member's orders are found through them.
_ORDER_KINDS = ("earn", "refund", "earn_pending", "pending_cancelled")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def export_item(item: BaseItem) -> dict[str, Any]:
    """An item as plain JSON, without keys, secrets or other people's data."""
    return {name: _jsonable(value) for name, value in member_data.stored_fields(item, _OTHERS.get(member_data.kind_of(item), frozenset())).items()}


def _by_time(items: Iterable[BaseItem], member_id: str) -> list[dict[str, Any]]:
    """The member's own of `items` (never another's, whatever a ref named), oldest first."""
    exported = [export_item(item) for item in items]
    return sorted((e for e in exported if e.get("member_id") == member_id), key=lambda e: str(e.get("created_at", "")))


def _add_plan_purchases(sections: dict[str, list[dict[str, Any]]], items: list[BaseItem], member_id: str) -> None:
    """`plan_memberships`: each purchase of a paid plan, with its refund (if any) inside it."""
    purchases = [i for i in items if isinstance(i, PlanMembership) and i.member_id == member_id]
    refunds = {str(i.membership_id): export_item(i) for i in items if isinstance(i, PlanRefundRecord)}
    rows = []
    for purchase in purchases:
        row = export_item(purchase)
        row["refund"] = refunds.get(str(purchase.membership_id))
        rows.append(row)
    sections["plan_memberships"] = sorted(rows, key=lambda r: str(r.get("created_at", "")))


def export_member_data(session: MemberSession) -> dict[str, Any]:
    """Everything stored about the member (the token is admitted on the member item of the same
    query: a closed membership or a signed-out token is refused)."""
    member_id = session.member_id
    rules = load_rules()
    items = member_data.member_items(member_id)
    member = session.admit(next((i for i in items if isinstance(i, Member)), None))
    sections: dict[str, list[dict[str, Any]]] = {}
    pending: list[dict[str, Any]] = []
    order_ids: dict[str, None] = {}
    membership_ids: dict[str, None] = {}
    action_refs: list[ActionRef] = []
    # A lot keeps no running total (store/ledger.open_lot): what went into it comes from the ledger.
    earned = lot_earnings([i for i in items if isinstance(i, Lot)], [i for i in items if isinstance(i, LedgerEntry)])
    for item in items:
        kind = member_data.kind_of(item)
        if isinstance(item, Member) or kind in _SKIPPED:
            continue
        if isinstance(item, ActionRef):
            action_refs.append(item)
            continue
        if isinstance(item, VerificationCode):
            pending.append({"change": change_kind_of(item), "target": item.target, "expires_at": iso(item.expires_at)})
            continue
        if isinstance(item, LedgerEntry) and item.kind in _ORDER_KINDS and item.ref:
            order_ids[item.ref] = None
        if isinstance(item, LedgerEntry) and item.kind in PLAN_LEDGER_KINDS and item.ref:  # ref: the plan purchase's membership id
            membership_ids[item.ref] = None
        exported = export_item(item)
        if isinstance(item, Lot):
            exported["earned"] = earned[str(item.month)]
        sections.setdefault(_SECTIONS.get(kind, _snake(kind)), []).append(exported)
    sections["orders"] = _by_time(member_data.orders(order_ids), member_id)
    sections["actions"] = _by_time(member_data.actions(action_refs), member_id)
    _add_plan_purchases(sections, member_data.plan_purchases(membership_ids), member_id)
    logger.info("member data exported", extra={"member_id": member_id, "records": sum(len(v) for v in sections.values())})
    return {
        "format": FORMAT,
        "exported_at": iso(utcnow()),
        "member": {**export_item(member), "points_expiring": expiring_summary(points_state(member), rules.points_validity_months)},
        "pending_changes": pending,
        **{name: sections[name] for name in sorted(sections)},
    }
