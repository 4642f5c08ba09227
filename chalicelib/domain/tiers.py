"""Tiers: qualifying on points earned in the trailing window, upgraded at once by a
purchase, reviewed once a year on the membership anniversary. An operator's override is a
floor (rules.effective_tier). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from .points import PointsState, qualifying_points

if TYPE_CHECKING:
    from .rules import ProgramRules


def tier_for_points(rules: ProgramRules, points: int) -> str:
    eligible = [t for t in rules.tiers if t.threshold <= points]
    return eligible[-1].id


def upgraded_tier(rules: ProgramRules, current: str, state: PointsState, today: date) -> str:
    """The tier after a purchase: upgrades happen at once, never downgrades."""
    earned = qualifying_points(state, today, rules.tier_window_months)
    candidate = tier_for_points(rules, earned)
    return candidate if rules.tier_rank(candidate) > rules.tier_rank(current) else current


def reviewed_tier(rules: ProgramRules, current: str, earned_in_window: int) -> str:
    """The tier after the yearly review: up to what was earned, down at most one level."""
    eligible = max((i for i, t in enumerate(rules.tiers) if t.threshold <= earned_in_window), default=0)
    rank = rules.tier_rank(current)
    if eligible >= rank:
        return rules.tiers[eligible].id
    return rules.tiers[rank - 1].id


@dataclass(frozen=True)
class TierProgress:
    """Where a member stands against the next tier: the points that count (from purchases, in the
    trailing window), and what the next tier takes (None at the top tier)."""

    qualifying_points: int
    window_months: int
    next_tier: str | None
    next_threshold: int | None
    points_needed: int | None


def tier_progress(rules: ProgramRules, current: str, state: PointsState, today: date) -> TierProgress:
    """The progress from `current` (a tier no longer in the rules counts as the base tier) to the
    one above it, on the same figure purchases upgrade by (`qualifying_points`). `points_needed`
    is 0 when the points already reach the next tier (the next purchase or the review moves it)."""
    earned = qualifying_points(state, today, rules.tier_window_months)
    rank = rules.tier_rank(current)
    if rank + 1 >= len(rules.tiers):
        return TierProgress(earned, rules.tier_window_months, None, None, None)
    following = rules.tiers[rank + 1]
    return TierProgress(earned, rules.tier_window_months, following.id, following.threshold, max(following.threshold - earned, 0))
