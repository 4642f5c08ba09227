"""Closing, restoring and erasing a membership: the writes (what the membership's states allow,
and what goes and what stays on erasure, is decided in domain/membership.py and usecases/closure.py).

Closing sets `closed` with the day the grace period ends as the sparse `members_by_erasure`
index key (`ERASE#<yyyy-mm-dd>#<shard>`, keys.py), where the `erase-closed` job finds it;
restoring removes it again. On erasure, the member item becomes a tombstone (`tombstone`); the
items around it that hold the member's own words or contact data are deleted and coupons not
yet used are revoked (`erase_personal_items`); the phone guard and the referral code are
released in the final unit of work (`release_phone_and_referral_code`). Ledger entries, lots,
orders, reported actions, redemptions, wallet entries, referral records and audit entries stay:
they hold member ids, never personal data.
"""

from __future__ import annotations

from datetime import date, datetime

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from . import keys
from .members import member_shard
from .models import BaseItem, CodeAttempts, Coupon, Member, PhoneGuard, ReferralCode, SendThrottle, VerificationCode
from .models_surveys import SurveyResponse
from .surveys import delete_texts
from .unit_of_work import UnitOfWork, error_code

ERASED_PHONE = ""  # the tombstone keeps the attribute (the model requires it), with nothing in it
# Member-partition items whose content is the member's own words or contact data: deleted on erasure.
_ERASED_TYPES = ("VerificationCode", "CodeAttempts", "SendThrottle", "Feedback", "FeedbackKey", "SurveyResponse", "SurveyInvitation")
_PERSONAL = (
    Member.phone_key,
    Member.name,
    Member.email,
    Member.birthday,
    Member.gender,
    Member.address,
    Member.preferences,
    Member.tags,
    Member.operator_tags,  # labels about the person
    Member.pending_email,
    Member.moving_to_phone,
    Member.closure_reason,
    Member.birthday_bucket,
    Member.anniversary_bucket,
    Member.activity_bucket,
    Member.erase_bucket,
)


def closing_writes(
    member: Member, *, status: str, closed_at: datetime, erase_at: datetime, erasure_day: date, reason: str, actor: str
) -> list[Action]:
    """The member writes that close it: the status it had kept to restore it as it was, the
    erasure bucket of `erasure_day`, and the next token epoch (every token issued so far ends)."""
    return [
        Member.status.set(status),
        Member.status_before_close.set(member.status),
        Member.closed_at.set(closed_at),
        Member.erase_after.set(erase_at),
        Member.erase_bucket.set(keys.erasure_bucket(erasure_day.isoformat(), member_shard(member.member_id))),
        Member.closure_reason.set(reason),
        Member.closed_by.set(actor),
        Member.token_epoch.set(int(member.token_epoch or 0) + 1),
    ]


def restoring_writes(status: str) -> list[Action]:
    """The member writes that reopen it with `status`, out of the erasure index."""
    return [
        Member.status.set(status),
        Member.status_before_close.remove(),
        Member.closed_at.remove(),
        Member.erase_after.remove(),
        Member.erase_bucket.remove(),
        Member.closure_reason.remove(),
        Member.closed_by.remove(),
    ]


def not_erased() -> Condition:
    """The member's write must not follow the erasure's final one (a restore never races it)."""
    condition: Condition = Member.erased.does_not_exist() | (Member.erased == False)  # noqa: E712
    return condition


def tombstone(now: datetime) -> list[Action]:
    """The member writes that leave ids, dates, tier and points history only, marked erased."""
    return [
        Member.phone.set(ERASED_PHONE),
        *(attribute.remove() for attribute in _PERSONAL),
        Member.consents.set({"sms_marketing": False, "email_marketing": False, "push": False}),
        Member.code_channel.set("sms"),
        Member.notices.set({}),
        Member.marketing_sent.set([]),
        Member.balance.set(0),
        Member.lots.set({}),
        Member.erased.set(True),
        Member.erased_at.set(now),
    ]


def release_phone_and_referral_code(uow: UnitOfWork, member: Member) -> None:
    """Delete the phone guard (a new signup with the phone makes a new member) and the referral
    code (it stops working), each unless another member holds it by now: parts `guard`, `refcode`."""
    uow.delete(
        "guard",
        PhoneGuard(keys.phone_pk(member.phone), keys.GUARD),
        PhoneGuard.pk.does_not_exist() | (PhoneGuard.member_id == member.member_id),
    )
    uow.delete(
        "refcode",
        ReferralCode(keys.refcode_pk(member.referral_code), keys.REFCODE_SK),
        ReferralCode.pk.does_not_exist() | (ReferralCode.member_id == member.member_id),
    )


def erase_personal_items(member: Member) -> int:
    """Everything personal outside the member item: idempotent, done again if the final write
    fails. Returns the coupons revoked."""
    revoked = 0
    for item in BaseItem.query(keys.member_pk(member.member_id), consistent_read=True):
        kind = type(item).__name__
        if isinstance(item, Coupon) and item.status == "issued":
            try:
                item.update(actions=[Coupon.status.set("revoked")], condition=Coupon.status == "issued")
                revoked += 1
            except UpdateError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise  # used at the till meanwhile: it stays used
        elif kind in _ERASED_TYPES:
            if isinstance(item, VerificationCode) and item.target and item.target.startswith("+"):
                # a pending phone change: the send marker under the phone it named
                SendThrottle(keys.phone_pk(item.target), keys.SENT).delete()
            if kind == "Feedback":
                _delete_feedback_queue_entries(getattr(item, "feedback_id", ""))
            if isinstance(item, SurveyResponse):
                # the free text kept for the operators (the counters stay: they name nobody)
                delete_texts(item)
            item.delete()
    if member.phone:
        for item in BaseItem.query(keys.phone_pk(member.phone), consistent_read=True):
            if isinstance(item, (VerificationCode, CodeAttempts, SendThrottle)):
                item.delete()
    return revoked


def _delete_feedback_queue_entries(feedback_id: str) -> None:
    if not feedback_id:
        return
    for status in ("open", "answered"):
        BaseItem(keys.feedback_queue_pk(status), feedback_id).delete()
