"""The earn-rules engine: what a purchase earns, rule by rule, and why. Pure.

One engine runs the built-in rules and the operators' `earn_rules` (domain/rules.py), in this
documented order (docs/earn-rules.md):

1. `base`: `earn_rate` points per currency unit (100 minor units) of every line that earns
   (lines excluded by `earn_exclusions` earn nothing, from any rule);
2. multipliers, each multiplying the running points of the lines it qualifies: `tier` (the
   member's tier), `birthday` (on the member's birthday), the promotions (`promotion:<id>`,
   exclusive group `promotion`: the best one wins) and the operators' multiplier rules, in
   (priority, id) order;
3. additive rules in (priority, id) order: `points_per_unit` and `points_per_item` on the
   qualifying lines, `bonus` once per qualifying order.

A rule in an `exclusive_group` competes with the others of its group that apply: the one that
would give the most on its own wins (ties: lower priority, then id), the others give nothing.

Points are exact (Decimal, no float) until the end: each rule's points are the difference of
the floors of the running total before and after it, so the breakdown sums exactly to
`floor(total)`, and with the built-in rules alone that is today's
`floor(amount / 100 x earn_rate x tier x birthday x best promotion)`. Limits then cap a rule's
own points (per order, per member per day / period, and its budget); a cap never changes
another rule's points.

The result (`Evaluation`) is a value later rules extend: a stamp card or a pending hold adds
its own breakdown entry or holds points with `Evaluation.plus` / its fields, without touching
how the points above are reached.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from .calendar import birthday_multiplier_applies, period_key
from .errors import ItemsDoNotAddUp, RefundExceedsItems
from .rules import EarnConditions, EarnEffect, EarnLimits, EarnRule, ProgramRules, Promotion

_EXACT = decimal.Context(prec=60, rounding=decimal.ROUND_FLOOR)
_UNIT = Decimal(100)
_ZERO = Decimal(0)
PROMOTION_GROUP = "promotion"


@dataclass(frozen=True)
class Line:
    """One line of a basket: `amount` is what the line earns on (minor units, after its own
    discount and its share of the order's discount)."""

    sku: str | None
    category: str | None
    quantity: int
    amount: int
    discounted: bool = False


@dataclass(frozen=True)
class Basket:
    amount: int
    lines: tuple[Line, ...]
    at: datetime  # when, in the program time zone
    store_id: str | None = None
    channel: str | None = None
    payment_method: str | None = None
    itemised: bool = True  # false: a purchase reported without items (one line, no sku)

    @classmethod
    def whole(cls, amount: int, at: datetime, **order: Any) -> Basket:
        """A purchase reported as one amount: one line that no sku or category rule selects."""
        return cls(amount, (Line(None, None, 0, amount),), at, itemised=False, **order)


@dataclass(frozen=True)
class Earner:
    """Who earns: the member's effective tier, birthday, tags, and the per-member counters of
    rules with per-member limits (`counters`, as kept on the member: see `counter_state`)."""

    tier: str
    birthday: str | None = None
    tags: tuple[str, ...] = ()
    counters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Contribution:
    rule_id: str
    label: str
    points: int

    def as_dict(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "label": self.label, "points": self.points}


@dataclass(frozen=True)
class Evaluation:
    """What a basket earns: `points` == sum of `breakdown` == sum of `line_points` + `order_points`."""

    points: int
    breakdown: tuple[Contribution, ...]
    line_points: tuple[int, ...]  # per basket line: what a refund of the line takes back
    order_points: int  # not attributable to a line (bonuses): taken back when the whole order is
    budget_draws: tuple[tuple[str, int], ...] = ()  # (rule_id, points) to count against the rule's budget
    counters: dict[str, dict[str, Any]] = field(default_factory=dict)  # the member's counters after this purchase
    limited: tuple[str, ...] = ()  # rules a limit or budget cut

    def plus(self, rule_id: str, label: str, points: int) -> Evaluation:
        """This evaluation with one more order-level entry (a later rule: a stamp card, ...)."""
        return replace(
            self,
            points=self.points + points,
            breakdown=(*self.breakdown, Contribution(rule_id, label, points)),
            order_points=self.order_points + points,
        )

    def breakdown_dicts(self) -> list[dict[str, Any]]:
        return [c.as_dict() for c in self.breakdown]


@dataclass(frozen=True)
class _Step:
    rule_id: str
    label: str
    effect: EarnEffect
    conditions: EarnConditions
    priority: int = 100
    group: str | None = None
    limits: EarnLimits | None = None
    budget: int | None = None


def _text(value: Decimal) -> str:
    return f"{value.normalize():f}"


def built_in_steps(rules: ProgramRules, tier_id: str, birthday: str | None, day: date) -> list[_Step]:
    """The base, tier, birthday and promotion rules as engine steps (the defaults of today)."""
    everywhere = EarnConditions()
    tier = rules.tier(tier_id)
    steps = [
        _Step("base", f"{_text(rules.earn_rate)} point(s) per 1.00 spent", EarnEffect(points_per_unit=rules.earn_rate), everywhere, priority=0),
        _Step("tier", f"{tier.name} tier x{_text(tier.multiplier)}", EarnEffect(multiplier=tier.multiplier), everywhere, priority=0),
    ]
    if birthday_multiplier_applies(birthday, day):
        multiplier = rules.birthday_multiplier
        steps.append(_Step("birthday", f"Birthday x{_text(multiplier)}", EarnEffect(multiplier=multiplier), everywhere, priority=1))
    steps += [_promotion_step(p) for p in rules.promotions]
    return steps


def _promotion_step(promotion: Promotion) -> _Step:
    conditions = EarnConditions(weekdays=promotion.weekdays, starts_on=promotion.starts_on, ends_on=promotion.ends_on)
    return _Step(
        f"promotion:{promotion.id}",
        f"{promotion.name} x{_text(promotion.multiplier)}",
        EarnEffect(multiplier=promotion.multiplier),
        conditions,
        priority=50,
        group=PROMOTION_GROUP,
    )


def _rule_step(rule: EarnRule) -> _Step:
    return _Step(rule.id, rule.label, rule.effect, rule.conditions, rule.priority, rule.exclusive_group, rule.limits, rule.budget)


def _order_matches(c: EarnConditions, basket: Basket, earner: Earner) -> bool:
    at = basket.at
    day = at.date()
    if c.stores and basket.store_id not in c.stores:
        return False
    if c.channels and basket.channel not in c.channels:
        return False
    if c.payment_methods and basket.payment_method not in c.payment_methods:
        return False
    if c.weekdays and day.isoweekday() not in c.weekdays:
        return False
    if (c.starts_on and day < c.starts_on) or (c.ends_on and day > c.ends_on):
        return False
    if c.from_time is not None and c.until_time is not None:
        now = at.time().replace(tzinfo=None)
        inside = c.from_time <= now < c.until_time if c.from_time < c.until_time else (now >= c.from_time or now < c.until_time)
        if not inside:
            return False
    if c.tiers and earner.tier not in c.tiers:
        return False
    return not c.tags or bool(set(c.tags) & set(earner.tags))


def _line_qualifies(c: EarnConditions, line: Line) -> bool:
    if not c.selects_lines:
        return True
    return (line.sku is not None and line.sku in c.skus) or (line.category is not None and line.category in c.categories)


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=decimal.ROUND_FLOOR))


