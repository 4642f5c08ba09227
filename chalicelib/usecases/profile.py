"""The member's own profile: edits, phone and email changes, and the data export.

Every change is one transaction on the member, conditioned on its version.
A new email or phone is only taken once a code sent to it is proved: the code
is kept (hashed, TTL) in the member's partition, bound to its target. A new
phone's uniqueness is enforced by the table: the transaction that moves the
member deletes the old PHONE# guard and puts the new one only if absent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NoReturn

from pynamodb.attributes import MapAttribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action

from ..api.schemas.profile import ProfilePatch
from ..api.schemas.views import member_view
from ..domain.clock import iso, today_in, utcnow
from ..domain.errors import BirthdayLocked, InvalidCode, NotFound, PhoneTaken, TemporarilyUnavailable, Unauthorized, ValidationFailed
from ..domain.identity import email_is_confirmed
from ..domain.points import earn, expiring_summary, lot_expires_on, month_key
from ..domain.profile import BirthdayChange, birthday_change, earns_completion_bonus
from ..domain.rules import ProgramRules
from ..notify.sender import DeliveryFailed, Message, send, send_best_effort
from ..observability import count, logger
from ..store import keys
from ..store.ledger import add_lot_points, ledger_entry
from ..store.members import as_dict, birthday_bucket_for, get_member, points_state, points_update
from ..store.models import BaseItem, CodeAttempts, LedgerEntry, Member, Order, PhoneGuard, VerificationCode
from ..store.parameters import load_rules
from ..store.unit_of_work import Cancelled, Retryable, Transaction, with_retries
from .common import phone_or_error, plain
from .verification import (
    SendReservation,
    claim_attempt,
    code_is_valid,
    code_text,
    new_code_item,
    reserve_code_send,
    reserve_send_alone,
    send_email_confirmation,
    throttle_marker,
)

COMPLETION_REF = "profile_completion"


def _open_member(member_id: str) -> Member:
    """The caller's own membership; a closed (or erased) one cannot be changed or read."""
    member = get_member(member_id)
    if member is None or member.status == "closed":
        raise Unauthorized("The membership is closed")
    return member


def profile_view(member: Member, rules: ProgramRules) -> dict[str, Any]:
    return member_view(member, expiring_summary(points_state(member), rules.points_validity_months))


def _completion_fields(member: Member) -> dict[str, Any]:
    """What the completion bonus counts. Only a confirmed email counts: a bonus is paid on
    proven data, never on an address nobody confirmed."""
    email = member.email if email_is_confirmed(member) else None
    return {"email": email, "birthday": member.birthday, "gender": member.gender, "address": as_dict(member.address) or None}


@dataclass
class _Completion:
    granted: bool = False
    points: int = 0


def _add_completion_bonus(
    tx: Transaction, member: Member, actions: list[Action], before: dict[str, Any], after: dict[str, Any], rules: ProgramRules, now: datetime
) -> _Completion:
    """The one-time profile-completion bonus, in the same transaction as the change that completes
    the profile. Frozen members get it on a later change, once they are active again."""
    if member.status != "active" or not earns_completion_bonus(before, after, bool(member.profile_completed)):
        return _Completion()
    actions.append(Member.profile_completed.set(True))
    points = rules.profile_completion_points
    if points:
        month = month_key(today_in(rules.zone, now))
        state = earn(points_state(member), points, month, qualifying=False)
        actions += points_update(state)
        tx.put("ledger", ledger_entry(member.member_id, "bonus", points, state.balance, COMPLETION_REF, now))
        add_lot_points(tx, member.member_id, month, points, lot_expires_on(month, rules.points_validity_months))
    return _Completion(True, points)


# --- PATCH /v1/me -----------------------------------------------------------------------


