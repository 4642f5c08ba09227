"""A member's WeChat bindings as the table keeps them: a map on the member (`wechat`: app ->
{openid, unionid, bound_at}, version-checked with the member) and one `WechatGuard` per openid
(`WECHAT#<sha256 of appid:openid>`), naming the one member it is bound to. The guard is put only
if absent (or already this member's) in the same unit of work as the member's map, so an openid is
bound to exactly one member however many requests race (usecases/wechat.py).

The member's subscription-message consents (`wechat_subscriptions`: template id -> sends left)
sit on the member too: a send decided in the member's unit of work uses one up there.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pynamodb.expressions.update import Action

from ..domain.wechat import App, WechatIdentity
from . import keys
from .members import as_dict, field_updates
from .models import Member
from .models_transfers import WechatGuard
from .unit_of_work import UnitOfWork


def guard_key(appid: str, openid: str) -> tuple[str, str]:
    digest = hashlib.sha256(f"{appid}:{openid}".encode()).hexdigest()
    return keys.wechat_pk(digest), keys.WECHAT_SK


def bound_member_id(appid: str, openid: str) -> str | None:
    """The member the openid is bound to (one strongly consistent read), None if nobody's."""
    try:
        return str(WechatGuard.get(*guard_key(appid, openid), consistent_read=True).member_id)
    except WechatGuard.DoesNotExist:
        return None


def bindings_of(member: Member) -> dict[str, dict[str, Any]]:
    return {app: as_dict(binding) for app, binding in as_dict(member.wechat).items()}


def binding_of(member: Member, app: App) -> dict[str, Any] | None:
    return bindings_of(member).get(app)


def bind(uow: UnitOfWork, member: Member, identity: WechatIdentity, appid: str, now: datetime) -> list[Action]:
    """Bind the openid to `member`: its guard put only if nobody holds it or `member` already does
    (part `wechat`: a failed condition means another member holds it), the member's previous
    openid in that app (a rebind) released. Returns the member's writes, mirrored on `member`."""
    guard = WechatGuard(*guard_key(appid, identity.openid), member_id=member.member_id, app=identity.app, bound_at=now)
    uow.put("wechat", guard, WechatGuard.pk.does_not_exist() | (WechatGuard.member_id == member.member_id))
    previous = binding_of(member, identity.app)
    if previous and previous.get("openid") != identity.openid:
        release(uow, appid, str(previous["openid"]), member.member_id, part="wechat_previous")
    bindings = bindings_of(member)
    bindings[identity.app] = {"openid": identity.openid, "unionid": identity.unionid, "bound_at": now.isoformat()}
    return field_updates(member, {"wechat": bindings})


def release(uow: UnitOfWork, appid: str, openid: str, member_id: str, part: str = "wechat") -> None:
    """Delete the openid's guard if it still names `member_id` (absent is fine: nothing to release)."""
    guard = WechatGuard(*guard_key(appid, openid))
    uow.delete(part, guard, (WechatGuard.member_id == member_id) | WechatGuard.pk.does_not_exist())


def unbind(uow: UnitOfWork, member: Member, app: App, appid: str) -> list[Action]:
    """Remove the member's binding in `app` (and, for the mini-program, the subscription consents
    that went with its openid). Returns the member's writes, mirrored on `member`."""
    bindings = bindings_of(member)
    binding = bindings.pop(app, None)
    if binding:
        release(uow, appid, str(binding["openid"]), member.member_id, part=f"wechat_{app}")
    changes: dict[str, Any] = {"wechat": bindings or None}
    if app == "mini_program":
        changes["wechat_subscriptions"] = None
    return field_updates(member, changes)


def wechat_openid(member: Member) -> str | None:
    """The member's openid in the mini-program (subscription messages go there), if bound."""
    binding = binding_of(member, "mini_program")
    return str(binding["openid"]) if binding and binding.get("openid") else None


def subscriptions_of(member: Member) -> dict[str, int]:
    return {template: int(left) for template, left in as_dict(member.wechat_subscriptions).items()}


def subscriptions_update(member: Member, subscriptions: dict[str, int]) -> list[Action]:
    return field_updates(member, {"wechat_subscriptions": subscriptions or None})