def counter_state(counters: Mapping[str, Mapping[str, Any]], rule_id: str, day: date, period: str) -> tuple[int, int]:
    """Points the rule already gave the member today and this period (stale counters read 0).
    A counter is `{"d": day, "dp": points that day, "p": period key, "pp": points that period}`."""
    counter = counters.get(rule_id) or {}
    today = int(counter.get("dp", 0)) if counter.get("d") == day.isoformat() else 0
    this_period = int(counter.get("pp", 0)) if counter.get("p") == period_key(period, day) else 0
    return today, this_period


def allocate(total: int, weights: Sequence[Decimal]) -> list[int]:
    """`total` split over `weights` in proportion, whole numbers summing exactly to `total`
    (largest remainders; no weight: all on the first)."""
    if not weights:
        return []
    whole = sum(weights, _ZERO)
    if whole <= 0:
        return [total] + [0] * (len(weights) - 1)
    exact = [Decimal(total) * w / whole for w in weights]
    shares = [_floor(x) for x in exact]
    rest = total - sum(shares)
    for i in sorted(range(len(exact)), key=lambda i: (shares[i] - exact[i], i))[: max(rest, 0)]:
        shares[i] += 1
    return shares


def _ordered[T](steps: Iterable[tuple[_Step, T]]) -> list[tuple[_Step, T]]:
    """base, then multipliers, then additive rules; each in (priority, id) order."""

    def key(pair: tuple[_Step, T]) -> tuple[int, int, str]:
        step = pair[0]
        phase = 0 if step.rule_id == "base" else 1 if step.effect.multiplier is not None else 2
        return phase, step.priority, step.rule_id

    return sorted(steps, key=key)


