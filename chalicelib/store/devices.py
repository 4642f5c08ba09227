"""A member's push devices as the table keeps them: a map on the member (`devices`: device id ->
{platform, endpoint, app_version, registered_at}, at most MAX_DEVICES, version-checked with the
member) and one `PushTokenGuard` per token (`PUSHTOKEN#<sha256>`), naming the member who holds
it: a token registered by another member moves to them in one unit of work. The token itself is
kept only inside its SNS endpoint."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pynamodb.expressions.update import Action

from . import keys
from .members import as_dict
from .models import Member
from .models_transfers import PushTokenGuard
from .reads import item_of, member_key, read_together
from .unit_of_work import UnitOfWork

MAX_DEVICES = 10


def token_digest(platform: str, token: str) -> str:
    return hashlib.sha256(f"{platform}:{token}".encode()).hexdigest()


def device_id_for(digest: str) -> str:
    """The same token is the same device, whoever registers it."""
    return f"dev_{digest[:24]}"


def guard_key(digest: str) -> tuple[str, str]:
    return keys.push_token_pk(digest), keys.PUSH_TOKEN_SK


def devices_of(member: Member) -> dict[str, dict[str, Any]]:
    return {device_id: as_dict(device) for device_id, device in as_dict(member.devices).items()}


def device_endpoints(member: Member) -> list[str]:
    """The SNS endpoints of the member's devices, oldest registration first."""
    devices = sorted(devices_of(member).values(), key=lambda d: str(d.get("registered_at", "")))
    return [str(d["endpoint"]) for d in devices if d.get("endpoint")]


def registration_reads(member_id: str, digest: str) -> tuple[Member | None, PushTokenGuard | None]:
    """The member and the token's guard: one strongly consistent round trip."""
    wanted = [member_key(member_id), guard_key(digest)]
    found = read_together(wanted)
    return item_of(Member, found.get(wanted[0])), item_of(PushTokenGuard, found.get(wanted[1]))


def devices_update(devices: dict[str, dict[str, Any]]) -> list[Action]:
    return [Member.devices.set(devices)] if devices else [Member.devices.remove()]


def hold_token(uow: UnitOfWork, digest: str, member_id: str, device_id: str, now: datetime, *, held_by: str | None) -> None:
    """The token's guard names `member_id`, if nobody else took it since it was read (`held_by`:
    the member the guard named then, None when there was none)."""
    guard = PushTokenGuard(*guard_key(digest), member_id=member_id, device_id=device_id, registered_at=now)
    condition = PushTokenGuard.pk.does_not_exist() if held_by is None else PushTokenGuard.member_id == held_by
    uow.put("guard", guard, condition)


def release_token(uow: UnitOfWork, digest: str, member_id: str, part: str = "guard") -> None:
    """Delete the token's guard if it still names `member_id` (absent is fine: nothing to release)."""
    guard = PushTokenGuard(*guard_key(digest))
    uow.delete(part, guard, (PushTokenGuard.member_id == member_id) | PushTokenGuard.pk.does_not_exist())
