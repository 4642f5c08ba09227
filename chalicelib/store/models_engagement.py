"""PynamoDB models for referrals, feedback and promotions (imported by models.py so their discriminators are registered)."""

from __future__ import annotations

from .models import BaseItem  # noqa: F401
