"""POST /v1/admin/earn-preview: what a basket would earn, and why, under the rules in force,
for a member or a tier. A dry run: it reads (the member, the budgets) and writes nothing."""

from __future__ import annotations

from typing import Any

from ...api.schemas.operators import EarnPreviewRequest
from ...domain.clock import utcnow
from ...domain.earn_rules import Basket, Earner, basket_lines, evaluate
from ...domain.errors import NotFound, ValidationFailed
from ...domain.stamps import add_stamps, stamps_earned
from ...store import earn_budgets, members
from ...store.parameters import load_rules
from ..common import accepted_currency


def preview_earning(request: EarnPreviewRequest) -> dict[str, Any]:
    rules = load_rules()
    accepted_currency(rules, request.currency)
    lines = basket_lines(request.items, request.discount, request.amount) if request.items else None
    at = (request.at or utcnow()).astimezone(rules.zone)
    held: dict[str, int] = {}  # the member's stamps (none for a tier)
    if request.member_id is not None:
        member = members.get_member(request.member_id)
        if member is None or member.erased:
            raise NotFound("No member with that member_id")
        tier = rules.effective_tier(member.tier, member.tier_override)
        earner = Earner(tier, member.birthday, tuple(sorted(member.operator_tags or ())), members.earn_counters(member))
        held = members.stamp_counts(member)
    else:
        assert request.tier is not None
        if request.tier not in {t.id for t in rules.tiers}:
            raise ValidationFailed.single("tier", f"not a tier of the program: {[t.id for t in rules.tiers]}")
        earner = Earner(request.tier)
    store, channel, paid_by = request.store_id, request.channel, request.payment_method
    if lines:
        basket = Basket(request.amount, lines, at, store_id=store, channel=channel, payment_method=paid_by)
    else:
        basket = Basket.whole(request.amount, at, store_id=store, channel=channel, payment_method=paid_by)
    # What each budget still holds (over all its shards): a purchase draws from one shard, so
    # near the end of a budget it may get less than this says.
    left = {r.id: sum(earn_budgets.remaining(r.id, r.budget).values()) for r in rules.earn_rules if r.active and r.budget is not None}
    evaluation = evaluate(rules, basket, earner, budget_left=left)
    answer = {
        "points_earned": evaluation.points,
        "breakdown": evaluation.breakdown_dicts(),
        "items": [{"sku": line.sku, "points": points} for line, points in zip(basket.lines, evaluation.line_points, strict=True)] if lines else [],
        "order_points": evaluation.order_points,
        "limited": list(evaluation.limited),
        "tier": earner.tier,
        "at": at.isoformat(),
        "written": False,
    }
    if rules.stamp_cards:
        # What the basket would add to each card (coupons: if the reward is in the catalogue then).
        _, progress = add_stamps(rules.stamp_cards, held, stamps_earned(rules.stamp_cards, basket))
        answer["stamps"] = [p.as_dict() for p in progress]
    return answer
