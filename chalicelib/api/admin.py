"""The operator API under /v1/admin: IAM-authorised when deployed (open in the local stage only)."""

from __future__ import annotations

from .http import ApiBlueprint

bp = ApiBlueprint(__name__)
