"""Business events: what a committed change of the table means to the brand's other systems.

Derived from the table's change stream (DynamoDB Streams, NEW_AND_OLD_IMAGES), never from the
request path: a change is in the stream only once its transaction committed, so a cancelled
transaction (a refused request, a lost race) publishes nothing, and a committed one publishes
even if its request's answer was lost. `events_of_change` is the one mapping, from an item's old
and new images (plain dicts) to zero or more events; `schemas/events/<type>.json` documents each
event's `data` (tests/unit/test_business_events.py validates every emitted event against it).

An event carries ids, kinds and amounts only: never a phone, name, email, birthday, address or
free text, and never a coupon's code (a bearer secret: `coupon_ref` is a digest of it).

The event id is derived from the stream record's id and the event's type, so a retried stream
batch publishes the same ids: consumers deduplicate by `id` (delivery is at least once).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SCHEMA_VERSION = 1

# Ledger entry kinds (store/ledger.py) -> event type. Kinds not here publish nothing on their own.
LEDGER_EVENTS: dict[str, str] = {
    "earn": "points.earned",
    "bonus": "points.earned",
    "action": "points.earned",
    "check_in": "points.earned",
    "scan": "points.earned",
    "earn_pending": "points.held",
    "points_available": "points.released",
    "pending_cancelled": "points.hold_cancelled",
    "pending_forfeited": "points.hold_cancelled",
    "redeem": "points.redeemed",
    "expire": "points.expired",
    "adjust": "points.adjusted",
    "refund": "points.refunded",
    "referral_clawback": "points.refunded",
    "plan_started": "plan.started",
    "plan_renewed": "plan.renewed",
    "plan_lapsed": "plan.lapsed",
    "plan_refunded": "plan.refunded",
    "plan_ended": "plan.ended",
    "transfer_out": "points.transferred",
    "transfer_in": "points.transferred",
    "imported": "points.imported",
}
# Wallet entry kinds (store/wallet.py) -> event type.
WALLET_EVENTS: dict[str, str] = {
    "topup": "wallet.topped_up",
    "bonus": "wallet.bonus_added",
    "payment": "wallet.paid",
    "refund": "wallet.refunded",
    "topup_refund": "wallet.refunded",
    "bonus_clawback": "wallet.refunded",
    "refund_returned": "wallet.refund_returned",
    "imported": "wallet.imported",
}
# A member's status moves (old, new) -> event type; None: any status.
STATUS_EVENTS: dict[tuple[str | None, str], str] = {
    ("pending", "active"): "member.activated",
    (None, "frozen"): "member.frozen",
    ("frozen", "active"): "member.unfrozen",
    (None, "closed"): "member.closed",
    ("closed", "active"): "member.restored",
    ("closed", "pending"): "member.restored",
    ("closed", "frozen"): "member.restored",
}
# What a member keeps about themselves: a change names the fields, never their values.
PROFILE_FIELDS = ("phone", "name", "email", "birthday", "gender", "address", "preferences", "tags", "consents")
COUPON_STATUS_EVENTS = {"redeemed": "coupon.used", "revoked": "coupon.revoked"}
# A campaign's delivery record outcomes that mean the member got something (store/campaigns.py):
# a message (taken by its channel, or held back by quiet hours), points, a coupon. `control` and
# `skipped` got nothing.
CAMPAIGN_SENT_OUTCOMES = frozenset({"sent", "deferred", "granted"})

EVENT_TYPES: tuple[str, ...] = tuple(
    sorted(
        {
            "member.enrolled",
            "member.profile_changed",
            "member.erased",
            "tier.changed",
            "coupon.issued",
            "campaign.sent",
            "campaign.delivery_unknown",
            *STATUS_EVENTS.values(),
            *LEDGER_EVENTS.values(),
            *WALLET_EVENTS.values(),
            *COUPON_STATUS_EVENTS.values(),
        }
    )
)


@dataclass(frozen=True)
class BusinessEvent:
    """One versioned event: `id` is stable across retries of the stream record it came from."""

    id: str
    type: str
    occurred_at: str
    data: dict[str, Any] = field(default_factory=dict)
    version: int = SCHEMA_VERSION

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "version": self.version, "occurred_at": self.occurred_at, "data": self.data}


def event_id(record_id: str, event_type: str) -> str:
    """Deterministic from the stream record and the type: a retried record gives the same id."""
    return "evt_" + hashlib.sha256(f"{record_id}|{event_type}".encode()).hexdigest()[:32]


def coupon_ref(code: str) -> str:
    """A coupon's public reference: a digest of its code, which is a bearer secret."""
    return "cpn_" + hashlib.sha256(f"coupon|{code}".encode()).hexdigest()[:24]


def _member_id(item: Mapping[str, Any]) -> str | None:
    if item.get("member_id"):
        return str(item["member_id"])
    pk = str(item.get("pk", ""))
    return pk.removeprefix("MEMBER#") if pk.startswith("MEMBER#") else None


def _instant(value: Any) -> str | None:
    """A stored UTC time (`...+0000`, as PynamoDB writes it) as RFC 3339 (`...Z`)."""
    if value is None:
        return None
    text = str(value)
    return text[:-5] + "Z" if text.endswith("+0000") else text


