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


def forget_subscription(member_id: str, template_id: str) -> None:
    """WeChat refused a message for want of a subscription (errcode 43101: the member turned the
    template off in WeChat): the member's consent to that template is cleared, so nothing more is
    planned on it until they accept it again. Best effort: the send has already failed."""
    from ..store.members import get_member
    from ..store.unit_of_work import run

    def attempt(uow: UnitOfWork) -> None:
        member = get_member(member_id)
        subscriptions = wechat_store.subscriptions_of(member) if member is not None else {}
        if member is None or template_id not in subscriptions:
            return
        subscriptions.pop(template_id)
        uow.update("member", member, wechat_store.subscriptions_update(member, subscriptions))
        uow.commit()

    run(attempt)
