"""What the operator API (/v1/admin) answers beside views.py's: the member with what operators
need, their coupons, merchant keys and audit entries. Built by the use cases in
`usecases/operations/` and `usecases/audit.py` from the items the store returns."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from ...domain.clock import iso
from .views import as_dict, member_view

if TYPE_CHECKING:
    from ...domain.tiers import TierProgress
    from ...store.models import Coupon, Member
    from ...store.models_admin import ApiKeyRecord, AuditEntry


def operator_member_view(member: Member, expiring: list[dict[str, Any]], tier: str, progress: TierProgress, today: date) -> dict[str, Any]:
    """The member as the app shows it, plus what operators need (override, state dates); `tier` is
    the tier in effect (the override is a floor), `progress` measured from it."""
    view = member_view(member, expiring, progress, today)
    view.update(
        {
            "tier": tier,
            "tier_override": member.tier_override,
            "operator_tags": sorted(member.operator_tags or ()),
            "gender": member.gender,
            "lifecycle": member.lifecycle,
            "last_activity_on": member.last_activity_on,
            "activated_at": iso(member.activated_at) if member.activated_at else None,
            "closed_at": iso(member.closed_at) if member.closed_at else None,
            # When and how each consent was given or withdrawn (domain/messaging.recorded_consents).
            "consent_records": {
                name: {"given": bool(r.get("given")), "at": r.get("at"), "source": r.get("source")}
                for name, r in sorted((k, as_dict(v)) for k, v in as_dict(member.consent_records).items())
            },
            "imported_by": member.imported_by,
        }
    )
    return view


def operator_coupon_view(coupon: Coupon, now: datetime) -> dict[str, Any]:
    """A member's coupon as operators see it: its stored status, `expired` once an issued one lapsed."""
    return {
        "code": coupon.code,
        "kind": coupon.kind,
        "reward_id": coupon.reward_id,
        "status": "expired" if coupon.status == "issued" and coupon.expires_at <= now else coupon.status,
        "expires_at": iso(coupon.expires_at),
        "created_at": iso(coupon.created_at),
    }


def merchant_key_view(record: ApiKeyRecord) -> dict[str, Any]:
    """An issued merchant key, without its secret (shown once, when issued)."""
    return {
        "key_id": record.key_id,
        "store_id": record.store_id,
        "scope": record.scope or "store",
        "status": record.status,
        "created_at": iso(record.created_at),
        "revoked_at": iso(record.revoked_at) if record.revoked_at else None,
    }


def audit_entry_view(entry: AuditEntry) -> dict[str, Any]:
    return {
        "audit_id": entry.audit_id,
        "actor": entry.actor,
        "action": entry.action,
        "target": {"type": entry.target_type, "id": entry.target_id},
        "member_id": entry.member_id,
        "reason": entry.reason,
        "ref": entry.ref,
        "before": json.loads(entry.before) if entry.before else None,
        "after": json.loads(entry.after) if entry.after else None,
        "created_at": iso(entry.created_at),
    }
