"""An operator-assisted move to a new phone, for a member who lost theirs and has no confirmed
email to recover with (a member with one recovers alone: a sign-in code by email, then
POST /v1/me/phone).

The operator's request moves nothing: it sends a sign-in code by SMS to the new phone and keeps
the move pending on it (store/contact_changes.start_phone_move), audited with the operator's
reason. The member then signs in on the new phone with that code (POST /v1/auth/verify), which
proves the phone and completes the move in one unit of work (usecases/enrolment.verify): the new
phone is bound only if nobody holds it, the old phone is released, every earlier token ends, and
the completion is audited too. Until then the old phone still signs in; a later request (another
phone, or a fresh code) replaces the pending one; an unproven move lapses with its code. A member
whose SMS was lost asks for a sign-in code on the new phone (POST /v1/auth/code, enrolment.py): while
the move is pending that texts a fresh code for it with the same deadline, never a later one.

The audit keeps the last four digits of each phone, never the numbers (docs/operators.md).
"""

from __future__ import annotations

from typing import Any

from ...domain.clock import utcnow
from ...domain.errors import InvalidState, MemberClosed, MemberFrozen, PhoneTaken, TemporarilyUnavailable, ValidationFailed
from ...domain.membership import Status, is_closed
from ...domain.phones import phone_ending
from ...notify.sender import DeliveryFailed, Message, send
from ...observability import count, logger
from ...store import contact_changes
from ...store.codes import reserve_send_alone
from ...store.members import member_id_for_phone
from ...store.models import Member
from ...store.parameters import load_rules
from ...store.unit_of_work import Cancelled, UnitOfWork, run
from ..audit import Change, add_audit
from ..common import phone_or_error
from ..verification import PHONE_MOVE_PURPOSE, code_params, code_text
from .member_lookup import member_or_404

TAKEN = "That phone number belongs to another membership"


def _may_move(member: Member, phone: str) -> None:
    """Only an active membership moves (a frozen one is unfrozen first, on purpose), to a phone
    that is not already its own."""
    if is_closed(member.status):
        raise MemberClosed("The membership is closed")
    if member.status == Status.FROZEN:
        raise MemberFrozen("The membership is frozen: unfreeze it before moving it to a new phone")
    if member.status != Status.ACTIVE:
        raise InvalidState("The membership was never activated: its phone was never proven, so there is nothing to recover")
    if phone == member.phone:
        raise ValidationFailed.single("phone", "is already this membership's phone")


def request_phone_move(member_id: str, raw_phone: str, actor: str, reason: str, client: str) -> dict[str, Any]:
    """Send a sign-in code to `raw_phone` and keep the move to it pending until that code comes
    back (409 phone_taken if the phone is another member's: nothing is taken or sent)."""
    rules = load_rules()
    phone = phone_or_error(raw_phone, rules)
    now = utcnow()
    _may_move(member_or_404(member_id), phone)
    if member_id_for_phone(phone) is not None:
        raise PhoneTaken(TAKEN)
    # The phone's sending limits and resend interval, as for any code to it.
    reserve_send_alone(client, phone, contact_changes.phone_send_marker_at(phone), rules, now)

    def explain(cancelled: Cancelled) -> None:
        if "guard" in cancelled.failed:
            raise PhoneTaken(TAKEN)

    def attempt(uow: UnitOfWork) -> tuple[str, str]:
        member = member_or_404(member_id)
        _may_move(member, phone)
        code = contact_changes.start_phone_move(uow, member, phone, rules, now)
        change = Change(
            actor,
            "member.phone_move.request",
            "member",
            member_id,
            {"phone": phone_ending(member.phone), "moving_to_phone": phone_ending(member.moving_to_phone) if member.moving_to_phone else None},
            {"phone": phone_ending(member.phone), "moving_to_phone": phone_ending(phone)},
            reason=reason,
            member_id=member_id,
        )
        entry = add_audit(uow, change, rules, now)
        uow.commit(explain)
        return code, entry["audit_id"]

    code, audit_id = run(attempt)
    count("OperatorActions")
    logger.info("operator action", extra={"action": "member.phone_move.request", "member_id": member_id})
    try:
        body = code_text(rules, code, PHONE_MOVE_PURPOSE)
        send(Message(channel="sms", to=phone, kind="verification_code", body=body, params=code_params(rules, code)))
    except DeliveryFailed as exc:
        # The move stays pending without a code that works: the operator asks again.
        raise TemporarilyUnavailable("The code could not be sent; try again shortly") from exc
    return {
        "member_id": member_id,
        "moving_to_phone": phone,
        "audit_id": audit_id,
        "verification": {"channel": "sms", "expires_in": rules.code_ttl_seconds},
    }
