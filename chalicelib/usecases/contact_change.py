"""Changing the member's email or phone: the new one is only taken once a code sent to it
comes back.

The code is kept (hashed, TTL) in the member's partition, bound to its target
(store/contact_changes.py). Attempts are counted before they are judged, and sends against the
sending limits (usecases/verification.py).
- Email: a new email is `pending_email` until its code is proven (PATCH /v1/me starts it in the
  profile's unit of work; POST /v1/me/email/verify proves it, and may complete the profile).
  Removing the email is immediate.
- Phone: POST /v1/me/phone sends a code to the new phone (answered the same whether or not the
  phone is another member's); POST /v1/me/phone/verify moves the membership in one unit of work
  that releases the old phone's guard and takes the new one only if nobody holds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..domain.clock import utcnow
from ..domain.errors import InvalidCode, PhoneTaken, TemporarilyUnavailable, ValidationFailed
from ..domain.identity import email_is_confirmed
from ..domain.rules import ProgramRules
from ..notify.sender import DeliveryFailed, Message, send, send_best_effort
from ..observability import count, logger
from ..store import contact_changes
from ..store.codes import (
    SendReservation,
    claim_attempt,
    code_is_valid,
    new_code_item,
    reserve_code_send,
    reserve_send_alone,
    throttle_marker,
)
from ..store.models import Member, VerificationCode
from ..store.parameters import load_rules
from ..store.profile import profile_writes
from ..store.unit_of_work import Cancelled, UnitOfWork, Writes, run
from .common import phone_or_error
from .members import active_member_view
from .profile_completion import add_completion_bonus, completion_fields
from .sessions import MemberSession, open_member
from .verification import code_params, code_text

WRONG_CODE = "The code is wrong, used or expired"


def _proven_code(member_id: str, kind: str, subject: str | None, code: str, rules: ProgramRules, now: datetime) -> VerificationCode:
    """The pending change's code, proven for `subject` by `code`; the attempt is counted before
    it is judged (429 past the limit), and a wrong code is 400 invalid_code."""
    claim_attempt(*contact_changes.attempts_at(member_id, kind), rules, now)
    item = contact_changes.get_code(member_id, kind)
    if not subject or item is None or not code_is_valid(item, subject, code, now):
        count("VerificationsFailed")
        logger.info("change verification failed")
        raise InvalidCode(WRONG_CODE)
    return item


# --- email ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmailChange:
    """What PATCH /v1/me does about the email: the member's writes, and a code to send once the
    change is committed (the send's reservation is in the same unit of work)."""

    member_writes: Writes = field(default_factory=list)
    removes_email: bool = False
    reservation: SendReservation | None = None
    code_to_send: tuple[str, str] | None = None  # (email, code)

    def explain(self, cancelled: Cancelled, rules: ProgramRules, now: datetime) -> None:
        """429 too_many_attempts when the sending limits refused the code's send."""
        if self.reservation is None or "member" in cancelled.failed:
            return
        refused = self.reservation.refusal(cancelled, rules, now)
        if refused is not None:
            count("CodeSendsRefused")
            raise refused


def start_email_change(uow: UnitOfWork, member: Member, email: str | None, rules: ProgramRules, now: datetime, client: str) -> EmailChange:
    """Removing the email is immediate (and drops a pending change); a new email, or one never
    confirmed, is pending until its code comes back: the code and its send's reservation go
    into `uow`."""
    if email is None or (email == member.email and email_is_confirmed(member)):
        fields: dict[str, Any] = {}
        if email is None and member.email:
            fields |= {"email": None, "email_verified_at": None}
            if member.code_channel == "email":
                fields["code_channel"] = "sms"  # sign-in codes cannot go to a removed email
        if member.pending_email:
            fields["pending_email"] = None
            contact_changes.drop_code(uow, member.member_id, "email")
        return EmailChange(profile_writes(fields), removes_email="email" in fields)
    # A new email, or one never confirmed (a signup's, or from before confirmation was required).
    reservation = reserve_code_send(client, email, rules, now)
    reservation.add_to(uow, throttle_marker(*contact_changes.email_send_marker_at(member.member_id), rules, now))
    item, code = new_code_item(*contact_changes.code_at(member.member_id, "email"), email, rules, now, target=email, channel="email")
    uow.put("code", item)
    return EmailChange(profile_writes({"pending_email": email}), reservation=reservation, code_to_send=(email, code))


def verify_email(session: MemberSession, code: str) -> dict[str, Any]:
    """Prove the pending email: it becomes the member's confirmed email (and may complete the
    profile). The attempt is counted before the code is judged."""
    member_id = session.member_id
    rules = load_rules()
    now = utcnow()
    target = open_member(session).pending_email
    proven = _proven_code(member_id, "email", target, code, rules, now)

    def explain(cancelled: Cancelled) -> None:
        if "code" in cancelled.failed:
            raise InvalidCode(WRONG_CODE)

    def attempt(uow: UnitOfWork) -> bool:
        current = open_member(session)
        if current.pending_email != target:
            raise InvalidCode(WRONG_CODE)
        contact_changes.use_code(uow, proven, member_id, "email")
        before = completion_fields(current)
        completion = add_completion_bonus(uow, current, before, {**before, "email": target}, rules, now)
        writes = profile_writes({"email": target, "email_verified_at": now, "pending_email": None})
        uow.update("member", current, writes + completion.member_writes)
        uow.commit(explain)
        return completion.granted

    completed = run(attempt)
    if completed:
        count("ProfilesCompleted")
    logger.info("email verified", extra={"member_id": member_id, "completed": completed})
    return active_member_view(session)


# --- phone ---------------------------------------------------------------------------------


def request_phone_change(session: MemberSession, raw_phone: str, client: str) -> dict[str, Any]:
    """Send a code to the new phone. Answered the same whether or not the phone belongs to
    another member (no enumeration): that is only told to whoever proves the phone is theirs."""
    member_id = session.member_id
    rules = load_rules()
    phone = phone_or_error(raw_phone, rules)
    now = utcnow()
    if phone == open_member(session).phone:
        raise ValidationFailed.single("phone", "is already this membership's phone")
    reserve_send_alone(client, phone, contact_changes.phone_send_marker_at(phone), rules, now)
    item, code = new_code_item(*contact_changes.code_at(member_id, "phone"), phone, rules, now, target=phone)
    contact_changes.save_code(item)
    try:
        send(
            Message(
                channel="sms",
                to=phone,
                kind="verification_code",
                body=code_text(rules, code, "Enter it in the app to move your membership to this number. "),
                params=code_params(rules, code),
            )
        )
    except DeliveryFailed as exc:
        raise TemporarilyUnavailable("The code could not be sent; try again shortly") from exc
    logger.info("phone change requested", extra={"member_id": member_id})
    return {"verification": {"channel": "sms", "expires_in": rules.code_ttl_seconds}}


def verify_phone_change(session: MemberSession, raw_phone: str, code: str) -> dict[str, Any]:
    """Move the membership to the proven phone: one unit of work releases the old phone's guard,
    takes the new one only if absent (409 phone_taken otherwise) and updates the member.
    The attempt is counted before the code is judged; the new phone is proven by it."""
    member_id = session.member_id
    rules = load_rules()
    phone = phone_or_error(raw_phone, rules)
    now = utcnow()
    open_member(session)
    proven = _proven_code(member_id, "phone", phone, code, rules, now)

    def explain(cancelled: Cancelled) -> None:
        if "guard" in cancelled.failed:
            raise PhoneTaken("That phone number belongs to another membership")
        if "code" in cancelled.failed:
            raise InvalidCode(WRONG_CODE)

    def attempt(uow: UnitOfWork) -> str | None:
        """The phone the member leaves (None: a retry whose first commit's answer was lost)."""
        member = open_member(session)
        leaving = member.phone
        if leaving == phone:
            return None
        contact_changes.use_code(uow, proven, member_id, "phone")
        contact_changes.move_phone(uow, member, phone, now)
        uow.commit(explain)
        return leaving

    old_phone = run(attempt)
    count("PhoneChanges")
    logger.info("phone changed", extra={"member_id": member_id})
    if old_phone is not None:
        send_best_effort(
            Message(
                channel="sms",
                to=old_phone,
                kind="phone_changed",
                body=f"[{rules.program_name}] Your membership was moved to a new phone number. If this was not you, contact us.",
            )
        )
    return active_member_view(session)