def evaluate(
    rules: ProgramRules,
    basket: Basket,
    earner: Earner,
    *,
    budget_left: Mapping[str, int] | None = None,
) -> Evaluation:
    """What `basket` earns for `earner` under `rules`, with its breakdown, per-line points,
    budget draws and the member's counters after it. `budget_left` caps a budgeted rule (the
    points its budget shard still holds, when the caller knows it)."""
    with decimal.localcontext(_EXACT):
        return _evaluate(rules, basket, earner, budget_left or {})


def _evaluate(rules: ProgramRules, basket: Basket, earner: Earner, budget_left: Mapping[str, int]) -> Evaluation:
    day = basket.at.date()
    exclusions = rules.earn_exclusions
    lines = basket.lines
    earning = [
        (line.category is None or line.category not in exclusions.categories)
        and (line.sku is None or line.sku not in exclusions.skus)
        and (exclusions.discounted_lines_earn or not line.discounted)
        for line in lines
    ]
    net = [Decimal(line.amount) / _UNIT if ok else _ZERO for line, ok in zip(lines, earning, strict=True)]
    steps = built_in_steps(rules, earner.tier, earner.birthday, day) + [_rule_step(r) for r in rules.earn_rules if r.active]

    # Which steps apply, and to which lines.
    applying: list[tuple[_Step, list[int]]] = []
    for step in steps:
        c = step.conditions
        if not _order_matches(c, basket, earner):
            continue
        if step.rule_id != "base" and not basket.itemised and c.selects_lines:
            continue
        qualifying = [i for i, line in enumerate(lines) if earning[i] and _line_qualifies(c, line)]
        if not qualifying and step.effect.bonus is None:
            continue
        if c.min_spend and sum((lines[i].amount for i in qualifying), 0) < c.min_spend:
            continue
        if step.effect.bonus is not None and not any(earning) and basket.itemised:
            continue  # a basket of excluded lines alone earns nothing, not even a bonus
        applying.append((step, qualifying))

    base_of = [net[i] * rules.earn_rate for i in range(len(lines))]
    applying = _best_of_groups(applying, base_of, lines)

    # Exact running values per line (base, then multipliers), then additive contributions.
    running = [_ZERO] * len(lines)
    exact: list[tuple[_Step, list[Decimal], Decimal]] = []  # step, per-line exact, order-level exact
    for step, qualifying in _ordered(applying):
        per_line = [_ZERO] * len(lines)
        order_level = _ZERO
        effect = step.effect
        if effect.multiplier is not None:
            for i in qualifying:
                per_line[i] = running[i] * (effect.multiplier - 1)
        elif effect.points_per_unit is not None:
            for i in qualifying:
                per_line[i] = net[i] * effect.points_per_unit
        elif effect.points_per_item is not None:
            for i in qualifying:
                per_line[i] = Decimal(lines[i].quantity * effect.points_per_item)
        else:
            order_level = Decimal(effect.bonus or 0)
        for i in qualifying:
            running[i] += per_line[i]
        exact.append((step, per_line, order_level))

    # Cumulative floors: each rule's whole points, summing to floor(total).
    breakdown: list[Contribution] = []
    draws: list[tuple[str, int]] = []
    limited: list[str] = []
    counters = {k: dict(v) for k, v in earner.counters.items() if any(r.id == k and r.limits.per_member for r in rules.earn_rules)}
    line_weights = [_ZERO] * len(lines)
    line_total = 0
    order_points = 0
    total = _ZERO
    for step, per_line, order_level in exact:
        before = _floor(total)
        total += sum(per_line, _ZERO) + order_level
        points = _floor(total) - before
        capped = _capped(step, points, counters, day, budget_left)
        if capped != points:
            limited.append(step.rule_id)
        if capped and step.budget is not None:
            draws.append((step.rule_id, capped))
        if capped:
            breakdown.append(Contribution(step.rule_id, step.label, capped))
        if order_level:
            order_points += capped
        else:
            line_total += capped
            line_weights = [w + x for w, x in zip(line_weights, per_line, strict=True)]
    # Each line's share of the line rules' points, in proportion to what it earned exactly.
    line_points = allocate(line_total, line_weights)
    earned = sum(c.points for c in breakdown)
    return Evaluation(earned, tuple(breakdown), tuple(line_points), order_points, tuple(draws), counters, tuple(limited))


