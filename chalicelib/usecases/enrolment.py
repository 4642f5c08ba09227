"""Signup, sign-in codes and verification.

No account enumeration: signup and code requests answer the same whether or
not the phone belongs to a member; only the SMS differs (a sign-in code for a
known member, nothing for an unknown phone on /auth/code).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from .. import codes, tokens
from ..clock import today_in, utcnow
from ..errors import InvalidCode, TemporarilyUnavailable
from ..lifecycle import Channel, month_day
from ..notify.sender import DeliveryFailed, Message, send, send_best_effort
from ..observability import count, logger
from ..points import expiring_summary
from ..rules import ProgramRules
from ..schemas import CodeRequest, SignupRequest, VerifyRequest
from ..store import keys
from ..store.members import (
    activity_actions,
    birthday_bucket_for,
    get_member,
    member_id_for_phone,
    member_shard,
    member_view,
    new_referral_code,
    points_state,
)
from ..store.models import (
    BaseItem,
    CodeAttempts,
    Member,
    PhoneGuard,
    ReferralCode,
    VerificationCode,
)
from ..store.parameters import code_pepper, load_rules, signing_key
from ..store.transactions import Cancelled, Retryable, Transaction, error_code, with_retries
from .common import phone_or_error
from .joining import add_joining_benefits
from .verification import check_lockout, code_text, new_code_item, record_failure, throttle_sends


def new_member_id() -> str:
    return f"mbr_{secrets.token_hex(8)}"


def new_member(phone: str, rules: ProgramRules, now: datetime, **profile: Any) -> Member:
    member_id = new_member_id()
    joined = today_in(rules.zone, now)
    return Member(
        keys.member_pk(member_id),
        keys.PROFILE,
        member_id=member_id,
        phone=phone,
        phone_key=phone,
        status="pending",
        tier=rules.base_tier.id,
        balance=0,
        lifetime_earned=0,
        lots={},
        earned_months={},
        consents={"sms_marketing": False, "email_marketing": False, "push": False},
        referral_code=new_referral_code(),
        created_at=now,
        lifecycle="new",
        anniversary_bucket=keys.anniversary_bucket(month_day(joined), member_shard(member_id)),
        birthday_bucket=birthday_bucket_for(member_id, profile.get("birthday")),
        **profile,
    )


def add_enrolment(tx: Transaction, member: Member) -> None:
    """The writes that make a new member: the member, its phone guard, its referral code."""
    tx.put("guard", PhoneGuard(keys.phone_pk(member.phone), keys.GUARD, member_id=member.member_id), PhoneGuard.pk.does_not_exist())
    tx.put(
        "refcode",
        ReferralCode(keys.refcode_pk(member.referral_code), keys.REFCODE_SK, member_id=member.member_id),
        ReferralCode.pk.does_not_exist(),
    )
    tx.put("member", member, Member.pk.does_not_exist())


@dataclass(frozen=True)
class CodeSent:
    channel: Channel
    expires_in: int

    def body(self) -> dict[str, Any]:
        return {"verification": {"channel": self.channel, "expires_in": self.expires_in}}


def _throttle_sends(phone: str, rules: ProgramRules, now: datetime) -> None:
    """At most one code per phone per `code_resend_seconds`, known phone or not."""
    throttle_sends(keys.phone_pk(phone), keys.SENT, rules, now)


def _send_code(member: Member, rules: ProgramRules, now: datetime) -> Channel:
    item, code = new_code_item(keys.phone_pk(member.phone), keys.CODE, member.phone, rules, now)
    item.save()
    body = code_text(rules, code)
    channel: Channel = "email" if member.code_channel == "email" and member.email else "sms"
    try:
        send(
            Message(
                channel=channel,
                to=member.email if channel == "email" else member.phone,
                kind="verification_code",
                body=body,
                subject=f"{rules.program_name} verification code",
            )
        )
    except DeliveryFailed as exc:
        raise TemporarilyUnavailable("The code could not be sent; try again shortly") from exc
    return channel


def signup(request: SignupRequest) -> CodeSent:
    rules = load_rules()
    phone = phone_or_error(request.phone, rules)
    now = utcnow()
    _throttle_sends(phone, rules, now)
    profile = {
        "name": request.name,
        "email": request.email,
        "birthday": request.birthday.isoformat() if request.birthday else None,
        "gender": request.gender,
        "code_channel": request.code_channel,
    }
    consents = request.consents.model_dump() if request.consents else None
    referred_by = _referrer(request.referral_code)

    def attempt() -> Member | None:
        existing_id = member_id_for_phone(phone)
        if existing_id is None:
            enrolled = new_member(phone, rules, now, referred_by=referred_by, **profile)
            if consents:
                enrolled.consents = consents
            tx = Transaction()
            add_enrolment(tx, enrolled)
            try:
                tx.commit()
            except Cancelled as exc:
                raise Retryable("phone or referral code taken meanwhile") from exc
            count("Signups")
            logger.info("member enrolled", extra={"member_id": enrolled.member_id, "via": "signup"})
            return enrolled
        member = get_member(existing_id)
        if member is None or member.status == "closed":
            return None
        if member.status == "pending":
            # Not yet verified: the latest signup's profile wins.
            actions = [getattr(Member, k).set(v) for k, v in profile.items()]
            bucket = birthday_bucket_for(member.member_id, profile["birthday"])
            actions.append(Member.birthday_bucket.set(bucket) if bucket else Member.birthday_bucket.remove())
            if consents:
                actions.append(Member.consents.set(consents))
            if referred_by and not member.referred_by and referred_by != member.member_id:
                actions.append(Member.referred_by.set(referred_by))
            try:
                member.update(actions=actions)
            except UpdateError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    raise Retryable("member changed meanwhile") from exc
                raise
        return member

    member = with_retries(attempt)
    channel = _send_code(member, rules, now) if member else "sms"
    return CodeSent(channel=channel, expires_in=rules.code_ttl_seconds)


def _referrer(code: str | None) -> str | None:
    if not code:
        return None
    try:
        return ReferralCode.get(keys.refcode_pk(code.strip().upper()), keys.REFCODE_SK).member_id
    except DoesNotExist:
        return None  # an unknown code never blocks a signup


def request_code(request: CodeRequest) -> CodeSent:
    rules = load_rules()
    phone = phone_or_error(request.phone, rules)
    now = utcnow()
    _throttle_sends(phone, rules, now)
    member_id = member_id_for_phone(phone)
    member = get_member(member_id) if member_id else None
    channel: Channel = "sms"
    if member is not None and member.status != "closed":
        channel = _send_code(member, rules, now)
    return CodeSent(channel=channel, expires_in=rules.code_ttl_seconds)


def _record_failure(phone: str, rules: ProgramRules, now: datetime) -> int:
    """Count a failed verification in the current window; returns failures so far."""
    return record_failure(keys.phone_pk(phone), keys.ATTEMPTS, rules, now)


@dataclass(frozen=True)
class SignedIn:
    access_token: str
    expires_in: int
    member: dict[str, Any]

    def body(self) -> dict[str, Any]:
        return {"access_token": self.access_token, "token_type": "Bearer", "expires_in": self.expires_in, "member": self.member}


def verify(request: VerifyRequest) -> SignedIn:
    rules = load_rules()
    phone = phone_or_error(request.phone, rules)
    now = utcnow()
    items = {item.sk: item for item in BaseItem.query(keys.phone_pk(phone), consistent_read=True)}
    attempts = items.get(keys.ATTEMPTS)
    check_lockout(attempts, rules, now)
    code_item = items.get(keys.CODE)
    guard = items.get(keys.GUARD)
    valid = (
        isinstance(code_item, VerificationCode)
        and isinstance(guard, PhoneGuard)
        and code_item.expires_at > now
        and codes.code_matches(code_pepper(), code_item.salt, phone, request.code, code_item.digest)
    )
    if not valid:
        failures = _record_failure(phone, rules, now)
        count("VerificationsFailed")
        logger.info("verification failed", extra={"failures": failures})
        raise InvalidCode("The code is wrong, used or expired")
    assert isinstance(guard, PhoneGuard) and isinstance(code_item, VerificationCode)
    today = today_in(rules.zone, now)
    first_time = False

    def attempt() -> Member:
        nonlocal first_time
        member = get_member(guard.member_id)
        if member is None or member.status == "closed":
            raise InvalidCode("The code is wrong, used or expired")
        tx = Transaction()
        tx.delete("code", code_item, VerificationCode.nonce == code_item.nonce)
        actions = activity_actions(member, rules, today)
        first_time = member.status == "pending"
        if first_time:
            actions += [Member.status.set("active"), Member.activated_at.set(now)]
            # Welcome points, the referral bonus and the welcome coupon (joining.py).
            actions += add_joining_benefits(tx, member, rules, now, today)
            member.status = "active"
        tx.update("member", member, actions)
        if attempts is not None:
            tx.delete("attempts", CodeAttempts(keys.phone_pk(phone), keys.ATTEMPTS))
        try:
            tx.commit()
        except Cancelled as exc:
            if "code" in exc.failed:
                raise InvalidCode("The code is wrong, used or expired") from exc
            raise Retryable("member changed meanwhile") from exc
        return member

    member = with_retries(attempt)
    count("Verifications")
    if first_time:
        count("Activations")
        send_best_effort(
            Message(
                channel="sms",
                to=member.phone,
                kind="welcome",
                body=f"[{rules.program_name}] Welcome! Your membership is active"
                + (f" and {rules.welcome_points} welcome points are yours." if rules.welcome_points else "."),
            )
        )
    logger.info("member signed in", extra={"member_id": member.member_id, "first_time": first_time})
    token = tokens.issue_access_token(signing_key(), member.member_id, now, rules.access_token_ttl_seconds)
    view = member_view(member, expiring_summary(points_state(member), rules.points_validity_months))
    return SignedIn(access_token=token, expires_in=rules.access_token_ttl_seconds, member=view)
