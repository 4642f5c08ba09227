"""Operators' tags on one member (domain/tags.py): added and removed in one audited change,
conditioned on the member's version like every operator change (member_status_and_tier.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...domain.errors import MemberClosed
from ...domain.membership import is_closed
from ...domain.rules import ProgramRules
from ...domain.tags import changed_tags
from ...store.members import operator_tags_update
from ...store.models import Member
from .member_status_and_tier import MemberWrite, change_member


def change_tags(member_id: str, add: list[str], remove: list[str], actor: str, reason: str) -> dict[str, Any]:
    """Add `add` and remove `remove` from the member's operator tags; the member as operators see them.
    A closed membership keeps the tags it had (409 member_closed)."""

    def decide(member: Member, _: datetime, rules: ProgramRules) -> MemberWrite:
        if is_closed(member.status):
            raise MemberClosed("The membership is closed")
        before = sorted(member.operator_tags or ())
        after = changed_tags(rules, before, add, remove)
        return MemberWrite(operator_tags_update(after), {"operator_tags": before}, {"operator_tags": sorted(after)})

    return change_member(member_id, "member.tags", actor, reason, decide)
