"""One-time codes as the store keeps them, for sign-in (usecases/enrolment.py) and contact
changes (the profile use cases): the code items, the send limits' counters, the attempt counts.

A code is six digits from `secrets`, kept only as an HMAC digest bound to the
phone or email it proves (`codes.py`), with a TTL, single use (deleted in the
transaction that acts on it, conditioned on its nonce).

Sending costs money (SMS), so every send is reserved first, in one transaction:
one per recipient per `code_resend_seconds`, and the `code_send_limits` per
client address, per recipient and in all, per minute and per day.

Checking is limited to `code_max_failures` counted attempts in
`code_failure_window_seconds`, then 429 for every attempt, the right code
included, however many arrive at once. Contact changes count an attempt before
judging it (`claim_attempt`); sign-in judges first and counts a wrong code
(`count_failed_sign_in`), its success conditioned on the same count
(`use_sign_in_code`): usecases/enrolment.verify says why both are exact.

Where the items live (which pk/sk) is the caller's choice, from `keys.py`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.condition import Condition

from ..domain import codes
from ..domain.errors import TemporarilyUnavailable, TooManyAttempts
from ..domain.rules import ProgramRules
from ..observability import count
from . import keys
from .models import BaseItem, CodeAttempts, PhoneGuard, SendCounter, SendThrottle, VerificationCode
from .parameters import code_pepper
from .unit_of_work import Cancelled, UnitOfWork, error_code


def too_soon(rules: ProgramRules) -> TooManyAttempts:
    return TooManyAttempts("A code was sent moments ago; wait before asking again", retry_after=rules.code_resend_seconds)


def throttle_marker(pk: str, sk: str, rules: ProgramRules, now: datetime) -> tuple[SendThrottle, Condition] | None:
    """The marker that allows one send per resend interval, and the condition to put it
    with (None when the rules set no interval)."""
    if rules.code_resend_seconds == 0:
        return None
    cutoff = now - timedelta(seconds=rules.code_resend_seconds)
    marker = SendThrottle(pk, sk, sent_at=now, ttl=now + timedelta(seconds=rules.code_resend_seconds))
    return marker, SendThrottle.pk.does_not_exist() | (SendThrottle.sent_at <= cutoff)


# --- what one code send may cost: limits per client address, per recipient and in all ------


@dataclass(frozen=True)
class _Window:
    part: str  # the transaction part's name
    pk: str
    limit: int
    ends: datetime
    refusal: str


def _send_windows(client: str | None, recipient: str, rules: ProgramRules, now: datetime) -> list[_Window]:
    limits = rules.code_send_limits
    minute = now.replace(second=0, microsecond=0)
    minute_ends = minute + timedelta(minutes=1)
    today = now.astimezone(rules.zone).date()
    day_ends = datetime.combine(today + timedelta(days=1), time(0), tzinfo=rules.zone).astimezone(UTC)
    minute_key, day_key = minute.strftime("M%Y%m%d%H%M"), f"D{today.isoformat()}"
    pepper = code_pepper()
    # Client addresses and recipients are kept as keyed digests: counters hold no personal data.
    who = codes.subject_digest(pepper, "client", client or "")
    to = codes.subject_digest(pepper, "recipient", recipient)
    busy_network = "Too many codes were requested from this network; try again later"
    busy_program = "Too many codes are being sent; try again shortly"
    per_client = [
        _Window("limit_client_minute", keys.send_limit_pk(f"CLIENT#{who}", minute_key), limits.per_client_per_minute, minute_ends, busy_network),
        _Window("limit_client_day", keys.send_limit_pk(f"CLIENT#{who}", day_key), limits.per_client_per_day, day_ends, busy_network),
    ]
    return [
        *(per_client if client is not None else []),
        _Window(
            "limit_recipient_day",
            keys.send_limit_pk(f"TO#{to}", day_key),
            limits.per_recipient_per_day,
            day_ends,
            "Too many codes were sent to this number or address today; try again tomorrow",
        ),
        _Window("limit_total_minute", keys.send_limit_pk("ALL", minute_key), limits.total_per_minute, minute_ends, busy_program),
        _Window("limit_total_day", keys.send_limit_pk("ALL", day_key), limits.total_per_day, day_ends, "No more codes can be sent today"),
    ]


@dataclass(frozen=True)
class SendReservation:
    """The writes that allow one code to be sent, to add to the transaction that stores the
    code (or to commit alone): every limit's counter goes up only while under its limit, and
    the recipient's resend marker is put only once the interval has passed."""

    windows: list[_Window]
    throttled: bool

    def add_to(self, tx: UnitOfWork, throttle: tuple[SendThrottle, Condition] | None) -> None:
        for window in self.windows:
            counter = SendCounter(window.pk, keys.SEND_LIMIT_SK)
            tx.update(
                window.part,
                counter,
                [SendCounter.entity.set(SendCounter), SendCounter.sent.add(1), SendCounter.ttl.set(window.ends + timedelta(days=1))],
                SendCounter.sent.does_not_exist() | (SendCounter.sent < window.limit),
            )
        if throttle is not None:
            tx.put("throttle", throttle[0], throttle[1])

    def refusal(self, cancelled: Cancelled, rules: ProgramRules, now: datetime) -> TooManyAttempts | None:
        """The 429 for a cancelled transaction that a limit (or the resend interval) refused, if one did."""
        refused = [w for w in self.windows if w.part in cancelled.failed]
        if refused:
            last = max(refused, key=lambda w: w.ends)
            return TooManyAttempts(last.refusal, retry_after=max(1, int((last.ends - now).total_seconds()) + 1))
        if "throttle" in cancelled.failed:
            return too_soon(rules)
        return None


