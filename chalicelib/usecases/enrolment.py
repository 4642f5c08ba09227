"""Signup, sign-in codes and verification.

No account enumeration: signup and code requests answer the same whether or
not the phone belongs to a member; only the SMS differs (a sign-in code for a
known member, nothing for an unknown phone on /auth/code).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..api.schemas.members import CodeRequest, SignupRequest, VerifyRequest
from ..domain import tokens
from ..domain.clock import iso, today_in, utcnow
from ..domain.errors import InvalidCode, PhoneTaken, TemporarilyUnavailable, WechatTaken
from ..domain.identity import email_can_sign_in
from ..domain.membership import Status, activated, is_open
from ..domain.messaging import Channel, recorded_consents
from ..domain.phones import phone_ending
from ..domain.rules import ProgramRules
from ..notify.sender import DeliveryFailed, Message, send, send_best_effort
from ..observability import count, logger
from ..store import codes as codes_store
from ..store import contact_changes
from ..store import members as members_store
from ..store.members import (
    add_enrolment,
    as_dict,
    birthday_bucket_for,
    get_member,
    member_id_for_phone,
)
from ..store.models import (
    Member,
)
from ..store.parameters import load_rules, signing_key
from ..store.unit_of_work import Cancelled, UnitOfWork, run
from .audit import Change, add_audit
from .common import activity_actions, member_answer, phone_or_error
from .joining import add_joining_benefits
from .verification import PHONE_MOVE_PURPOSE, code_params, code_text, send_email_confirmation

if TYPE_CHECKING:
    from collections.abc import Callable

    from pynamodb.expressions.update import Action

    # Writes added to a sign-in's unit of work for the member signing in (a WeChat binding).
    Binding = Callable[[UnitOfWork, Member, ProgramRules, datetime], list[Action]]


def new_member(phone: str, rules: ProgramRules, now: datetime) -> Member:
    """A pending member for `phone`: the base tier, joined today (program time)."""
    return members_store.new_member(phone, tier=rules.base_tier.id, joined=today_in(rules.zone, now), now=now)


@dataclass(frozen=True)
class CodeSent:
    channel: Channel
    expires_in: int

    def body(self) -> dict[str, Any]:
        return {"verification": {"channel": self.channel, "expires_in": self.expires_in}}


def _reserve_send(client: str, phone: str, rules: ProgramRules, now: datetime) -> None:
    """The sending limits (per client address, per phone, in all) and one code per phone per
    `code_resend_seconds`, known phone or not: counted the same either way."""
    codes_store.reserve_sign_in_send(client, phone, rules, now)


def _send_sign_in_code(phone: str, channel: Channel, to: str, rules: ProgramRules, now: datetime, *, profile: dict[str, Any] | None = None) -> None:
    """A fresh code for `phone` (the one it proves), sent by `channel` to `to`; with the signup's
    profile it will apply when proven."""
    code = codes_store.sign_in_code_for(phone, rules, now, channel=channel, profile=profile)
    try:
        subject = f"{rules.program_name} verification code"
        send(Message(channel=channel, to=to, kind="verification_code", body=code_text(rules, code), subject=subject, params=code_params(rules, code)))
    except DeliveryFailed as exc:
        raise TemporarilyUnavailable("The code could not be sent; try again shortly") from exc


def signup(request: SignupRequest, client: str) -> CodeSent:
    """Enrol a pending member for a new phone and text a code to it. The profile the request
    gives (name, email, birthday, gender, consents, referral code) goes with the code, and is
    the member's only once that code comes back: nobody changes a membership by typing its
    phone number. An email given here is then pending until a code sent to it comes back."""
    rules = load_rules()
    phone = phone_or_error(request.phone, rules)
    now = utcnow()
    _reserve_send(client, phone, rules, now)
    referred_by = _referrer(request.referral_code)
    profile = {
        "name": request.name,
        "pending_email": request.email,
        "birthday": request.birthday.isoformat() if request.birthday else None,
        "gender": request.gender,
        "consents": request.consents.model_dump() if request.consents else None,
        "referred_by": referred_by,
    }

    def attempt(uow: UnitOfWork) -> Member | None:
        existing_id = member_id_for_phone(phone)
        if existing_id is None:
            enrolled = new_member(phone, rules, now)
            add_enrolment(uow, enrolled)
            uow.commit()  # the phone (or the referral code drawn) taken meanwhile: start over
            count("Signups")
            logger.info("member enrolled", extra={"member_id": enrolled.member_id, "via": "signup"})
            return enrolled
        member = get_member(existing_id)
        return member if member is not None and is_open(member.status) else None

    member = run(attempt)
    if member is not None:
        # A pending member's code carries this signup's profile; an active member's is a sign-in code.
        _send_sign_in_code(phone, "sms", phone, rules, now, profile=profile if member.status == Status.PENDING else None)
    return CodeSent(channel="sms", expires_in=rules.code_ttl_seconds)


def _referrer(code: str | None) -> str | None:
    return members_store.referrer_for_code(code) if code else None  # an unknown code never blocks a signup


def request_code(request: CodeRequest, client: str) -> CodeSent:
    """A sign-in code by SMS to a member's phone, or by email to a member's confirmed email
    (only once their phone is proven). The answer is the same whoever the phone belongs to."""
    rules = load_rules()
    phone = phone_or_error(request.phone, rules)
    now = utcnow()
    _reserve_send(client, phone, rules, now)
    member_id = member_id_for_phone(phone)
    member = get_member(member_id) if member_id else None
    if member is not None and is_open(member.status):
        if request.channel == "sms":
            _send_sign_in_code(phone, "sms", phone, rules, now)
        elif member.email and email_can_sign_in(member):
            _send_sign_in_code(phone, "email", member.email, rules, now)
    elif member_id is None and request.channel == "sms":
        _resend_phone_move_code(phone, rules, now)
    return CodeSent(channel=request.channel, expires_in=rules.code_ttl_seconds)


def _resend_phone_move_code(phone: str, rules: ProgramRules, now: datetime) -> None:
    """Nobody holds `phone`: if an operator's move to it is still pending (its code unexpired, the
    member active and still moving here), text a fresh code for it, which keeps the move's deadline.
    An expired move stays lapsed: the operator's check of the member was for that move, then."""
    sign_in = codes_store.sign_in_state(phone)
    if sign_in.code is None or sign_in.member_id is None or not sign_in.moving or sign_in.code.expires_at <= now:
        return
    member = get_member(sign_in.member_id)
    if member is None or member.status != Status.ACTIVE or member.moving_to_phone != phone:
        return
    code = contact_changes.renew_phone_move_code(sign_in.code, phone, rules, now)
    if code is None:
        return
    logger.info("phone move code sent again", extra={"member_id": member.member_id})
    try:
        body = code_text(rules, code, PHONE_MOVE_PURPOSE)
        send(Message(channel="sms", to=phone, kind="verification_code", body=body, params=code_params(rules, code)))
    except DeliveryFailed as exc:
        raise TemporarilyUnavailable("The code could not be sent; try again shortly") from exc