def update_profile(member_id: str, patch: ProfilePatch, client: str) -> dict[str, Any]:
    """Change the fields the request names; a new email waits for its code (POST /v1/me/email/verify).
    The code's send counts against the sending limits, in the same transaction: a refused send
    changes nothing."""
    rules = load_rules()
    changes = patch.changes()
    email_code: list[tuple[str, str]] = []
    completion = _Completion()

    def attempt() -> None:
        nonlocal completion
        email_code.clear()
        now = utcnow()
        member = _open_member(member_id)
        actions: list[Action] = []
        before = _completion_fields(member)
        after = dict(before)
        tx = Transaction()

        if "name" in changes and changes["name"] != member.name:
            actions.append(Member.name.set(changes["name"]))
        if "gender" in changes and changes["gender"] != member.gender:
            gender = changes["gender"]
            actions.append(Member.gender.set(gender) if gender else Member.gender.remove())
            after["gender"] = gender
        if "address" in changes:
            address = changes["address"].model_dump(exclude_none=True) if changes["address"] else None
            if address != (as_dict(member.address) or None):
                actions.append(Member.address.set(address) if address else Member.address.remove())
                after["address"] = address
        for field, attribute in (("preferences", Member.preferences), ("tags", Member.tags)):
            if field in changes and (changes[field] or []) != list(getattr(member, field) or []):
                actions.append(attribute.set(changes[field]) if changes[field] else attribute.remove())
        if patch.consents is not None:
            current = {k: bool(v) for k, v in as_dict(member.consents).items()}
            merged = {**current, **patch.consents.given()}
            if merged != current:
                actions.append(Member.consents.set(merged))
        if "birthday" in changes:
            requested = changes["birthday"].isoformat() if changes["birthday"] else None
            decision = birthday_change(member.birthday, requested)
            if decision is BirthdayChange.LOCKED:
                raise BirthdayLocked("The birthday can be set once; ask support to correct it")
            if decision is BirthdayChange.SET:
                bucket = birthday_bucket_for(member_id, requested)
                if requested is None or bucket is None:  # SET is only ever a first birthday
                    raise ValueError(f"birthday_change answered SET for {requested!r}")
                actions += [Member.birthday.set(requested), Member.birthday_bucket.set(bucket)]
                after["birthday"] = requested
        reservation = None
        if "email" in changes:
            reservation = _email_change(tx, member, actions, after, changes["email"], rules, now, email_code, client)

        completion = _add_completion_bonus(tx, member, actions, before, after, rules, now)
        if not actions:
            return
        tx.update("member", member, actions)
        try:
            tx.commit()
        except Cancelled as exc:
            refused = reservation.refusal(exc, rules, now) if reservation and "member" not in exc.failed else None
            if refused is not None:
                count("CodeSendsRefused")
                raise refused from exc
            raise Retryable("member changed meanwhile") from exc

    with_retries(attempt)
    if completion.granted:
        count("ProfilesCompleted")
    for email, code in email_code:
        send_email_confirmation(email, code, rules)
    logger.info("profile updated", extra={"member_id": member_id, "fields": sorted(changes), "completed": completion.granted})
    return profile_view(_open_member(member_id), rules)


def _email_change(
    tx: Transaction,
    member: Member,
    actions: list[Action],
    after: dict[str, Any],
    email: str | None,
    rules: ProgramRules,
    now: datetime,
    email_code: list[tuple[str, str]],
    client: str,
) -> SendReservation | None:
    """Removing the email is immediate; a new email is pending until its code comes back.
    Returns the send's reservation when a code is to go out."""
    pk = keys.member_pk(member.member_id)
    pending_code = VerificationCode(pk, keys.change_sk("email"))
    if email is None or (email == member.email and email_is_confirmed(member)):
        if email is None and member.email:
            actions += [Member.email.remove(), Member.email_verified_at.remove()]
            after["email"] = None
            if member.code_channel == "email":
                actions.append(Member.code_channel.set("sms"))  # sign-in codes cannot go to a removed email
        if member.pending_email:
            actions.append(Member.pending_email.remove())
            tx.delete("pending_code", pending_code)
        return None
    # A new email, or one never confirmed (a signup's, or from before confirmation was required).
    reservation = reserve_code_send(client, email, rules, now)
    reservation.add_to(tx, throttle_marker(pk, keys.change_sent_sk("email"), rules, now))
    item, code = new_code_item(pk, keys.change_sk("email"), email, rules, now, target=email, channel="email")
    tx.put("code", item)
    actions.append(Member.pending_email.set(email))
    email_code.append((email, code))
    return reservation


def verify_email(member_id: str, code: str) -> dict[str, Any]:
    """Prove the pending email: it becomes the member's confirmed email (and may complete the
    profile). The attempt is counted before the code is judged."""
    rules = load_rules()
    now = utcnow()
    pk = keys.member_pk(member_id)
    attempts_sk = keys.change_attempts_sk("email")
    member = _open_member(member_id)
    claim_attempt(pk, attempts_sk, rules, now)
    code_item = _change_code(member_id, "email")
    target = member.pending_email
    if not target or code_item is None or not code_is_valid(code_item, target, code, now):
        _failed()
    assert code_item is not None and target
    completion = _Completion()

    def attempt() -> None:
        nonlocal completion
        current = _open_member(member_id)
        if current.pending_email != target:
            raise InvalidCode("The code is wrong, used or expired")
        tx = Transaction()
        tx.delete("code", code_item, VerificationCode.nonce == code_item.nonce)
        tx.delete("attempts", CodeAttempts(pk, attempts_sk))
        before = _completion_fields(current)
        after = {**before, "email": target}
        actions: list[Action] = [Member.email.set(target), Member.email_verified_at.set(now), Member.pending_email.remove()]
        completion = _add_completion_bonus(tx, current, actions, before, after, rules, now)
        tx.update("member", current, actions)
        try:
            tx.commit()
        except Cancelled as exc:
            if "code" in exc.failed:
                raise InvalidCode("The code is wrong, used or expired") from exc
            raise Retryable("member changed meanwhile") from exc

    with_retries(attempt)
    if completion.granted:
        count("ProfilesCompleted")
    logger.info("email verified", extra={"member_id": member_id, "completed": completion.granted})
    return profile_view(_open_member(member_id), rules)


