"""The rewards catalogue: one partition (`REWARD`), one item a reward, its stock counted down
conditionally (never below zero) in the unit of work that redeems it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pynamodb.attributes import Attribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from . import keys
from .models import Reward
from .paging import Page, query_page
from .unit_of_work import UnitOfWork

PREFIX = keys.reward_sk("")


def get_reward(reward_id: str, *, strongly: bool = False) -> Reward | None:
    try:
        return Reward.get(keys.REWARD_PK, keys.reward_sk(reward_id), consistent_read=strongly)
    except DoesNotExist:
        return None


def reward_key(reward_id: str) -> tuple[str, str]:
    return keys.REWARD_PK, keys.reward_sk(reward_id)


def catalogue_page(limit: int, cursor: str | None, *, active_only: bool) -> Page[Reward]:
    """A page of the catalogue; `active_only`: what members may redeem (a page may then hold fewer
    than `limit`, and `next_cursor` says whether more follow)."""
    active = Reward.active == True if active_only else None  # noqa: E712 - a DynamoDB condition, not a comparison
    return query_page(Reward, keys.REWARD_PK, PREFIX, limit, cursor, filter_condition=active, more_if_any=active_only)


def new_reward(reward_id: str, name: str, points_cost: int, stock: int | None, coupon_valid_days: int | None) -> Reward:
    return Reward(
        keys.REWARD_PK,
        keys.reward_sk(reward_id),
        reward_id=reward_id,
        name=name,
        points_cost=points_cost,
        stock=stock,
        active=True,
        coupon_valid_days=coupon_valid_days,
    )


def take_one_from_stock(uow: UnitOfWork, reward: Reward, name: str = "reward") -> None:
    """One fewer in stock, only while there is one: the part fails (out of stock) otherwise."""
    uow.update(name, reward, [Reward.stock.add(-1)], Reward.stock > 0)


def every_reward() -> Iterator[Reward]:
    """The whole catalogue, retired rewards included, read page by page (eventually consistent)."""
    return iter(Reward.query(keys.REWARD_PK, Reward.sk.startswith(PREFIX)))


def add_reward(uow: UnitOfWork, reward: Reward, name: str = "reward") -> None:
    """Put a new reward only if its id is free (the part fails otherwise and brings the reward
    already there back: `idempotency.existing_record`)."""
    uow.put(name, reward, Reward.pk.does_not_exist(), return_old=True)


_CHANGEABLE: Mapping[str, Attribute[Any]] = {
    "name": Reward.name,
    "points_cost": Reward.points_cost,
    "stock": Reward.stock,
    "active": Reward.active,
    "coupon_valid_days": Reward.coupon_valid_days,
}


def change_reward(uow: UnitOfWork, reward: Reward, changes: Mapping[str, Any], name: str = "reward") -> None:
    """Set the fields in `changes` (None removes one: unlimited stock, the program's validity),
    only while the reward exists with the stock `reward` was read with: a redemption in between
    fails the part, so what the caller recorded as `before` is exact."""
    actions: list[Action] = [_CHANGEABLE[field].remove() if value is None else _CHANGEABLE[field].set(value) for field, value in changes.items()]
    condition: Condition = Reward.pk.exists()
    condition &= Reward.stock.does_not_exist() if reward.stock is None else Reward.stock == reward.stock
    uow.update(name, reward, actions, condition)
