"""Domain errors: one type per failure a caller can act on. `code` is the stable,
machine-readable string frontends switch on (../shared/API.md); api/problems.py answers them
as RFC 9457 problem details, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class HuiyuanError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"
    retry_after: int | None = None

    def __init__(self, detail: str | None = None, *, retry_after: int | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if retry_after is not None:
            self.retry_after = retry_after

    def extra(self) -> dict[str, Any]:
        return {}


class ValidationFailed(HuiyuanError):
    status, code, title = 400, "validation_error", "The request is not valid"

    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        super().__init__(detail or "; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors

    def extra(self) -> dict[str, Any]:
        return {"errors": [{"field": e.field, "message": e.message} for e in self.errors]}

    @classmethod
    def single(cls, field: str, message: str) -> ValidationFailed:
        return cls([FieldError(field, message)])


class PayloadTooLarge(HuiyuanError):
    status, code, title = 413, "payload_too_large", "The request body is too large"


class UnsupportedMediaType(HuiyuanError):
    status, code, title = 415, "unsupported_media_type", "The request body must be JSON"


class Unauthorized(HuiyuanError):
    status, code, title = 401, "unauthorized", "Authentication is required"


class InvalidCode(HuiyuanError):
    status, code, title = 401, "invalid_code", "The code is wrong, used or expired"


class Forbidden(HuiyuanError):
    status, code, title = 403, "forbidden", "Not allowed"


class MemberFrozen(HuiyuanError):
    status, code, title = 403, "member_frozen", "The membership is frozen"


class NotFound(HuiyuanError):
    status, code, title = 404, "not_found", "Not found"


class MethodNotAllowed(HuiyuanError):
    status, code, title = 405, "method_not_allowed", "Method not allowed"


class IdempotencyConflict(HuiyuanError):
    status, code, title = 409, "idempotency_conflict", "The key was already used with a different request"


class InsufficientPoints(HuiyuanError):
    status, code, title = 409, "insufficient_points", "Not enough points"


class OutOfStock(HuiyuanError):
    status, code, title = 409, "out_of_stock", "The reward is out of stock"


class MemberClosed(HuiyuanError):
    status, code, title = 409, "member_closed", "The membership is closed"


class RefundExceedsPurchase(HuiyuanError):
    status, code, title = 409, "refund_exceeds_purchase", "Refunds would exceed the purchase amount"


class ItemsDoNotAddUp(HuiyuanError):
    status, code, title = 422, "items_do_not_add_up", "The items do not add up to the amount"


class RefundExceedsItems(HuiyuanError):
    status, code, title = 422, "refund_exceeds_items", "The refund names items the purchase did not have"


class InsufficientFunds(HuiyuanError):
    status, code, title = 409, "insufficient_funds", "Not enough stored value"


class AlreadyClosed(HuiyuanError):
    status, code, title = 409, "already_closed", "The membership is already closed"


class PhoneTaken(HuiyuanError):
    """Answered only once the caller proved the phone is theirs (a code sent to it): no enumeration."""

    status, code, title = 409, "phone_taken", "The phone number belongs to another membership"


class BirthdayLocked(HuiyuanError):
    status, code, title = 409, "birthday_locked", "The birthday is already set; only support can correct it"


class InvalidState(HuiyuanError):
    """The request does not fit the current state of the thing it acts on."""

    status, code, title = 409, "invalid_state", "Not possible in the current state"


class RefreshRunning(InvalidState):
    """An analytics refresh is running (usecases/analytics.py): one at a time."""

    code, title = "refresh_running", "An analytics refresh is already running"


class AnalyticsNotReady(InvalidState):
    """Nothing to read or count yet: no analytics refresh has completed (KPIs, segments)."""

    code, title = "analytics_not_ready", "No analytics refresh has completed yet"


class SegmentComputing(InvalidState):
    """The segment's members are being counted (a queued unit): its preview or audience is not there yet."""

    code, title = "segment_computing", "The segment is being computed"


class SegmentCountFailed(InvalidState):
    """The last count of the segment's current version gave up (its queued unit failed every
    delivery): nothing to preview or send to until it is counted again (POST .../audiences)."""

    code, title = "segment_failed", "The segment's members could not be counted"


class RefundWindowClosed(HuiyuanError):
    status, code, title = 409, "refund_window_closed", "The refund window has closed"


class CouponUnavailable(HuiyuanError):
    status, code, title = 409, "coupon_unavailable", "The coupon is used, expired or revoked"


class ActionNotOffered(HuiyuanError):
    """The program awards nothing for this kind of action: no rule names the action type, or
    the daily check-in is off (domain/rules.py)."""

    status, code, title = 422, "action_not_offered", "The program awards no points for this action"


class ProductCodeInvalid(HuiyuanError):
    """A scan-to-earn code that earns nothing. One answer, word for word, whether the code never
    existed, was withdrawn, expired or was used by someone else: a guesser learns nothing."""

    status, code, title = 422, "invalid_product_code", "The code cannot be used"


