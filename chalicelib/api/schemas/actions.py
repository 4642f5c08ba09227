"""A store's report of an action other than a purchase (a review, a share...): its body
(usecases/actions.py, docs/actions.md). The member's daily check-in takes no body."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

from .fields import Body, Identifier, _plausible_purchase_time

# What an action rule's `type` may be (domain/rules.ActionRule): lower-case, digits, underscores.
ActionType = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class ActionRequest(Body):
    event_id: Identifier
    member_id: Identifier
    type: ActionType
    store_id: Identifier | None = None
    occurred_at: Annotated[datetime, AfterValidator(_plausible_purchase_time)] | None = None
    ref: Identifier | None = None