@dataclass(frozen=True)
class SignedIn:
    access_token: str
    expires_in: int
    member: dict[str, Any]

    def body(self) -> dict[str, Any]:
        return {"access_token": self.access_token, "token_type": "Bearer", "expires_in": self.expires_in, "member": self.member}


def _prove_phone(member: Member, now: datetime) -> list[Action]:
    """An SMS code came back: the phone is proven. A member who had signed in with email codes on
    a phone never proven loses that email (nobody confirmed it) and the email channel.
    Returns the writes, and mirrors them on `member`."""
    changes: dict[str, Any] = {}
    if member.phone_verified_at is None:
        changes["phone_verified_at"] = now
    if member.code_channel == "email":
        changes["code_channel"] = "sms"
        if member.email and member.email_verified_at is None:
            changes["email"] = None
    return members_store.field_updates(member, changes)


def _signup_profile(member: Member, profile: dict[str, Any]) -> list[Action]:
    """The proven signup's profile, as the member's (mirrored on `member` for what follows in the
    transaction: the referral, the email's confirmation code)."""
    changes: dict[str, Any] = {field: profile[field] for field in ("name", "gender", "pending_email") if profile.get(field)}
    birthday = profile.get("birthday")
    bucket = birthday_bucket_for(member.member_id, birthday)
    if birthday and bucket and not member.birthday:
        changes |= {"birthday": birthday, "birthday_bucket": bucket}
    if profile.get("consents"):
        given = {k: bool(v) for k, v in as_dict(profile["consents"]).items()}
        before = {k: bool(v) for k, v in as_dict(member.consents).items()}
        records = {k: as_dict(v) for k, v in as_dict(member.consent_records).items()}
        changes["consents"] = given
        changes["consent_records"] = recorded_consents(records, before, given, iso(utcnow()), "signup")
    referrer = profile.get("referred_by")
    if referrer and not member.referred_by and referrer != member.member_id:
        changes["referred_by"] = referrer
    return members_store.field_updates(member, changes)


