"""Closing or erasing a membership releases its WeChat bindings (usecases/wechat.py binds them):
the openids may then sign another membership up, and no subscription message goes out."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..domain.wechat import APPS
from ..notify.wechat import appid
from ..store import wechat as wechat_store
from ..store.members import field_updates
from ..store.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from pynamodb.expressions.update import Action

    from ..store.models import Member


def releasing(member: Member) -> tuple[list[Action], Callable[[UnitOfWork], None]]:
    """The member's writes that forget its bindings and subscriptions (mirrored on `member`), and
    the release of their openids' guards, to put in the same unit of work."""
    bound = [(app, str(binding["openid"])) for app in APPS if (binding := wechat_store.binding_of(member, app))]
    subscribed = bool(wechat_store.subscriptions_of(member))
    actions = field_updates(member, {"wechat": None, "wechat_subscriptions": None}) if bound or subscribed else []

    def release(uow: UnitOfWork) -> None:
        for app, openid in bound:
            wechat_store.release(uow, appid(app), openid, member.member_id, part=f"wechat_{app}")

    return actions, release


def release_bindings(uow: UnitOfWork, member: Member) -> list[Action]:
    actions, release = releasing(member)
    release(uow)
    return actions
