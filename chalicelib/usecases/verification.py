"""One-time codes: what a member is sent. How codes are kept, counted and limited is the store's
(store/codes.py); sign-in (enrolment.py) and contact changes use both."""

from __future__ import annotations

from ..domain.rules import ProgramRules
from ..notify.sender import Message, send_best_effort
from ..observability import logger


def send_email_confirmation(email: str, code: str, rules: ProgramRules) -> None:
    """Best effort: the change is saved either way; asking for the same email again sends a new code."""
    sent = send_best_effort(
        Message(
            channel="email",
            to=email,
            kind="verification_code",
            body=code_text(rules, code, "Enter it in the app to confirm this email address. "),
            params=code_params(rules, code),
            subject=f"{rules.program_name} verification code",
        )
    )
    if not sent:
        logger.warning("email confirmation code not delivered")


# What the SMS of an operator's phone move says (usecases/operations/phone_moves.py; resent by enrolment.request_code).
PHONE_MOVE_PURPOSE = "Sign in with it on this number to move your membership here. "


def code_text(rules: ProgramRules, code: str, purpose: str = "") -> str:
    return f"[{rules.program_name}] Your verification code is {code}. {purpose}It expires in {_minutes(rules)} minutes."


def code_params(rules: ProgramRules, code: str) -> dict[str, str]:
    """A code message's values for an SMS template (domain/sms_templates.py)."""
    return {"code": code, "minutes": str(_minutes(rules))}


def _minutes(rules: ProgramRules) -> int:
    return max(rules.code_ttl_seconds // 60, 1)