def reserve_code_send(client: str, recipient: str, rules: ProgramRules, now: datetime) -> SendReservation:
    """The limits one more code to `recipient`, asked for from `client`, must stay within."""
    return SendReservation(_send_windows(client, recipient, rules, now), throttled=rules.code_resend_seconds > 0)


def invitation_reservation(recipient: str, rules: ProgramRules, now: datetime) -> SendReservation:
    """The limits a message the program sends unasked (a till's purchase inviting an unknown
    phone) counts against: the recipient's and the program's. Added to the transaction that
    enrols the member, so the invitation is counted in the write that makes it due, once (a
    retry after a lost answer finds its order and does not count again). When a limit refuses
    it (`refusal`), the caller writes again without it: the purchase counts, no message goes."""
    return SendReservation(_send_windows(None, recipient, rules, now), throttled=False)


def reserve_send_alone(client: str, recipient: str, throttle_at: tuple[str, str], rules: ProgramRules, now: datetime) -> None:
    """Reserve one send in a transaction of its own (429 too_many_attempts when refused).
    Counted whether or not a code then goes out, so that the answer never depends on who
    the recipient is. Committed once, never retried: a retry after a lost answer would find this
    very request's resend marker and refuse it as "too soon" (anything unexplained: 503)."""
    reservation = reserve_code_send(client, recipient, rules, now)

    def refuse(cancelled: Cancelled) -> None:
        refused = reservation.refusal(cancelled, rules, now)
        if refused is not None:
            count("CodeSendsRefused")
            raise refused

    uow = UnitOfWork()
    reservation.add_to(uow, throttle_marker(*throttle_at, rules, now))
    uow.commit(refuse)


def new_code_item(
    pk: str, sk: str, subject: str, rules: ProgramRules, now: datetime, *, target: str | None = None, channel: str = "sms"
) -> tuple[VerificationCode, str]:
    """A fresh code for `subject` (the phone or email it proves): the item to save, and the code to send."""
    code = codes.new_code()
    salt = codes.new_salt()
    expires_at = now + timedelta(seconds=rules.code_ttl_seconds)
    item = VerificationCode(
        pk,
        sk,
        salt=salt,
        digest=codes.code_digest(code_pepper(), salt, subject, code),
        nonce=secrets.token_hex(8),
        expires_at=expires_at,
        ttl=expires_at,
        target=target,
        channel=channel,
    )
    return item, code


def code_is_valid(item: object, subject: str, code: str, now: datetime) -> bool:
    """`item` is an unexpired code issued for `subject` and `code` is it (constant time)."""
    return (
        isinstance(item, VerificationCode)
        and item.expires_at > now
        and (item.target is None or item.target == subject)
        and codes.code_matches(code_pepper(), item.salt, subject, code, item.digest)
    )


def lockout_retry_after(attempts: object, rules: ProgramRules, now: datetime) -> int | None:
    """Seconds until a locked-out recipient may try again, or None when not locked out."""
    window = timedelta(seconds=rules.code_failure_window_seconds)
    if isinstance(attempts, CodeAttempts) and attempts.window_start > now - window and attempts.failures >= rules.code_max_failures:
        return int((attempts.window_start + window - now).total_seconds()) + 1
    return None


def claim_attempt(pk: str, sk: str, rules: ProgramRules, now: datetime, *, window_seen: bool = True) -> None:
    """Count an attempt at a code: the count goes up only while the window's attempts are under
    `code_max_failures` (429 too_many_attempts otherwise), so however many attempts arrive at
    once, at most that many are ever counted. Counted *before* the code is judged (contact
    changes), at most that many are ever compared. A proven code deletes the count (in the
    transaction that acts on it). `window_seen`: whether the caller just read a current window
    (then its count goes up; else a new window starts): one round trip when nothing raced."""
    window = timedelta(seconds=rules.code_failure_window_seconds)
    cutoff = now - window
    for _ in range(5):
        if window_seen:
            try:
                CodeAttempts(pk, sk).update(
                    actions=[CodeAttempts.failures.add(1)],
                    condition=(CodeAttempts.window_start > cutoff) & (CodeAttempts.failures < rules.code_max_failures),
                )
                return
            except UpdateError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise
        window_seen = True
        try:
            CodeAttempts(pk, sk, failures=1, window_start=now, ttl=now + window).save(
                condition=CodeAttempts.pk.does_not_exist() | (CodeAttempts.window_start <= cutoff)
            )
            return
        except PutError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
        # Neither: a current window exists and is used up, or it was (re)created meanwhile.
        try:
            current = CodeAttempts.get(pk, sk, consistent_read=True)
        except DoesNotExist:
            continue
        retry_after = lockout_retry_after(current, rules, now)
        if retry_after is not None:
            count("VerificationsLockedOut")
            raise TooManyAttempts("Too many wrong codes; try again later", retry_after=retry_after)
    raise TemporarilyUnavailable("Too many attempts at once; retry shortly")


