"""Operators' tags on members: categories such as `vip`, `staff` or `high_value` that the brand
declares in the rules (`member_tags`) and operators add and remove (audited), for segments and
earn rules to match. Declared, never typed freely: a tag is a category, not a note about one
person, so the audit trail that keeps it holds no personal data. They are the operators' own,
distinct from the preferences and interests a member keeps in the profile. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import ValidationFailed
from .rules import ProgramRules

MAX_TAGS_PER_MEMBER = 50


def changed_tags(rules: ProgramRules, current: Iterable[str], add: Iterable[str], remove: Iterable[str]) -> frozenset[str]:
    """The tags after adding `add` (each declared in the rules, or 400) and removing `remove`
    (any tag, a tag no longer declared included; removing an absent tag or adding a present one
    changes nothing); at most MAX_TAGS_PER_MEMBER, or 400."""
    declared = {t.id for t in rules.member_tags}
    unknown = sorted(set(add) - declared)
    if unknown:
        raise ValidationFailed.single("add", f"not a declared tag: {', '.join(unknown)} (declare tags in the rules' member_tags)")
    tags = (frozenset(current) | frozenset(add)) - frozenset(remove)
    if len(tags) > MAX_TAGS_PER_MEMBER:
        raise ValidationFailed.single("add", f"a member has at most {MAX_TAGS_PER_MEMBER} tags")
    return tags
