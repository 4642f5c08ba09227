"""One-time codes, shared by sign-in (enrolment.py) and profile changes (profile.py).

A code is six digits from `secrets`, kept only as an HMAC digest bound to the
phone or email it proves (`codes.py`), with a TTL, single use (deleted in the
transaction that acts on it, conditioned on its nonce). Sends are limited to
one per recipient per `code_resend_seconds`; `code_max_failures` wrong codes in
`code_failure_window_seconds` lock the recipient out, the right code included.
Where the items live (which pk/sk) is the caller's choice, from `keys.py`.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.condition import Condition

from .. import codes
from ..errors import TooManyAttempts
from ..rules import ProgramRules
from ..store.models import CodeAttempts, SendThrottle, VerificationCode
from ..store.parameters import code_pepper
from ..store.transactions import error_code


def too_soon(rules: ProgramRules) -> TooManyAttempts:
    return TooManyAttempts("A code was sent moments ago; wait before asking again", retry_after=rules.code_resend_seconds)


def throttle_marker(pk: str, sk: str, rules: ProgramRules, now: datetime) -> tuple[SendThrottle, Condition] | None:
    """The marker that allows one send per resend interval, and the condition to put it
    with (None when the rules set no interval). Put it alone or inside a transaction."""
    if rules.code_resend_seconds == 0:
        return None
    cutoff = now - timedelta(seconds=rules.code_resend_seconds)
    marker = SendThrottle(pk, sk, sent_at=now, ttl=now + timedelta(seconds=rules.code_resend_seconds))
    return marker, SendThrottle.pk.does_not_exist() | (SendThrottle.sent_at <= cutoff)


def throttle_sends(pk: str, sk: str, rules: ProgramRules, now: datetime) -> None:
    """At most one code per recipient per `code_resend_seconds` (429 too_many_attempts)."""
    marked = throttle_marker(pk, sk, rules, now)
    if marked is None:
        return
    marker, condition = marked
    try:
        marker.save(condition=condition)
    except PutError as exc:
        if error_code(exc) != "ConditionalCheckFailedException":
            raise
        raise too_soon(rules) from exc


def new_code_item(pk: str, sk: str, subject: str, rules: ProgramRules, now: datetime, *, target: str | None = None) -> tuple[VerificationCode, str]:
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
    )
    return item, code


def code_text(rules: ProgramRules, code: str, purpose: str = "") -> str:
    minutes = max(rules.code_ttl_seconds // 60, 1)
    return f"[{rules.program_name}] Your verification code is {code}. {purpose}It expires in {minutes} minutes."


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


def check_lockout(attempts: object, rules: ProgramRules, now: datetime) -> None:
    retry_after = lockout_retry_after(attempts, rules, now)
    if retry_after is not None:
        raise TooManyAttempts("Too many wrong codes; try again later", retry_after=retry_after)


def record_failure(pk: str, sk: str, rules: ProgramRules, now: datetime) -> int:
    """Count a failed verification in the current window; returns failures so far."""
    window = timedelta(seconds=rules.code_failure_window_seconds)
    for _ in range(3):
        attempts = CodeAttempts(pk, sk)
        try:
            attempts.update(actions=[CodeAttempts.failures.add(1)], condition=CodeAttempts.window_start > now - window)
            return int(attempts.failures)
        except UpdateError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
        fresh = CodeAttempts(pk, sk, failures=1, window_start=now, ttl=now + window)
        try:
            fresh.save(condition=CodeAttempts.pk.does_not_exist() | (CodeAttempts.window_start <= now - window))
            return 1
        except PutError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
    return rules.code_max_failures
