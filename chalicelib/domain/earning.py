"""How much a purchase earns beyond its amount: the tier, birthday and promotion multipliers,
and the promotions calendar (dated multipliers, e.g. double points on member day). Pure.

Purchases are computed by the earn-rules engine (`earn_rules.evaluate`), which runs these
multipliers as its built-in rules with the same result; `earn_multiplier` states the formula
the defaults keep:

    points = floor(amount / 100 x earn_rate x tier multiplier x birthday multiplier x promotion multiplier)

- the tier multiplier always applies; the birthday multiplier on the member's
  birthday (program time zone); the promotion multiplier on the days a
  promotion applies;
- promotions do not stack with each other: when several apply on one day, the
  highest multiplier wins (operators can overlap a long campaign and a
  one-day event without multiplying them);
- a promotion applies on day D when `starts_on <= D <= ends_on` (both
  inclusive) and, if it lists `weekdays` (ISO: 1 = Monday .. 7 = Sunday),
  D's weekday is one of them. D is "today" in the program time zone, the day
  the purchase is reported.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from .calendar import birthday_multiplier_applies
from .rules import ProgramRules, Promotion

NO_PROMOTION = Decimal(1)


def applies_on(promotion: Promotion, day: date) -> bool:
    if not promotion.starts_on <= day <= promotion.ends_on:
        return False
    return not promotion.weekdays or day.isoweekday() in promotion.weekdays


def promotions_on(rules: ProgramRules, day: date) -> list[Promotion]:
    return [p for p in rules.promotions if applies_on(p, day)]


def best_promotion(rules: ProgramRules, day: date) -> Promotion | None:
    """The promotion whose multiplier a purchase on `day` gets (the highest), if any."""
    applying = promotions_on(rules, day)
    return max(applying, key=lambda p: p.multiplier) if applying else None


def promotion_multiplier(rules: ProgramRules, day: date) -> Decimal:
    best = best_promotion(rules, day)
    return best.multiplier if best else NO_PROMOTION


def running(rules: ProgramRules, day: date) -> list[Promotion]:
    """Promotions whose period includes `day` (they may still skip `day`'s weekday)."""
    return sorted((p for p in rules.promotions if p.starts_on <= day <= p.ends_on), key=lambda p: (p.starts_on, p.id))


def upcoming(rules: ProgramRules, day: date) -> list[Promotion]:
    """Promotions that start after `day`, soonest first."""
    return sorted((p for p in rules.promotions if p.starts_on > day), key=lambda p: (p.starts_on, p.id))


def earn_multiplier(rules: ProgramRules, tier_id: str, birthday: str | None, day: date) -> Decimal:
    """tier x birthday (on the member's birthday) x the day's best promotion."""
    multiplier = rules.tier(tier_id).multiplier
    if birthday_multiplier_applies(birthday, day):
        multiplier *= rules.birthday_multiplier
    return multiplier * promotion_multiplier(rules, day)