class SurveyUnanswerable(ValidationFailed):
    """A well-formed survey definition no member could answer (picks beyond the options, ids
    given twice, a window already over, a reward not in the catalogue)."""

    status, code, title = 422, "survey_unanswerable", "No member could answer this survey"


class InvalidAnswers(ValidationFailed):
    """Answers that do not fit the survey's questions, field by field."""

    status, code, title = 422, "invalid_answers", "The answers do not fit the survey's questions"


class SurveyNotOpen(HuiyuanError):
    """A survey closed, or not yet open, takes no answers."""

    status, code, title = 409, "survey_not_open", "The survey is not open for answers"


class AlreadyAnswered(HuiyuanError):
    status, code, title = 409, "already_answered", "You have already answered this survey"


class SegmentNotReady(HuiyuanError):
    """The segment has no computed audience yet: nobody to invite."""

    status, code, title = 409, "segment_not_ready", "The segment's members have not been computed yet"


class ScheduleNotPossible(HuiyuanError):
    status, code, title = 422, "schedule_not_possible", "The time cannot be scheduled"


class TooManyAttempts(HuiyuanError):
    status, code, title = 429, "too_many_attempts", "Too many attempts"


class InvalidSignature(HuiyuanError):
    """A WeChat Pay notification whose signature, signing key or timestamp does not hold."""

    status, code, title = 401, "invalid_signature", "The notification's signature is not valid"


class NotificationTooEarly(HuiyuanError):
    """A payment notification for an order not written yet: WeChat Pay retries it."""

    status, code, title = 404, "order_not_found", "No such order yet; send the notification again"


class OrderNotPaid(HuiyuanError):
    """A refund of a WeChat Pay top-up that was never paid (created or failed)."""

    status, code, title = 409, "order_not_paid", "The order was not paid"


class AlreadyRefunded(HuiyuanError):
    """A refund of a WeChat Pay top-up already refunded, or being refunded."""

    status, code, title = 409, "already_refunded", "The order is refunded or being refunded"


class PaymentProviderFailed(HuiyuanError):
    """WeChat Pay answered an error, an unsigned answer, or nothing in time: nothing was charged."""

    status, code, title = 502, "payment_provider_error", "The payment provider did not accept the request"


class TemporarilyUnavailable(HuiyuanError):
    """Contention or throttling outlasted our retries: safe for the client to retry."""

    status, code, title = 503, "temporarily_unavailable", "Temporarily unavailable, retry shortly"
    retry_after = 1


class InternalError(HuiyuanError):
    status, code, title = 500, "internal_error", "Internal error"


class TransfersClosed(HuiyuanError):
    """The program does not allow points transfers, or not from the sender's tier (rules.transfers)."""

    status, code, title = 422, "transfer_not_allowed", "Points transfers are not allowed"


class TransferToSelf(HuiyuanError):
    status, code, title = 422, "transfer_to_self", "Points cannot be transferred to oneself"


class TransferLimit(HuiyuanError):
    """Above a limit of rules.transfers (per transfer, per day, the balance the sender keeps); the
    detail names which."""

    status, code, title = 422, "transfer_limit", "The transfer is outside the program's limits"


class RecipientUnavailable(HuiyuanError):
    """One answer, word for word, whether the phone is no member's, or the member cannot receive
    (not yet verified, frozen, closed): the sender learns no more about someone else's phone."""

    status, code, title = 422, "recipient_unavailable", "This phone number cannot receive points"


class WechatCodeInvalid(HuiyuanError):
    """WeChat refused the code the client sent (wx.login's, getPhoneNumber's or the OAuth page's):
    unknown, used or expired. The client asks WeChat for a new one."""

    status, code, title = 400, "invalid_wechat_code", "The WeChat code is invalid, used or expired"


class WechatUnavailable(HuiyuanError):
    """WeChat answered an error of its own or did not answer in time: nothing was written; safe to
    retry shortly (with a new code: WeChat's codes are single use)."""

    status, code, title = 503, "wechat_unavailable", "WeChat did not answer; try again shortly"
    retry_after = 2


class WechatBadGateway(WechatUnavailable):
    status, code, title = 502, "wechat_error", "WeChat answered with an error; try again shortly"


class WechatTaken(HuiyuanError):
    """The WeChat account is bound to another membership (answered only once the caller proved
    both the WeChat account and the phone: no enumeration)."""

    status, code, title = 409, "wechat_taken", "This WeChat account is bound to another membership"


class WechatNotBound(HuiyuanError):
    """The request needs a WeChat account bound to the membership (in the app it names) and there
    is none: unbinding, subscribing to messages, a WeChat Pay top-up. A state of the membership the
    member can change (sign in with WeChat), so a conflict, not a missing resource."""

    status, code, title = 409, "wechat_not_bound", "No WeChat account is bound to this membership"


class WechatNotConfigured(HuiyuanError):
    status, code, title = 404, "wechat_not_configured", "WeChat sign-in is not set up for this program"


class InvalidImportFile(HuiyuanError):
    """A bulk import's file cannot be imported (nothing uploaded, too big, its header): nothing was imported."""

    status, code, title = 422, "invalid_import_file", "The file cannot be imported"
