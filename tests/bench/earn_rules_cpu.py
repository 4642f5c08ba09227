"""The earn-rules engine's CPU time per purchase (issue 14: < 2 ms for 20 items and 10 rules).

In process, no AWS: `domain.earn_rules.evaluate` on a 20-line basket under 10 active rules of
every kind (multipliers, points per unit and per item, bonuses, an exclusive group, limits per
order and per member, a budget), plus the built-in base, tier, birthday and promotion rules.
The same rules and basket drive the round-trip case of tests/bench/roundtrips.py.

    .venv/bin/python -m tests.bench.earn_rules_cpu
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

CPU_BUDGET_MS = 2.0
ROUNDS = 7
PER_ROUND = 200


def ten_rules(today: date) -> list[dict[str, Any]]:
    """Ten active earn rules of every kind, all applying to `twenty_items()` on `today`."""
    window = {"starts_on": (today - timedelta(days=1)).isoformat(), "ends_on": (today + timedelta(days=1)).isoformat()}
    return [
        {"id": "fuel-x2", "label": "Fuel x2", "conditions": {"categories": ["fuel"], **window}, "effect": {"multiplier": "2"}},
        {"id": "coffee-x3", "label": "Coffee x3", "conditions": {"categories": ["coffee"]}, "effect": {"multiplier": "3"}, "exclusive_group": "day"},
        {"id": "day-bonus", "label": "Member day", "effect": {"bonus": 50}, "exclusive_group": "day", "priority": 10},
        {"id": "snack-unit", "label": "Snacks +2/1.00", "conditions": {"categories": ["snack"]}, "effect": {"points_per_unit": "2"}},
        {"id": "per-bottle", "label": "5 per bottle", "conditions": {"skus": ["sku-03", "sku-07"]}, "effect": {"points_per_item": 5}},
        {"id": "big-basket", "label": "Big", "conditions": {"min_spend": 10_000}, "effect": {"bonus": 100}, "limits": {"max_points_per_order": 90}},
        {
            "id": "daily-cap",
            "label": "Daily extra",
            "effect": {"points_per_unit": "1"},
            "limits": {"max_points_per_member_per_day": 1_000_000, "max_points_per_member_per_period": 10_000_000},
        },
        {"id": "launch", "label": "Launch bonus", "effect": {"bonus": 10}, "budget": 10**9},
        {"id": "store-channel", "label": "In store", "conditions": {"channels": ["store"], "stores": ["store-001"]}, "effect": {"multiplier": "1.1"}},
        {"id": "card", "label": "Card", "conditions": {"payment_methods": ["card"]}, "effect": {"bonus": 5}},
    ]


def twenty_items() -> list[dict[str, Any]]:
    categories = ("fuel", "coffee", "snack", "shop")
    return [{"sku": f"sku-{n:02d}", "category": categories[n % 4], "quantity": 1 + n % 3, "amount": 500 + 37 * n} for n in range(20)]


@dataclass(frozen=True)
class RuleCpu:
    per_purchase_ms: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.per_purchase_ms)

    @property
    def verdict(self) -> str:
        return "PASS" if self.median_ms < CPU_BUDGET_MS else "OVER"


def measure() -> RuleCpu:
    """CPU time (process_time) per evaluation: the median of ROUNDS rounds of PER_ROUND."""
    from chalicelib.domain.earn_rules import Basket, Earner, basket_lines, evaluate
    from chalicelib.domain.rules import DEFAULT_RULES, ProgramRules, Promotion

    zone = ZoneInfo(DEFAULT_RULES.timezone)
    now = datetime.now(zone)
    rules = ProgramRules.model_validate(
        {
            **DEFAULT_RULES.model_dump(mode="json"),
            "earn_rules": ten_rules(now.date()),
            "promotions": [Promotion(id="day", name="Double day", starts_on=now.date(), ends_on=now.date(), multiplier=2).model_dump(mode="json")],
        }
    )

    @dataclass
    class _Item:
        sku: str
        category: str | None
        quantity: int
        amount: int
        discount: int = 0

    items = [_Item(**i) for i in twenty_items()]
    amount = sum(i.amount for i in items)
    basket = Basket(amount, basket_lines(items, 0, amount), now, store_id="store-001", channel="store", payment_method="card")
    birthday = now.strftime("1992-%m-%d")  # 1992: a leap year, so 29 February too
    earner = Earner("gold", birthday, (), {})
    for _ in range(50):  # warm
        evaluate(rules, basket, earner)
    rounds = []
    for _ in range(ROUNDS):
        start = time.process_time()
        for _ in range(PER_ROUND):
            evaluate(rules, basket, earner)
        rounds.append((time.process_time() - start) / PER_ROUND * 1000)
    return RuleCpu(rounds)


def row(result: RuleCpu) -> tuple[str, str, str, str, str, str, str, str]:
    detail = f"domain.earn_rules.evaluate, 20 items, 10 rules + built-ins; median of {ROUNDS} x {PER_ROUND} (process time)"
    return ("Earn rules: CPU per purchase", f"< {CPU_BUDGET_MS:g} ms", f"{result.median_ms:.3f} ms", result.verdict, detail, "", "", "")


if __name__ == "__main__":
    measured = measure()
    print(f"earn rules: {measured.median_ms:.3f} ms CPU per purchase (budget < {CPU_BUDGET_MS:g} ms): {measured.verdict}")
