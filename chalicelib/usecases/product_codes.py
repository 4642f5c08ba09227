"""A member scans or types a product's code (一物一码) and earns its batch's points, once.

What a caller can learn: a code that never existed, was withdrawn, expired, or was used by
*someone else* gets one answer, word for word (422 invalid_product_code), and costs one of the
member's `MAX_FAILED_ATTEMPTS` failed attempts an hour. A code the member used *themselves* is a
replay: 200 with the first answer (`Idempotent-Replayed: true`), nothing earned twice and no
attempt spent. That tells the member only what they already know (they had that code in hand
when it earned), so it reveals nothing about which codes exist, and an app's retry after a lost
answer shows the points instead of an error.

Attempts are counted *before* the code is judged, by one conditional update below the limit
(store/product_codes.claim_attempt): 30 guesses at once still count at most 10, the rest 429
with Retry-After (the end of the hour), the right code included. A code that earns gives its
attempt back in the same transaction.

The earning transaction: the code marked used (only if unused: two members racing for one code,
exactly one wins), the member (version-checked) with the new balance, the `scan` ledger entry,
the lot, one shard of the batch's redemption count, and the attempt given back.

The batch is read, not condition-checked, in that transaction: a check would make the batch item
a hot spot every scan of the campaign contends for. A revocation therefore stops codes from the
next request on; a scan judged a moment before it may still earn.

Points from codes do not count toward tier qualification (like an operator's credit): the
product's purchase, if the till reported it, already did.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ..domain.clock import iso, today_in, utcnow
from ..domain.errors import ProductCodeInvalid, TooManyAttempts
from ..domain.membership import require_may_earn
from ..domain.points import earn, lot_expires_on, month_key
from ..domain.product_codes import MAX_FAILED_ATTEMPTS, attempt_window, code_digest, may_earn
from ..observability import count, logger
from ..store import product_codes as stored
from ..store.idempotency import new_write_token, plain
from ..store.ledger import ledger_entry, open_lot
from ..store.members import points_state, points_update
from ..store.models_product_codes import ProductCode
from ..store.parameters import load_rules
from ..store.unit_of_work import Cancelled, UnitOfWork, run
from .common import Answer, activity_actions, created
from .sessions import MemberSession

REFUSED = "This code cannot be used: check what you typed; a code may also be used already, expired or withdrawn"


def _invalid() -> ProductCodeInvalid:
    return ProductCodeInvalid(REFUSED)


def redeem_product_code(session: MemberSession, normalised: str) -> Answer:
    """201 and the points earned; the member's own code again: 200, the first answer; any other
    code that earns nothing: 422 invalid_product_code; over the attempts limit: 429."""
    member_id = session.member_id
    rules = load_rules()
    window, window_ends = attempt_window(utcnow())
    if not stored.claim_attempt(member_id, window, window_ends, MAX_FAILED_ATTEMPTS):
        count("ProductCodeScansLockedOut")
        retry_after = max(1, int((window_ends - utcnow()).total_seconds()) + 1)
        raise TooManyAttempts("Too many codes that could not be used; try again later", retry_after=retry_after)
    digest = code_digest(normalised)
    write_token = new_write_token()

    def own_replay(code: ProductCode) -> Answer:
        body = plain(stored.code_response(code))
        if code.write_token == write_token:
            return created(body)  # this very request's write, whose answer was lost
        stored.give_back_attempt_alone(member_id, window)
        return Answer(200, body, replayed=True)

    def attempt(uow: UnitOfWork) -> Answer:
        now = utcnow()
        found, code = stored.member_and_code(member_id, digest)
        member = session.admit(found)
        if code is not None and code.used_by == member_id:
            return own_replay(code)
        # Before the code is judged: a frozen member must not learn from 403-or-422 which codes are good.
        require_may_earn(member.status)
        if code is None or code.used_by is not None:
            raise _invalid()
        batch = stored.get_batch(code.batch_id)
        today = today_in(rules.zone, now)
        if batch is None or not may_earn(str(batch.status), date.fromisoformat(batch.expires_on) if batch.expires_on else None, today):
            raise _invalid()
        points = int(batch.points)
        month = month_key(today)
        state = earn(points_state(member), points, month, qualifying=False)
        entry = ledger_entry(member_id, "scan", points, state.balance, batch.batch_id, now, lot=month)
        body: dict[str, Any] = {
            "points_earned": points,
            "balance": state.balance,
            "sku": batch.sku,
            "name": batch.name,
            "batch_id": batch.batch_id,
            "entry_id": entry.entry_id,
            "redeemed_at": iso(now),
        }
        stored.use_code(uow, code, member_id, body, write_token, now)
        uow.update("member", member, points_update(state) + activity_actions(member, rules, today))
        uow.put("ledger", entry)
        open_lot(uow, member_id, month, lot_expires_on(month, rules.points_validity_months), held=member.lots)
        stored.count_redemption(uow, batch.batch_id)
        stored.give_back_attempt(uow, member_id, window)

        def explain(cancelled: Cancelled) -> Answer | None:
            if "code" not in cancelled.failed:
                return None  # the member changed meanwhile: read again
            now_used = stored.code_from_raw(cancelled.failed["code"])
            if now_used is None:
                return None  # no old item came back: read again
            if now_used.used_by == member_id:
                return own_replay(now_used)
            raise _invalid()  # another member's scan won the race

        answer = uow.commit(explain)
        if answer is not None:
            return answer
        count("ProductCodesRedeemed")
        count("ProductCodePoints", points)
        logger.info("product code redeemed", extra={"member_id": member_id, "batch_id": batch.batch_id, "points": points})
        return created(body)

    try:
        return run(attempt, one_at_a_time=member_id)
    except ProductCodeInvalid:
        count("ProductCodeScansRefused")
        logger.info("product code refused", extra={"member_id": member_id})
        raise
