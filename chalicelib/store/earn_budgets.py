"""Earn-rule budgets: the points a budgeted rule gave, counted on `BUDGET_SHARDS` shard items
(`EARNBUDGET#<rule_id>` / `SHARD#<n>`) so that no single item is hot.

The budget is split evenly over the shards (`shard_cap`); a purchase draws from one shard with a
conditional ADD inside its own transaction (`draw`): the shard's total never passes its cap, so the
rule's total never passes its budget, whatever the concurrency. When the drawn shard cannot give
what the purchase wants, the transaction is cancelled; the purchase then reads the shards
(`remaining`, one BatchGet) and retries on the fullest one, for at most what it holds.
"""

from __future__ import annotations

from pynamodb.expressions.condition import Condition

from . import keys
from .models import BudgetShard
from .unit_of_work import UnitOfWork

BUDGET_SHARDS = 8


def part_name(rule_id: str) -> str:
    """The unit-of-work part of a draw (to tell which budget a cancelled purchase hit)."""
    return f"budget:{rule_id}"


def shard_cap(budget: int, shard: int) -> int:
    """The shard's share of the budget: the shares sum to the budget exactly."""
    return budget // BUDGET_SHARDS + (1 if shard < budget % BUDGET_SHARDS else 0)


def draw(uow: UnitOfWork, rule_id: str, budget: int, shard: int, points: int) -> None:
    """Count `points` on the rule's `shard`, only if the shard stays within its cap."""
    cap = shard_cap(budget, shard)
    item = BudgetShard(keys.budget_pk(rule_id), keys.budget_shard_sk(shard))
    condition: Condition = BudgetShard.given <= cap - points
    if points <= cap:
        condition = BudgetShard.given.does_not_exist() | condition
    actions = [BudgetShard.entity.set(BudgetShard), BudgetShard.rule_id.set(rule_id), BudgetShard.given.add(points)]
    uow.update(part_name(rule_id), item, actions, condition)


def remaining(rule_id: str, budget: int) -> dict[int, int]:
    """What each shard still holds (one BatchGet of every shard)."""
    given = {shard: 0 for shard in range(BUDGET_SHARDS)}
    pk = keys.budget_pk(rule_id)
    wanted = [(pk, keys.budget_shard_sk(shard)) for shard in range(BUDGET_SHARDS)]
    for item in BudgetShard.batch_get(wanted, consistent_read=True):
        given[int(item.sk.removeprefix("SHARD#"))] = int(item.given)
    return {shard: max(0, shard_cap(budget, shard) - given[shard]) for shard in given}


def given_in_total(rule_id: str) -> int:
    """The points the rule's budget gave so far (operators' view, tests)."""
    pk = keys.budget_pk(rule_id)
    return sum(int(item.given) for item in BudgetShard.batch_get([(pk, keys.budget_shard_sk(s)) for s in range(BUDGET_SHARDS)], consistent_read=True))
