"""Hand-made table exports in DynamoDB's export format (gzipped JSON lines of `{"Item": {...}}`),
items keyed as store/keys.py keys them, for the analytics SQL's tests and the bench."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from boto3.dynamodb.types import TypeSerializer

_SERIALIZER = TypeSerializer()
SHANGHAI = ZoneInfo("Asia/Shanghai")


def stamp(day: date, hour: int = 12) -> str:
    """A UTCDateTimeAttribute as PynamoDB stores it, for noon (program time) on `day`."""
    moment = datetime.combine(day, time(hour), SHANGHAI).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f+0000")


def member(member_id: str, joined: date, *, status: str = "active", tier: str = "member", balance: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "pk": f"MEMBER#{member_id}",
        "sk": "PROFILE",
        "type": "Member",
        "member_id": member_id,
        "phone": "+8613900000000",
        "status": status,
        "tier": tier,
        "balance": balance,
        "created_at": stamp(joined),
        "consents": {},
        **extra,
    }


def order(order_id: str, member_id: str, day: date, amount: int, *, store: str | None = "s1", refunded: int = 0) -> dict[str, Any]:
    item = {
        "pk": f"ORDER#{order_id}",
        "sk": "ORDER",
        "type": "Order",
        "order_id": order_id,
        "member_id": member_id,
        "merchant_store": store or "hq",
        "amount": amount,
        "currency": "CNY",
        "points_earned": amount // 100,
        "refunded_amount": refunded,
        "created_at": stamp(day),
    }
    if store is not None:
        item["store_id"] = store
    return item


def ledger(member_id: str, entry_id: str, kind: str, points: int, day: date) -> dict[str, Any]:
    return {
        "pk": f"MEMBER#{member_id}",
        "sk": f"PROFILE#LEDGER#{entry_id}",
        "type": "LedgerEntry",
        "entry_id": entry_id,
        "kind": kind,
        "points": points,
        "balance_after": 0,
        "created_at": stamp(day),
    }


def coupon(code: str, member_id: str, reward_id: str, day: date) -> dict[str, Any]:
    return {
        "pk": f"MEMBER#{member_id}",
        "sk": f"COUPON#{code}",
        "type": "Coupon",
        "code": code,
        "member_id": member_id,
        "kind": "redemption",
        "reward_id": reward_id,
        "status": "issued",
        "created_at": stamp(day),
        "expires_at": stamp(day),
    }


def reward(reward_id: str, name: str, cost: int) -> dict[str, Any]:
    return {"pk": "REWARD", "sk": f"REWARD#{reward_id}", "type": "Reward", "reward_id": reward_id, "name": name, "points_cost": cost, "active": True}


def export_line(item: dict[str, Any]) -> str:
    return json.dumps({"Item": {k: _SERIALIZER.serialize(v) for k, v in item.items() if v is not None}}, separators=(",", ":"))


def write_export(path: Path, items: Iterable[dict[str, Any]]) -> Path:
    """One gzipped data file, as DynamoDB writes them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as out:
        for item in items:
            out.write(export_line(item) + "\n")
    return path
