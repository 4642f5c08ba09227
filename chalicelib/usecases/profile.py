"""The member's own profile: PATCH /v1/me, and an operator's correction of a birthday.

Every change is one unit of work on the member, conditioned on its version. A new email waits
for its code (contact_change.py); the change that first completes the profile earns the
completion bonus with it (profile_completion.py). What may change: domain/profile.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..api.schemas.profile import ProfilePatch
from ..domain.clock import iso, utcnow
from ..domain.errors import BirthdayLocked, NotFound
from ..domain.messaging import recorded_consents
from ..domain.profile import BirthdayChange, birthday_change
from ..domain.rules import ProgramRules
from ..observability import count, logger
from ..store.members import as_dict, get_member
from ..store.models import Member
from ..store.parameters import load_rules
from ..store.profile import birthday_writes, profile_writes
from ..store.unit_of_work import Cancelled, UnitOfWork, Writes, run
from .contact_change import EmailChange, start_email_change
from .members import active_member_view
from .profile_completion import Completion, add_completion_bonus, completion_fields
from .sessions import MemberSession, open_member
from .verification import send_email_confirmation


@dataclass(frozen=True)
class _Updated:
    completion: Completion
    email: EmailChange | None


def _field_changes(member: Member, patch: ProfilePatch, changes: dict[str, Any]) -> dict[str, Any]:
    """The plain fields the request changes (name, gender, address, preferences, tags, consents),
    with their new values; those it names with the value they have already are left out."""
    fields: dict[str, Any] = {}
    if "name" in changes and changes["name"] != member.name:
        fields["name"] = changes["name"]
    if "gender" in changes and changes["gender"] != member.gender:
        fields["gender"] = changes["gender"]
    if "address" in changes:
        address = changes["address"].model_dump(exclude_none=True) if changes["address"] else None
        if address != (as_dict(member.address) or None):
            fields["address"] = address
    for name in ("preferences", "tags"):
        if name in changes and (changes[name] or []) != list(getattr(member, name) or []):
            fields[name] = changes[name]
    if patch.consents is not None:
        current = {k: bool(v) for k, v in as_dict(member.consents).items()}
        merged = {**current, **patch.consents.given()}
        if merged != current:
            fields["consents"] = merged
            records = {k: as_dict(v) for k, v in as_dict(member.consent_records).items()}
            fields["consent_records"] = recorded_consents(records, current, merged, iso(utcnow()), "member")
    return fields


def _birthday_writes(member: Member, requested: str | None) -> Writes:
    """The member sets their birthday once; after that only an operator corrects it (409)."""
    decision = birthday_change(member.birthday, requested)
    if decision is BirthdayChange.LOCKED:
        raise BirthdayLocked("The birthday can be set once; ask support to correct it")
    return birthday_writes(member.member_id, requested) if decision is BirthdayChange.SET else []


def update_profile(session: MemberSession, patch: ProfilePatch, client: str) -> dict[str, Any]:
    """Change the fields the request names; a new email waits for its code (POST /v1/me/email/verify).
    The code's send counts against the sending limits, in the same unit of work: a refused send
    changes nothing."""
    member_id = session.member_id
    rules = load_rules()
    changes = patch.changes()

    def attempt(uow: UnitOfWork) -> _Updated:
        now = utcnow()
        member = open_member(session)
        before = completion_fields(member)
        fields = _field_changes(member, patch, changes)
        writes = profile_writes(fields)
        after = {**before, **{k: v for k, v in fields.items() if k in before}}
        if "birthday" in changes:
            requested = changes["birthday"].isoformat() if changes["birthday"] else None
            birthday = _birthday_writes(member, requested)
            if birthday:
                writes += birthday
                after["birthday"] = requested
        email = start_email_change(uow, member, changes["email"], rules, now, client) if "email" in changes else None
        if email is not None:
            writes += email.member_writes
            if email.removes_email:
                after["email"] = None
        completion = add_completion_bonus(uow, member, before, after, rules, now)
        writes += completion.member_writes
        if not writes:
            return _Updated(completion, None)
        uow.update("member", member, writes)
        uow.commit(lambda cancelled: _explain(email, cancelled, rules, now))
        return _Updated(completion, email)

    updated = run(attempt)
    if updated.completion.granted:
        count("ProfilesCompleted")
    if updated.email is not None and updated.email.code_to_send is not None:
        send_email_confirmation(*updated.email.code_to_send, rules)
    logger.info("profile updated", extra={"member_id": member_id, "fields": sorted(changes), "completed": updated.completion.granted})
    return active_member_view(session)


def _explain(email: EmailChange | None, cancelled: Cancelled, rules: ProgramRules, now: datetime) -> None:
    """A refused code send is 429; anything else is contention (read again)."""
    if email is not None:
        email.explain(cancelled, rules, now)


# --- for operators (the operator API calls this) -----------------------------------------


def correct_birthday(member_id: str, birthday: str | None, *, actor: str) -> Member:
    """An operator's correction of a birthday the member can no longer change. The year's
    birthday gift already granted stays granted: moving the date never grants it again."""

    def attempt(uow: UnitOfWork) -> None:
        member = get_member(member_id)
        if member is None or member.erased:
            raise NotFound("No member with that member_id")
        uow.update("member", member, birthday_writes(member_id, birthday))
        uow.commit()

    run(attempt)
    logger.info("birthday corrected", extra={"member_id": member_id, "by": "operator" if actor != "member" else "member"})
    updated = get_member(member_id)
    assert updated is not None
    return updated
