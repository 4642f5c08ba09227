"""Stored value (储值): merchant top-ups, payments and refunds; the member's wallet statement."""

from __future__ import annotations

from .http import ApiBlueprint

bp = ApiBlueprint(__name__)
