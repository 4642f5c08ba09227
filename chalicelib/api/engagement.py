"""Referrals, coupons, promotions (the program summary) and feedback."""

from __future__ import annotations

from .http import ApiBlueprint

bp = ApiBlueprint(__name__)
