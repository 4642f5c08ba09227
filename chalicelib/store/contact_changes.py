"""A member's pending phone and email changes as the table keeps them.

- `MEMBER#<id>` / `CHANGE#PHONE` | `CHANGE#EMAIL` (VerificationCode): the change's code (hashed,
  TTL) and its target, single use (deleted, conditioned on its nonce, when proven).
- `MEMBER#<id>` / `ATTEMPTS#PHONE` | `ATTEMPTS#EMAIL` (CodeAttempts): attempts at it, counted
  before each is judged (usecases/verification.py).
- `MEMBER#<id>` / `SENT#EMAIL` (SendThrottle): one email-change code per resend interval; a
  new phone's code is throttled by the phone's own `PHONE#<e164>` / `SENT` marker.

A new phone's uniqueness is the table's: moving the member deletes the old `PHONE#` guard and
puts the new one only if absent, in one unit of work with the member's new phone.

An operator's move (a member who lost their phone and has no confirmed email) is pending on the
new phone itself: its sign-in code `PHONE#<e164>` / `CODE` names the member (`moving_member_id`) while
no guard exists for the phone, and the member records `moving_to_phone`. The member proves the
phone by signing in with that code (usecases/enrolment.verify), which moves them
(`swap_phone_guards` + `moved_phone_writes`). A later move, or a signup on that phone, replaces it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pynamodb.exceptions import DoesNotExist, PutError

from . import keys, members
from .codes import new_code_item
from .models import BaseItem, CodeAttempts, Member, PhoneGuard, VerificationCode
from .unit_of_work import UnitOfWork, error_code

if TYPE_CHECKING:
    from pynamodb.expressions.update import Action

    from ..domain.rules import ProgramRules


def code_at(member_id: str, kind: str) -> tuple[str, str]:
    """Where a change's code lives; kind: "phone" | "email"."""
    return keys.member_pk(member_id), keys.change_sk(kind)


def attempts_at(member_id: str, kind: str) -> tuple[str, str]:
    return keys.member_pk(member_id), keys.change_attempts_sk(kind)


def email_send_marker_at(member_id: str) -> tuple[str, str]:
    return keys.member_pk(member_id), keys.change_sent_sk("email")


def phone_send_marker_at(phone: str) -> tuple[str, str]:
    """The phone's own resend marker (the one sign-in codes to it use too)."""
    return keys.phone_pk(phone), keys.SENT


def get_code(member_id: str, kind: str) -> VerificationCode | None:
    """The pending change's code (its target is on it)."""
    try:
        return VerificationCode.get(*code_at(member_id, kind), consistent_read=True)
    except DoesNotExist:
        return None


def save_code(code: VerificationCode) -> None:
    """Keep a change's code on its own (it replaces the one pending before)."""
    code.save()


def drop_code(uow: UnitOfWork, member_id: str, kind: str) -> None:
    """Delete the pending change's code, if any (part `pending_code`)."""
    uow.delete("pending_code", VerificationCode(*code_at(member_id, kind)))


def use_code(uow: UnitOfWork, code: VerificationCode, member_id: str, kind: str) -> None:
    """The proven code goes (part `code`: fails if it was used or replaced meanwhile), and with it
    the count of attempts at it (part `attempts`)."""
    uow.delete("code", code, VerificationCode.nonce == code.nonce)
    uow.delete("attempts", CodeAttempts(*attempts_at(member_id, kind)))


def swap_phone_guards(uow: UnitOfWork, member: Member, phone: str) -> None:
    """The phone guards of a move to `phone`: the old phone's guard (part `old_guard`: only while
    it is this member's), code, attempts and send marker go; the new phone's guard is put only if
    absent (part `guard`: fails when the phone is another member's)."""
    old = keys.phone_pk(member.phone)
    uow.delete("old_guard", PhoneGuard(old, keys.GUARD), PhoneGuard.member_id == member.member_id)
    # The old phone's code, failures and send marker go with it (no later signup's are touched).
    for sk in (keys.CODE, keys.ATTEMPTS, keys.SENT):
        uow.delete(f"old_{sk.lower()}", BaseItem(old, sk))
    uow.put("guard", PhoneGuard(keys.phone_pk(phone), keys.GUARD, member_id=member.member_id), PhoneGuard.pk.does_not_exist())


def moved_phone_writes(member: Member, phone: str, now: datetime) -> list[Action]:
    """The member's writes of a move to `phone`, proven now (a pending operator's move ends),
    mirrored on `member`. Call after `swap_phone_guards`, which reads the phone it leaves."""
    return members.field_updates(member, {"phone": phone, "phone_key": phone, "phone_verified_at": now, "moving_to_phone": None})


def move_phone(uow: UnitOfWork, member: Member, phone: str, now: datetime) -> None:
    """Move the member to `phone`, proven now: the guards (`swap_phone_guards`) and the member
    (part `member`)."""
    swap_phone_guards(uow, member, phone)
    uow.update("member", member, moved_phone_writes(member, phone, now))


def start_phone_move(uow: UnitOfWork, member: Member, phone: str, rules: ProgramRules, now: datetime) -> str:
    """An operator's move of `member` to `phone`, pending until the phone is proven by SMS: the
    phone's sign-in code naming the member (part `code`), put only while nobody holds the phone
    (part `guard`, a condition on its guard); an earlier pending move's code on another phone
    goes (part `earlier_code`, read first: only while it is still that move's, so a code that
    replaced it since (a signup's, another member's move) is left alone); the member records the
    phone (part `member`). Nothing else changes: the member keeps the old phone until the new one
    is proven. Returns the code to send."""
    pk = keys.phone_pk(phone)
    uow.condition_check("guard", PhoneGuard, pk, keys.GUARD, PhoneGuard.pk.does_not_exist())
    item, code = new_code_item(pk, keys.CODE, phone, rules, now)
    item.moving_member_id = member.member_id
    uow.put("code", item)
    earlier = member.moving_to_phone
    earlier_code = _move_code(member, earlier) if earlier and earlier != phone else None
    if earlier_code is not None:
        uow.delete("earlier_code", earlier_code, VerificationCode.nonce == earlier_code.nonce)
    uow.update("member", member, [Member.moving_to_phone.set(phone)])
    return code


def _move_code(member: Member, phone: str) -> VerificationCode | None:
    """`phone`'s current code if it is `member`'s pending move's (strongly consistent)."""
    try:
        code = VerificationCode.get(keys.phone_pk(phone), keys.CODE, consistent_read=True)
    except DoesNotExist:
        return None
    return code if code.moving_member_id == member.member_id else None


def renew_phone_move_code(code: VerificationCode, phone: str, rules: ProgramRules, now: datetime) -> str | None:
    """A fresh code for the pending move `code` is (a member who lost the first SMS asks again on
    POST /v1/auth/code): the same member, the same deadline (a resend never makes the operator's
    move last longer), put only while `code` is still that phone's (its nonce). Returns the code to
    send, or None when the move changed meanwhile (proven, replaced, voided)."""
    item, fresh = new_code_item(code.pk, keys.CODE, phone, rules, now)
    item.moving_member_id = code.moving_member_id
    item.expires_at = item.ttl = code.expires_at
    try:
        item.save(VerificationCode.nonce == code.nonce)
    except PutError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return None
        raise
    return fresh


def change_kind_of(code: VerificationCode) -> str:
    """Which change ("phone" or "email") a code in the member's partition is for."""
    return code.sk.removeprefix("CHANGE#").lower()