def verify(request: VerifyRequest, *, bind: Binding | None = None) -> SignedIn:
    """Sign in with a code. `bind` adds its writes to the sign-in's unit of work (a WeChat
    binding: usecases/wechat.py); a failed part `wechat` answers 409 wechat_taken. An SMS code proves the phone and activates a pending member; an
    email code signs in a member whose phone is already proven, and nobody else.

    Three round trips: one strongly consistent query of the phone's partition (its code, guard
    and attempt count), the member, one transaction. A wrong code costs two (the query, then
    the count of the failure).

    The lockout stays exact (`code_max_failures` attempts per `code_failure_window_seconds`,
    then 429 too_many_attempts for every attempt, the right code included), though the code is
    judged before anything is counted:

    - a locked-out count as read answers 429 at once, whatever the code;
    - a wrong code (or none, or no member) is counted by a write conditioned on the count being
      under the limit; when that condition fails the answer is 429, not 401;
    - the right code succeeds only in a transaction that deletes the code (conditioned on its
      nonce: single use) and the count, conditioned on the count being under the limit;
      when that condition fails the answer is 429.

    So every guess answered 401 was counted while the count was under the limit, and a guess
    answered 200 committed while it was under the limit; every other guess is answered 429,
    whether it was right or wrong, and tells nothing. Order the guesses at one phone as
    DynamoDB serialises their conditional writes: the first `code_max_failures` counted wrong
    guesses and any right guess before them are judged, everything after is refused. That is
    exactly what counting each attempt before judging it gave (the claim was the serialising
    write then): an attacker gets as many judged guesses per window as before, however many
    arrive at once. Registered and unregistered phones are answered alike: no code, no guard
    and a wrong code are the same counted failure.
    """
    rules = load_rules()
    phone = phone_or_error(request.phone, rules)
    now = utcnow()
    state = codes_store.sign_in_state(phone)
    locked = codes_store.lockout(state.attempts, rules, now)
    if locked is not None:
        raise locked

    def refuse() -> InvalidCode:
        """A failed attempt, counted (429 instead when the count reached the limit meanwhile)."""
        codes_store.count_failed_sign_in(phone, state.attempts, rules, now)
        count("VerificationsFailed")
        logger.info("verification failed")
        return InvalidCode("The code is wrong, used or expired")

    if state.code is None or state.member_id is None or not codes_store.code_is_valid(state.code, phone, request.code, now):
        raise refuse()
    code_item, member_id = state.code, state.member_id
    by_sms = code_item.channel == "sms"
    if bind is not None and not by_sms:
        # A binding needs the phone proven (docs/wechat.md): an email code signs in, proves no phone.
        # Not a failed attempt: the code is left unused, for signing in.
        raise InvalidCode("Binding WeChat needs the code sent by SMS to the phone, not an email code")
    today = today_in(rules.zone, now)

    def attempt(uow: UnitOfWork) -> _Verified:
        member = get_member(member_id)
        if member is None or not is_open(member.status):
            raise refuse()
        if not by_sms and not email_can_sign_in(member):
            raise refuse()  # the email stopped being a sign-in channel meanwhile
        if state.moving and (member.status != Status.ACTIVE or member.moving_to_phone != phone):
            raise refuse()  # only the move still pending, of an active membership, completes
        codes_store.use_sign_in_code(uow, phone, code_item, rules, now)
        actions = activity_actions(member, rules, today)
        left_phone: str | None = None
        if state.moving:
            # An operator's move to this phone (usecases/operations/phone_moves.py), proven now.
            left_phone = member.phone
            actions += _complete_phone_move(uow, member, phone, rules, now)
        elif by_sms:
            actions += _prove_phone(member, now)
        first_time = member.status == Status.PENDING
        if first_time and by_sms:
            actions += _signup_profile(member, as_dict(code_item.profile))
        confirm_email: tuple[str, str] | None = None
        if first_time and not member.imported_by:
            # Welcome points, the referral bonus and the welcome coupon (joining.py); a member a
            # bulk import brought from the brand's old system is not new: it keeps what it had.
            actions += add_joining_benefits(uow, member, rules, now, today)
        if first_time:
            actions += members_store.field_updates(member, {"status": activated(member.status), "activated_at": now})
            if member.pending_email:
                # The signup's email, confirmed by a code sent to it (POST /v1/me/email/verify).
                email = member.pending_email
                confirm_email = (email, codes_store.email_confirmation_code(uow, member.member_id, email, rules, now))
        if bind is not None:
            actions += bind(uow, member, rules, now)
        uow.update("member", member, actions)
        uow.commit(lambda cancelled: _used_meanwhile(cancelled, phone, rules, now))
        return _Verified(member, first_time, confirm_email, left_phone)

    verified = run(attempt)
    member = verified.member
    count("Verifications")
    if verified.first_time:
        count("Activations")
        send_best_effort(
            Message(
                channel="sms",
                to=member.phone,
                kind="welcome",
                body=f"[{rules.program_name}] Welcome! Your membership is active"
                + (f" and {rules.welcome_points} welcome points are yours." if rules.welcome_points else "."),
                params={"points": str(rules.welcome_points)},
            )
        )
    if verified.confirm_email:
        send_email_confirmation(*verified.confirm_email, rules)
    if verified.left_phone:
        count("PhoneChanges")
        logger.info("phone move completed", extra={"member_id": member.member_id})
        send_best_effort(
            Message(
                channel="sms",
                to=verified.left_phone,
                kind="phone_changed",
                body=f"[{rules.program_name}] Your membership was moved to a new phone number. If this was not you, contact us.",
            )
        )
    logger.info("member signed in", extra={"member_id": member.member_id, "first_time": verified.first_time, "channel": code_item.channel})
    token = tokens.issue_access_token(signing_key(), member.member_id, now, rules.access_token_ttl_seconds, epoch=int(member.token_epoch or 0))
    view = member_answer(member, rules, now)
    return SignedIn(access_token=token, expires_in=rules.access_token_ttl_seconds, member=view)