def _change_code(member_id: str, kind: str) -> VerificationCode | None:
    """The pending change's code (its target is on it)."""
    try:
        return VerificationCode.get(keys.member_pk(member_id), keys.change_sk(kind), consistent_read=True)
    except DoesNotExist:
        return None


def _failed() -> NoReturn:
    count("VerificationsFailed")
    logger.info("change verification failed")
    raise InvalidCode("The code is wrong, used or expired")


# --- POST /v1/me/phone, POST /v1/me/phone/verify -----------------------------------------


def request_phone_change(member_id: str, raw_phone: str, client: str) -> dict[str, Any]:
    """Send a code to the new phone. Answered the same whether or not the phone belongs to
    another member (no enumeration): that is only told to whoever proves the phone is theirs."""
    rules = load_rules()
    phone = phone_or_error(raw_phone, rules)
    now = utcnow()
    member = _open_member(member_id)
    if phone == member.phone:
        raise ValidationFailed.single("phone", "is already this membership's phone")
    reserve_send_alone(client, phone, (keys.phone_pk(phone), keys.SENT), rules, now)
    item, code = new_code_item(keys.member_pk(member_id), keys.change_sk("phone"), phone, rules, now, target=phone)
    item.save()
    try:
        send(
            Message(
                channel="sms",
                to=phone,
                kind="verification_code",
                body=code_text(rules, code, "Enter it in the app to move your membership to this number. "),
            )
        )
    except DeliveryFailed as exc:
        raise TemporarilyUnavailable("The code could not be sent; try again shortly") from exc
    logger.info("phone change requested", extra={"member_id": member_id})
    return {"verification": {"channel": "sms", "expires_in": rules.code_ttl_seconds}}


def verify_phone_change(member_id: str, raw_phone: str, code: str) -> dict[str, Any]:
    """Move the membership to the proved phone: one transaction releases the old phone's guard,
    puts the new one only if absent (409 phone_taken otherwise) and updates the member.
    The attempt is counted before the code is judged; the new phone is proven by it."""
    rules = load_rules()
    phone = phone_or_error(raw_phone, rules)
    now = utcnow()
    pk = keys.member_pk(member_id)
    attempts_sk = keys.change_attempts_sk("phone")
    _open_member(member_id)
    claim_attempt(pk, attempts_sk, rules, now)
    code_item = _change_code(member_id, "phone")
    if code_item is None or not code_is_valid(code_item, phone, code, now):
        _failed()
    assert code_item is not None
    old_phone: list[str] = []

    def attempt() -> None:
        member = _open_member(member_id)
        if member.phone == phone:
            return  # a retry whose first commit's answer was lost: already moved
        tx = Transaction()
        tx.delete("code", code_item, VerificationCode.nonce == code_item.nonce)
        tx.delete("attempts", CodeAttempts(pk, attempts_sk))
        tx.delete("old_guard", PhoneGuard(keys.phone_pk(member.phone), keys.GUARD), PhoneGuard.member_id == member_id)
        # The old phone's code, failures and send marker go with it (no later signup's are touched).
        for sk in (keys.CODE, keys.ATTEMPTS, keys.SENT):
            tx.delete(f"old_{sk.lower()}", BaseItem(keys.phone_pk(member.phone), sk))
        tx.put("guard", PhoneGuard(keys.phone_pk(phone), keys.GUARD, member_id=member_id), PhoneGuard.pk.does_not_exist())
        tx.update("member", member, [Member.phone.set(phone), Member.phone_key.set(phone), Member.phone_verified_at.set(now)])
        try:
            tx.commit()
        except Cancelled as exc:
            if "guard" in exc.failed:
                raise PhoneTaken("That phone number belongs to another membership") from exc
            if "code" in exc.failed:
                raise InvalidCode("The code is wrong, used or expired") from exc
            raise Retryable("member changed meanwhile") from exc
        old_phone[:] = [member.phone]

    with_retries(attempt)
    count("PhoneChanges")
    logger.info("phone changed", extra={"member_id": member_id})
    for previous in old_phone:
        send_best_effort(
            Message(
                channel="sms",
                to=previous,
                kind="phone_changed",
                body=f"[{rules.program_name}] Your membership was moved to a new phone number. If this was not you, contact us.",
            )
        )
    return profile_view(_open_member(member_id), rules)


