"""The operators' list of WeChat Pay anomalies: verified payment notifications that were not
credited, for someone to settle by hand: a top-up's (amount_mismatch, already_paid,
member_closed) or a store payment's (pay-to-join: unmapped_merchant, unknown_appid, currency,
member_may_not_earn). Ids and amounts only: no openid, no phone, no name.

Once the money has been put right outside Huiyuan (refunded in the WeChat Pay merchant
platform, credited by an adjustment, or judged to need nothing), an operator marks the anomaly
settled, saying how and why: once, audited in the same transaction, and the list can then show
only what is still open."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...domain.clock import iso, utcnow
from ...domain.errors import InvalidState, NotFound
from ...observability import count, logger
from ...store import wechat_pay as stored
from ...store.models_wechat_pay import WeChatPayAnomalyEntry
from ...store.parameters import load_rules
from ...store.unit_of_work import UnitOfWork, run
from ..audit import Change, add_audit

if TYPE_CHECKING:
    from ...api.schemas.operators import SettleAnomalyRequest


def _anomaly_view(entry: WeChatPayAnomalyEntry) -> dict[str, Any]:
    return {
        "anomaly_id": stored.anomaly_id(entry),
        "source": entry.source or "topup",
        "out_trade_no": entry.out_trade_no,
        "sub_mchid": entry.sub_mchid,
        "transaction_id": entry.transaction_id,
        "reason": entry.reason,
        "order_amount": int(entry.order_amount) if entry.order_amount is not None else None,
        "notified_amount": int(entry.notified_amount),
        "created_at": iso(entry.created_at),
        "status": "settled" if entry.settled_at is not None else "open",
        "settlement": (
            {"resolution": entry.resolution, "reference": entry.settled_reference, "settled_at": iso(entry.settled_at)}
            if entry.settled_at is not None
            else None
        ),
    }


def list_anomalies(limit: int, cursor: str | None, status: str | None = None) -> dict[str, Any]:
    """One page of the anomalies (all, or only `open` or `settled` ones), oldest first."""
    return stored.anomaly_page(limit, cursor, status).view(_anomaly_view)


def settle_anomaly(anomaly_id: str, request: SettleAnomalyRequest, actor: str) -> dict[str, Any]:
    """Mark an open anomaly settled, with its audit entry. The same settlement again (an answer
    that was lost) answers the anomaly as it is; a different one is 409: it was settled before."""
    rules = load_rules()

    def attempt(uow: UnitOfWork) -> WeChatPayAnomalyEntry:
        now = utcnow()
        entry = stored.anomaly_entry_of(anomaly_id)
        if entry is None:
            raise NotFound("No such WeChat Pay anomaly")
        if entry.settled_at is not None:
            if (entry.resolution, entry.settled_reference) == (request.resolution, request.reference):
                return entry
            raise InvalidState(f"This anomaly was settled before ({entry.resolution}, {iso(entry.settled_at)})")
        stored.settle_anomaly(uow, entry, request.resolution, request.reference, now)
        after = {"status": "settled", "resolution": request.resolution, "reference": request.reference}
        change = Change(
            actor, "wechat_pay.anomaly.settle", "wechat_pay_anomaly", entry.transaction_id, {"status": "open"}, after, reason=request.reason
        )
        add_audit(uow, change, rules, now)
        uow.commit()  # settled meanwhile: read again (then the same settlement, or 409)
        count("WeChatPayAnomaliesSettled")
        logger.info("wechat pay anomaly settled", extra={"transaction_id": entry.transaction_id, "resolution": request.resolution})
        entry.settled_at, entry.resolution, entry.settled_reference = now, request.resolution, request.reference  # as written
        return entry

    return _anomaly_view(run(attempt))