@dataclass(frozen=True)
class _Verified:
    member: Member
    first_time: bool
    confirm_email: tuple[str, str] | None  # (email, its confirmation code) to send
    left_phone: str | None = None  # the phone an operator's move released


def _complete_phone_move(uow: UnitOfWork, member: Member, phone: str, rules: ProgramRules, now: datetime) -> list[Action]:
    """The member proved the phone an operator is moving them to: it becomes theirs only if
    nobody holds it (part `guard`), the old phone is released, every token issued so far ends
    (the next epoch: this sign-in's token is the first of it), and the completion is audited.
    Only the move still pending, of an active membership (checked by `verify`, which counts any
    other use of the code as a failed attempt). Returns the member's writes, mirrored on `member`."""
    before = {"phone": phone_ending(member.phone), "moving_to_phone": phone_ending(phone)}
    contact_changes.swap_phone_guards(uow, member, phone)
    after = {"phone": phone_ending(phone), "moving_to_phone": None}
    add_audit(uow, Change("member", "member.phone_move.complete", "member", member.member_id, before, after, member_id=member.member_id), rules, now)
    next_epoch = {"token_epoch": int(member.token_epoch or 0) + 1}
    return contact_changes.moved_phone_writes(member, phone, now) + members_store.field_updates(member, next_epoch)


def _used_meanwhile(cancelled: Cancelled, phone: str, rules: ProgramRules, now: datetime) -> None:
    """The phone's attempts were used up meanwhile (429), or the code was used by another
    request meanwhile: this one is too late. A move's phone taken meanwhile (a signup between
    the operator's request and this sign-in) is refused."""
    if "attempts" in cancelled.failed:
        raise codes_store.sign_in_lockout(phone, rules, now)
    if "guard" in cancelled.failed:
        raise PhoneTaken("That phone number belongs to another membership")
    if "code" in cancelled.failed:
        raise InvalidCode("The code is wrong, used or expired")
    if "wechat" in cancelled.failed:
        raise WechatTaken()