def _gain(step: _Step, qualifying: list[int], base_of: list[Decimal], lines: Sequence[Line]) -> Decimal:
    """What a rule would give on its own (to pick an exclusive group's best)."""
    effect = step.effect
    if effect.multiplier is not None:
        return sum((base_of[i] for i in qualifying), _ZERO) * (effect.multiplier - 1)
    if effect.points_per_unit is not None:
        return sum((Decimal(lines[i].amount) / _UNIT for i in qualifying), _ZERO) * effect.points_per_unit
    if effect.points_per_item is not None:
        return Decimal(sum(lines[i].quantity for i in qualifying) * effect.points_per_item)
    return Decimal(effect.bonus or 0)


def _best_of_groups(applying: list[tuple[_Step, list[int]]], base_of: list[Decimal], lines: Sequence[Line]) -> list[tuple[_Step, list[int]]]:
    best: dict[str, tuple[Decimal, int, str]] = {}
    for step, qualifying in applying:
        if step.group is None:
            continue
        key = (_gain(step, qualifying, base_of, lines), -step.priority, step.rule_id)
        current = best.get(step.group)
        # The most points wins; then the lower priority; then the lower id (validation keeps
        # operators' rules from tying on priority where they can overlap).
        if current is None or (key[0], key[1]) > (current[0], current[1]) or ((key[0], key[1]) == (current[0], current[1]) and key[2] < current[2]):
            best[step.group] = key
    return [(s, q) for s, q in applying if s.group is None or best[s.group][2] == s.rule_id]


def _capped(step: _Step, points: int, counters: dict[str, dict[str, Any]], day: date, budget_left: Mapping[str, int]) -> int:
    """`points` within the rule's limits and budget; the member's counters move by what is given."""
    if points <= 0:
        return points
    limits = step.limits
    if step.budget is not None:
        points = max(0, min(points, step.budget, budget_left.get(step.rule_id, step.budget)))
    if limits is None:
        return points
    if limits.max_points_per_order is not None:
        points = min(points, limits.max_points_per_order)
    if limits.per_member:
        today, this_period = counter_state(counters, step.rule_id, day, limits.period)
        if limits.max_points_per_member_per_day is not None:
            points = max(0, min(points, limits.max_points_per_member_per_day - today))
        if limits.max_points_per_member_per_period is not None:
            points = max(0, min(points, limits.max_points_per_member_per_period - this_period))
        counters[step.rule_id] = {"d": day.isoformat(), "dp": today + points, "p": period_key(limits.period, day), "pp": this_period + points}
    return points


# --- itemised purchases and their refunds -------------------------------------------------


class Item(Protocol):
    sku: str
    category: str | None
    quantity: int
    amount: int
    discount: int


def basket_lines(items: Sequence[Item], order_discount: int, amount: int) -> tuple[Line, ...]:
    """The lines of a purchase reported with items. They must add up:
    `sum(item amount - item discount) - order discount == amount`; the order's discount is
    spread over the lines in proportion to their amounts (whole minor units), so the lines earn
    on exactly `amount`."""
    nets = [item.amount - item.discount for item in items]
    total = sum(nets) - order_discount
    if total != amount:
        raise ItemsDoNotAddUp(
            f"The items add up to {sum(nets)} (after their own discounts), less the order discount {order_discount}: {total}, but amount is {amount}"
        )
    shares = allocate(order_discount, [Decimal(n) for n in nets])
    return tuple(
        Line(item.sku, item.category, item.quantity, net - share, discounted=item.discount > 0)
        for item, net, share in zip(items, nets, shares, strict=True)
    )


def order_lines(lines: Sequence[Line], line_points: Sequence[int]) -> dict[str, list[int]]:
    """What the order keeps of its lines: sku -> [quantity, amount earned on, points, quantity refunded]."""
    return {line.sku or "": [line.quantity, line.amount, points, 0] for line, points in zip(lines, line_points, strict=True)}


def _line_share(value: int, refunded: int, quantity: int) -> int:
    return value if refunded >= quantity else (value * refunded) // quantity


def refund_lines(lines: Mapping[str, Sequence[int]], wanted: Sequence[tuple[str, int]]) -> tuple[dict[str, list[int]], int]:
    """The order's lines after refunding `wanted` (sku, quantity), and the amount those items
    come to (cumulative floors: refunding a line in parts adds up to its whole amount). Naming a
    sku the purchase did not have, or more of it than it had less what was refunded, is refused."""
    after = {sku: [int(v) for v in values] for sku, values in lines.items()}
    before_amount = items_refunded(after)[0]
    for sku, quantity in wanted:
        line = after.get(sku)
        if line is None:
            raise RefundExceedsItems(f"The purchase has no item with sku {sku}")
        bought, _, _, refunded = line
        if refunded + quantity > bought:
            raise RefundExceedsItems(f"Refunding {quantity} of sku {sku} would make {refunded + quantity} refunded; the purchase had {bought}")
        line[3] = refunded + quantity
    return after, items_refunded(after)[0] - before_amount