def _optional(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _member_events(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    member_id = str(new.get("member_id"))
    if old is None:
        return [("member.enrolled", {"member_id": member_id, "status": new.get("status"), "tier": new.get("tier")})]
    found: list[tuple[str, dict[str, Any]]] = []
    before, after = old.get("status"), new.get("status")
    if before != after and after is not None:
        kind = STATUS_EVENTS.get((before, after)) or STATUS_EVENTS.get((None, after))
        if kind is not None:
            found.append((kind, {"member_id": member_id, "from_status": before, "to_status": after}))
    if old.get("tier") != new.get("tier") and new.get("tier") is not None:
        found.append(("tier.changed", {"member_id": member_id, "from_tier": old.get("tier"), "to_tier": new.get("tier")}))
    if new.get("erased") and not old.get("erased"):
        found.append(("member.erased", {"member_id": member_id}))
    elif not new.get("erased"):
        changed = [f for f in PROFILE_FIELDS if (old.get(f) or None) != (new.get(f) or None)]
        if changed:
            found.append(("member.profile_changed", {"member_id": member_id, "fields": changed}))
    return found


def _ledger_event(new: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    kind = str(new.get("kind"))
    event_type = LEDGER_EVENTS.get(kind)
    if event_type is None:
        return None
    data = _optional(
        member_id=_member_id(new),
        entry_id=new.get("entry_id"),
        kind=kind,
        points=int(new.get("points") or 0),
        pending=int(new["pending"]) if new.get("pending") is not None else None,
        balance_after=int(new.get("balance_after") or 0),
        ref=new.get("ref"),
    )
    return event_type, data


def _wallet_event(new: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    kind = str(new.get("kind"))
    event_type = WALLET_EVENTS.get(kind)
    if event_type is None:
        return None
    return event_type, _optional(
        member_id=_member_id(new),
        entry_id=new.get("entry_id"),
        amount=int(new.get("amount") or 0),
        balance_after=int(new.get("balance_after") or 0),
        ref=new.get("ref"),
    )


def _coupon_events(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    base = _optional(member_id=_member_id(new), coupon_ref=coupon_ref(str(new.get("code", ""))), kind=new.get("kind"), reward_id=new.get("reward_id"))
    if old is None:
        return [("coupon.issued", {**base, **_optional(expires_at=_instant(new.get("expires_at")))})]
    status = new.get("status")
    if old.get("status") != status and status in COUPON_STATUS_EVENTS:
        return [
            (COUPON_STATUS_EVENTS[str(status)], {**base, **_optional(redemption_id=new.get("redemption_id"), store_id=new.get("redeemed_store"))})
        ]
    return []


def _campaign_event(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """A member's delivery record: what the campaign gave them (never the message's text), once.

    A record whose message is handed to its channel after the commit is written with `handover:
    pending` and publishes nothing then: its event comes with the update that settles the hand-over,
    `sent` when the channel took it, `granted` (its points or coupon) or nothing when it refused it,
    and `campaign.delivery_unknown` when nobody can tell any more whether the channel took it
    (`unknown`: the worker stopped between the send and noting it). Every other record (held by
    quiet hours, a grant without a message) publishes when written."""
    if old is None:
        if new.get("handover") == "pending":
            return None
    elif not (old.get("handover") == "pending" and new.get("handover") in ("accepted", "refused", "unknown")):
        return None
    code = new.get("coupon_code")
    given = _optional(
        campaign_id=new.get("campaign_id"),
        member_id=_member_id(new),
        points=int(new.get("points") or 0),
        coupon_ref=coupon_ref(str(code)) if code else None,
    )
    if new.get("handover") == "unknown":
        return "campaign.delivery_unknown", {**given, "message": _optional(channel=new.get("channel"))}
    outcome = str(new.get("outcome"))
    if outcome not in CAMPAIGN_SENT_OUTCOMES:
        return None
    message = _optional(channel=new.get("channel"), deferred=outcome == "deferred") if outcome in ("sent", "deferred") else None
    return "campaign.sent", {**given, "outcome": outcome, **_optional(message=message)}


def events_of_change(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, *, record_id: str, committed_at: datetime) -> list[BusinessEvent]:
    """The business events one committed item change means (none for most items: guards,
    idempotency records, counters, lots...). `old`/`new` are the item before and after (None when
    it did not exist / was deleted); `record_id` is the stream record's id."""
    if new is None:
        return []  # deletions: guards, codes, expired records; closure and erasure are member updates
    entity = new.get("type")
    found: list[tuple[str, dict[str, Any]]] = []
    if entity == "Member":
        found = _member_events(old, new)
    elif entity == "LedgerEntry" and old is None:
        found = [e for e in [_ledger_event(new)] if e is not None]
    elif entity == "WalletEntry" and old is None:
        found = [e for e in [_wallet_event(new)] if e is not None]
    elif entity == "Coupon":
        found = _coupon_events(old, new)
    elif entity == "CampaignDelivery":
        found = [e for e in [_campaign_event(old, new)] if e is not None]
    occurred_at = committed_at.isoformat()
    return [BusinessEvent(event_id(record_id, event_type), event_type, occurred_at, data) for event_type, data in found]


def matches(subscribed: list[str] | tuple[str, ...] | set[str], event_type: str) -> bool:
    """An endpoint's event types: exact types, `points.*` for a family, or `*` for everything."""
    return any(p in ("*", event_type) or (p.endswith(".*") and event_type.startswith(p[:-1])) for p in subscribed)
