"""The rewards catalogue as operators keep it: list every reward (retired ones too), add one
under the operator's own id, change its stock, name, cost or validity, retire it. Audited."""

from __future__ import annotations

from typing import Any

from ...api.schemas.operators import RewardCreateRequest, RewardUpdateRequest
from ...api.schemas.views import reward_view
from ...domain.clock import utcnow
from ...domain.errors import IdempotencyConflict, NotFound
from ...observability import count, logger
from ...store.idempotency import Replay, existing_record
from ...store.models import Reward
from ...store.parameters import load_rules
from ...store.rewards import add_reward, catalogue_page, change_reward, get_reward, new_reward, reward_key
from ...store.unit_of_work import Cancelled, UnitOfWork, run
from ..audit import Change, add_audit
from ..common import Answer, created, replayed


def list_rewards(limit: int, cursor: str | None) -> dict[str, Any]:
    """The whole catalogue, retired rewards included."""
    return catalogue_page(limit, cursor, active_only=False).view(reward_view)


def create_reward(request: RewardCreateRequest, actor: str) -> Answer:
    """Add a reward under the operator's reward_id. Creating the same reward again is a replay
    (200, the reward as it is now); another definition under that id is 409."""
    rules = load_rules()
    reward = new_reward(request.reward_id, request.name, request.points_cost, request.stock, request.coupon_valid_days)
    definition = (request.name, request.points_cost, request.coupon_valid_days, True)

    def replay_from(cancelled: Cancelled) -> Answer | None:
        existing = existing_record(cancelled, "reward", Reward, reward_key(request.reward_id))
        if existing is None:
            return None  # only the audit entry's id was taken meanwhile: again
        existing_days = None if existing.coupon_valid_days is None else int(existing.coupon_valid_days)
        if (existing.name, int(existing.points_cost), existing_days, bool(existing.active)) != definition:
            raise IdempotencyConflict(f"A reward {request.reward_id} already exists; change it with PATCH") from cancelled
        return replayed(Replay(reward_view(existing)))

    def attempt(uow: UnitOfWork) -> Answer:
        now = utcnow()
        add_reward(uow, reward)
        add_audit(uow, Change(actor, "reward.create", "reward", request.reward_id, None, reward_view(reward), reason=request.reason), rules, now)
        return uow.commit(explain=replay_from) or created(reward_view(reward))

    answer = run(attempt)
    if answer.status == 201:
        count("OperatorActions")
        logger.info("reward created", extra={"reward_id": request.reward_id})
    return answer


def update_reward(reward_id: str, request: RewardUpdateRequest, actor: str) -> dict[str, Any]:
    """Change the fields given. The write is conditioned on the stock read, so the audit's
    `before` is exact even while members redeem (a redemption in between means reading again)."""
    rules = load_rules()
    changes = request.changes()

    def attempt(uow: UnitOfWork) -> dict[str, Any]:
        now = utcnow()
        reward = get_reward(reward_id, strongly=True)
        if reward is None:
            raise NotFound(f"No reward {reward_id}")
        current = reward_view(reward)
        change_reward(uow, reward, changes)
        action = "reward.retire" if changes.get("active") is False else "reward.update"
        add_audit(uow, Change(actor, action, "reward", reward_id, {f: current[f] for f in changes}, changes, reason=request.reason), rules, now)
        uow.commit()
        return {**current, **changes}

    view = run(attempt)
    count("OperatorActions")
    logger.info("reward updated", extra={"reward_id": reward_id, "fields": sorted(changes)})
    return view