# --- GET /v1/me/export --------------------------------------------------------------------

# Internal keys and secrets: never part of an export.
_INTERNAL = frozenset(
    {
        "pk",
        "sk",
        "entity",
        "ttl",
        "version",
        "phone_key",
        "birthday_bucket",
        "anniversary_bucket",
        "activity_bucket",
        "erase_bucket",
        "expiry_bucket",
        "expiry_member",
        "fingerprint",
        "write_token",
        "salt",
        "digest",
        "nonce",
        "token_epoch",
    }
)
# Fields of other people kept on the member's items (an operator's identity on an audit entry).
_OTHERS = {"AuditEntry": frozenset({"actor"})}
_SECTIONS = {"LedgerEntry": "ledger", "Lot": "points_lots", "Coupon": "coupons", "Redemption": "redemptions"}
# Security counters: no content of the member's, and gone within minutes (TTL).
_SKIPPED = ("CodeAttempts", "SendThrottle")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, MapAttribute):
        return _jsonable(as_dict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def export_item(item: BaseItem) -> dict[str, Any]:
    """An item as plain JSON, without keys, secrets or other people's data."""
    hidden = _INTERNAL | _OTHERS.get(type(item).__name__, frozenset())
    return {name: _jsonable(value) for name, value in sorted(item.attribute_values.items()) if name not in hidden and value is not None}


def export_member_data(member_id: str) -> dict[str, Any]:
    """Everything stored about the member: their partition (profile, points, lots, ledger,
    coupons, redemptions and whatever else lives there), pending changes, and the orders
    their ledger refers to."""
    rules = load_rules()
    items = list(BaseItem.query(keys.member_pk(member_id), consistent_read=True))
    member = next((i for i in items if isinstance(i, Member)), None)
    if member is None or member.status == "closed":
        raise Unauthorized("The membership is closed")
    sections: dict[str, list[dict[str, Any]]] = {}
    pending: list[dict[str, Any]] = []
    order_ids: dict[str, None] = {}
    for item in items:
        kind = type(item).__name__
        if isinstance(item, Member) or kind in _SKIPPED:
            continue
        if isinstance(item, VerificationCode):
            pending.append({"change": item.sk.removeprefix("CHANGE#").lower(), "target": item.target, "expires_at": iso(item.expires_at)})
            continue
        if isinstance(item, LedgerEntry) and item.kind in ("earn", "refund") and item.ref:
            order_ids[item.ref] = None
        sections.setdefault(_SECTIONS.get(kind, _snake(kind)), []).append(export_item(item))
    orders = [export_item(o) for o in Order.batch_get([(keys.order_pk(o), keys.ORDER_SK) for o in order_ids])] if order_ids else []
    sections["orders"] = sorted((o for o in orders if o.get("member_id") == member_id), key=lambda o: o.get("created_at", ""))
    logger.info("member data exported", extra={"member_id": member_id, "records": sum(len(v) for v in sections.values())})
    return {
        "format": "huiyuan-member-export/1",
        "exported_at": iso(utcnow()),
        "member": {**export_item(member), "points_expiring": expiring_summary(points_state(member), rules.points_validity_months)},
        "pending_changes": pending,
        **{name: sections[name] for name in sorted(sections)},
    }


# --- for operators (the operator API calls this) -----------------------------------------


def correct_birthday(member_id: str, birthday: str | None, *, actor: str) -> Member:
    """An operator's correction of a birthday the member can no longer change. The year's
    birthday gift already granted stays granted: moving the date never grants it again."""

    def attempt() -> Member:
        member = get_member(member_id)
        if member is None or member.erased:
            raise NotFound("No member with that member_id")
        bucket = birthday_bucket_for(member_id, birthday)
        actions: list[Action] = [
            Member.birthday.set(birthday) if birthday else Member.birthday.remove(),
            Member.birthday_bucket.set(bucket) if bucket else Member.birthday_bucket.remove(),
        ]
        tx = Transaction()
        tx.update("member", member, actions)
        try:
            tx.commit()
        except Cancelled as exc:
            raise Retryable("member changed meanwhile") from exc
        return member

    with_retries(attempt)
    logger.info("birthday corrected", extra={"member_id": member_id, "by": "operator" if actor != "member" else "member"})
    updated = get_member(member_id)
    assert updated is not None
    return updated