# --- the phone's partition: its sign-in code, its guard, its attempt count, its resend marker --


def sign_in_code_for(phone: str, rules: ProgramRules, now: datetime, *, channel: str, profile: dict[str, Any] | None = None) -> str:
    """Save a fresh sign-in code for `phone` (replacing any earlier one), with the signup's
    profile it applies when proven; returns the code to send."""
    item, code = new_code_item(keys.phone_pk(phone), keys.CODE, phone, rules, now, channel=channel)
    if profile is not None:
        item.profile = {k: v for k, v in profile.items() if v is not None}
    item.save()
    return code


def email_confirmation_code(uow: UnitOfWork, member_id: str, email: str, rules: ProgramRules, now: datetime) -> str:
    """A code confirming `email` for the member (POST /v1/me/email/verify), put in `uow`."""
    item, code = new_code_item(keys.member_pk(member_id), keys.change_sk("email"), email, rules, now, target=email, channel="email")
    uow.put("email_code", item)
    return code


@dataclass(frozen=True)
class SignInState:
    """What the phone's partition holds for a sign-in (one strongly consistent query): its
    current code, the member it signs in, its attempt count. The member is the one its guard
    names or, while nobody holds the phone, the one an operator is moving to it (`moving`: the
    code names them, store/contact_changes.start_phone_move); a move's code is void once
    somebody holds the phone (a signup replaces it anyway)."""

    code: VerificationCode | None
    member_id: str | None
    attempts: CodeAttempts | None
    moving: bool = False


def sign_in_state(phone: str) -> SignInState:
    items = {item.sk: item for item in BaseItem.query(keys.phone_pk(phone), consistent_read=True)}
    found, guard, attempts = items.get(keys.CODE), items.get(keys.GUARD), items.get(keys.ATTEMPTS)
    code = found if isinstance(found, VerificationCode) else None
    counted = attempts if isinstance(attempts, CodeAttempts) else None
    if isinstance(guard, PhoneGuard):
        return SignInState(None if code is not None and code.moving_member_id else code, guard.member_id, counted)
    if code is not None and code.moving_member_id:
        return SignInState(code, code.moving_member_id, counted, moving=True)
    return SignInState(code, None, counted)


def lockout(attempts: CodeAttempts | None, rules: ProgramRules, now: datetime) -> TooManyAttempts | None:
    """The 429 for a phone whose window's attempts are used up (as read), or None."""
    retry_after = lockout_retry_after(attempts, rules, now)
    if retry_after is None:
        return None
    count("VerificationsLockedOut")
    return TooManyAttempts("Too many wrong codes; try again later", retry_after=retry_after)


def count_failed_sign_in(phone: str, seen: CodeAttempts | None, rules: ProgramRules, now: datetime) -> None:
    """Count a failed sign-in at `phone` (429 too_many_attempts, nothing counted, when the
    window's attempts are used up meanwhile). `seen`: the count as `sign_in_state` read it."""
    window_seen = seen is not None and seen.window_start > now - timedelta(seconds=rules.code_failure_window_seconds)
    claim_attempt(keys.phone_pk(phone), keys.ATTEMPTS, rules, now, window_seen=window_seen)


def sign_in_lockout(phone: str, rules: ProgramRules, now: datetime) -> TooManyAttempts:
    """The 429 for a sign-in whose transaction found the attempts used up (one read, for Retry-After)."""
    try:
        attempts: CodeAttempts | None = CodeAttempts.get(keys.phone_pk(phone), keys.ATTEMPTS, consistent_read=True)
    except DoesNotExist:
        attempts = None
    return lockout(attempts, rules, now) or TooManyAttempts("Too many wrong codes; try again later", retry_after=rules.code_failure_window_seconds)


def reserve_sign_in_send(client: str, phone: str, rules: ProgramRules, now: datetime) -> None:
    reserve_send_alone(client, phone, (keys.phone_pk(phone), keys.SENT), rules, now)


def use_sign_in_code(uow: UnitOfWork, phone: str, code: VerificationCode, rules: ProgramRules, now: datetime) -> None:
    """The code is used (once: part `code` fails if another request used it first) and the
    phone's attempt count starts over, only while it is under `code_max_failures` (part
    `attempts` fails once the window's attempts are used up: then even the right code is 429)."""
    cutoff = now - timedelta(seconds=rules.code_failure_window_seconds)
    uow.delete("code", code, VerificationCode.nonce == code.nonce)
    uow.delete(
        "attempts",
        CodeAttempts(keys.phone_pk(phone), keys.ATTEMPTS),
        CodeAttempts.pk.does_not_exist() | (CodeAttempts.window_start <= cutoff) | (CodeAttempts.failures < rules.code_max_failures),
    )
