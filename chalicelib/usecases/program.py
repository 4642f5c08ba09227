"""GET /v1/program: the rules members play by, as the live rules document says today."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from ..domain.clock import today_in
from ..domain.earn_rules import describe
from ..domain.earning import applies_on, best_promotion, running, upcoming
from ..domain.rules import MembershipPlan, ProgramRules, Promotion
from ..domain.stamps import describe_card
from ..domain.wechat import is_configured
from ..settings import get_settings
from ..store.parameters import load_rules
from ..store.rewards import every_reward


def decimal_text(value: Decimal) -> str:
    """Exact, without float noise or trailing zeros: 1.25 -> "1.25", 2.0 -> "2"."""
    return f"{value.normalize():f}"


def _promotion_view(promotion: Promotion, today: date) -> dict[str, Any]:
    return {
        "promotion_id": promotion.id,
        "name": promotion.name,
        "starts_on": promotion.starts_on.isoformat(),
        "ends_on": promotion.ends_on.isoformat(),
        "multiplier": decimal_text(promotion.multiplier),
        "weekdays": list(promotion.weekdays),
        "applies_today": applies_on(promotion, today),
    }


def _coupon_gift(reward_id: str | None, names: dict[str, str]) -> dict[str, Any] | None:
    if not reward_id or reward_id not in names:
        return None  # not (or no longer) in the catalogue: no coupon is issued either
    return {"reward_id": reward_id, "name": names[reward_id]}


def program_summary(rules: ProgramRules, today: date, reward_names: dict[str, str]) -> dict[str, Any]:
    best = best_promotion(rules, today)
    return {
        "program_name": rules.program_name,
        "timezone": rules.timezone,
        "today": today.isoformat(),
        "currencies": list(rules.currencies),
        "earning": {
            "earn_rate": decimal_text(rules.earn_rate),
            "rule": "points = floor(amount / 100 x earn_rate x tier multiplier x birthday multiplier x promotion multiplier)",
            "promotion_multiplier_today": decimal_text(best.multiplier) if best else "1",
        },
        "tiers": [{"tier_id": t.id, "name": t.name, "threshold": t.threshold, "multiplier": decimal_text(t.multiplier)} for t in rules.tiers],
        "tier_window_months": rules.tier_window_months,
        "welcome": {"points": rules.welcome_points, "coupon": _coupon_gift(rules.welcome_coupon_reward_id, reward_names)},
        "birthday": {
            "points": rules.birthday_points,
            "multiplier": decimal_text(rules.birthday_multiplier),
            "coupon": _coupon_gift(rules.birthday_coupon_reward_id, reward_names),
        },
        "referral": {"referrer_points": rules.referrer_points, "referee_points": rules.referee_points},
        "expiry": {
            "points_validity_months": rules.points_validity_months,
            "rule": f"Points expire {rules.points_validity_months} months after the end of the month they were earned",
        },
        "coupon_valid_days": rules.coupon_valid_days,
        "promotions": {
            "active": [_promotion_view(p, today) for p in running(rules, today)],
            "upcoming": [_promotion_view(p, today) for p in upcoming(rules, today)],
        },
        "earn_rules": [
            {"rule_id": r.id, "label": r.label, "description": describe(r)}
            for r in rules.earn_rules
            if r.active and (r.conditions.ends_on is None or r.conditions.ends_on >= today)
        ],
        "earn_exclusions": _exclusions_view(rules),
        "stamp_cards": [
            {"card_id": c.id, "name": c.name, "stamps_needed": c.stamps_needed, "reward_id": c.reward_id, "description": describe_card(c)}
            for c in rules.stamp_cards
            if c.active
        ],
        "plans": [_plan_view(p) for p in rules.plans if p.on_sale],
        "transfers": _transfers_view(rules),
    }


def _transfers_view(rules: ProgramRules) -> dict[str, Any]:
    """Points transfer (转赠) limits as a member reads them before giving points (docs/transfers.md).
    What a member already sent today is not here: the program is public and cached."""
    t = rules.transfers
    return {
        "enabled": t.enabled,
        "min_points": t.min_points,
        "max_points": t.max_points,
        "max_points_per_day": t.max_points_per_day,
        "max_transfers_per_day": t.max_transfers_per_day,
        "min_balance_kept": t.min_balance_kept,
        "sender_tiers": list(t.sender_tiers),
    }


def _plan_view(plan: MembershipPlan) -> dict[str, Any]:
    """A paid membership plan on sale, as a member reads it before buying (docs/plans.md)."""
    return {
        "plan_id": plan.id,
        "name": plan.name,
        "fee": plan.fee,
        "currency": plan.currency,
        "period_months": plan.period_months,
        "period_days": plan.period_days,
        "tier": plan.tier,
        "refund_window_days": plan.refund_window_days,
    }


def _exclusions_view(rules: ProgramRules) -> dict[str, Any]:
    ex = rules.earn_exclusions
    never = [*(f"category {c}" for c in ex.categories), *(f"item {s}" for s in ex.skus)]
    text = f"No points on {', '.join(never)}" if never else "Every item earns points"
    if not ex.discounted_lines_earn:
        text += "; discounted items earn no points"
    return {"categories": list(ex.categories), "skus": list(ex.skus), "discounted_lines_earn": ex.discounted_lines_earn, "description": text}


def current_program() -> dict[str, Any]:
    rules = load_rules()
    gifts = {r for r in (rules.welcome_coupon_reward_id, rules.birthday_coupon_reward_id) if r}
    names: dict[str, str] = {}
    if gifts:
        for reward in every_reward():
            if reward.reward_id in gifts and reward.active:
                names[reward.reward_id] = reward.name
    return program_summary(rules, today_in(rules.zone), names) | {"wechat_sign_in": wechat_sign_in()}


def wechat_sign_in() -> dict[str, Any] | None:
    """Where a page opened inside WeChat sends the member to sign in with the official account
    (OAuth, snsapi_base, docs/wechat.md): its appid and WeChat's authorize page. None when the
    stage has no official account (`off`, infra/stack.py): the web app then offers no WeChat sign-in."""
    settings = get_settings()
    if not is_configured(settings.wechat_official_account_appid):
        return None
    return {"appid": settings.wechat_official_account_appid, "authorize_url": settings.wechat_oauth_authorize_url, "scope": "snsapi_base"}
