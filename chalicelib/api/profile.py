"""The member's own profile: PATCH /v1/me, phone and email changes, closure and data export."""

from __future__ import annotations

from .http import ApiBlueprint

bp = ApiBlueprint(__name__)