def items_refunded(lines: Mapping[str, Sequence[int]]) -> tuple[int, int]:
    """(amount, points) the refunded items of an order come to so far."""
    amount = points = 0
    for values in lines.values():
        quantity, line_amount, line_points, refunded = (int(v) for v in values)
        amount += _line_share(line_amount, refunded, quantity)
        points += _line_share(line_points, refunded, quantity)
    return amount, points


def refund_target(points_earned: int, amount: int, refunded_total: int, lines: Mapping[str, Sequence[int]] | None) -> int:
    """Points to have reversed once `refunded_total` of the order is refunded: refunded items
    take back what they earned; refunds by amount alone take back their share of the points the
    refunded items did not earn (of what is left once they are out, so an item refunded after a
    refund by amount is never taken back twice); the whole amount takes back everything
    (bonuses too); never more than was earned."""
    if refunded_total >= amount:
        return points_earned
    items_amount, items_points = items_refunded(lines or {})
    by_amount = refunded_total - items_amount
    rest_amount, rest_points = amount - items_amount, points_earned - items_points
    share = rest_points * by_amount // rest_amount if by_amount > 0 and rest_amount > 0 else 0
    return min(points_earned, share + items_points)


# --- the rules in words (GET /v1/program, the dry run) ------------------------------------

_CHANNEL_WORDS = {"store": "in store", "online": "online", "app": "in the app"}
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _money(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def describe_effect(effect: EarnEffect) -> str:
    if effect.multiplier is not None:
        return f"x{_text(effect.multiplier)} on the base points"
    if effect.points_per_unit is not None:
        return f"{_text(effect.points_per_unit)} extra point(s) per 1.00 spent"
    if effect.points_per_item is not None:
        return f"{effect.points_per_item} extra point(s) per item"
    return f"{effect.bonus} bonus points per order"


def describe_conditions(c: EarnConditions) -> str:
    parts = []
    if c.skus or c.categories:
        which = [f"items {', '.join(c.skus)}"] if c.skus else []
        which += [f"category {', '.join(c.categories)}"] if c.categories else []
        parts.append("on " + " or ".join(which))
    if c.stores:
        parts.append(f"at store {', '.join(c.stores)}")
    if c.channels:
        parts.append("bought " + " or ".join(_CHANNEL_WORDS.get(channel, channel) for channel in c.channels))
    if c.payment_methods:
        parts.append(f"paid by {' or '.join(c.payment_methods)}")
    if c.weekdays:
        parts.append("on " + ", ".join(_WEEKDAYS[d - 1] for d in c.weekdays))
    if c.starts_on or c.ends_on:
        parts.append(f"from {c.starts_on.isoformat() if c.starts_on else 'now'} to {c.ends_on.isoformat() if c.ends_on else 'further notice'}")
    if c.from_time is not None and c.until_time is not None:
        parts.append(f"between {c.from_time.strftime('%H:%M')} and {c.until_time.strftime('%H:%M')}")
    if c.min_spend:
        parts.append(f"spending at least {_money(c.min_spend)}")
    if c.tiers:
        parts.append(f"for {', '.join(c.tiers)} members")
    if c.tags:
        parts.append(f"for members tagged {', '.join(c.tags)}")
    return ", ".join(parts)


def describe(rule: EarnRule) -> str:
    """An operator's rule in one sentence a member can read."""
    text = describe_effect(rule.effect)
    where = describe_conditions(rule.conditions)
    if where:
        text += f", {where}"
    limits = rule.limits
    caps = []
    if limits.max_points_per_order is not None:
        caps.append(f"{limits.max_points_per_order} per order")
    if limits.max_points_per_member_per_day is not None:
        caps.append(f"{limits.max_points_per_member_per_day} per member per day")
    if limits.max_points_per_member_per_period is not None:
        caps.append(f"{limits.max_points_per_member_per_period} per member per {limits.period}")
    if caps:
        text += f"; at most {', '.join(caps)}"
    if rule.budget is not None:
        text += "; while its budget lasts"
    if rule.exclusive_group:
        text += f"; does not combine with other '{rule.exclusive_group}' offers (the best one applies)"
    return text
