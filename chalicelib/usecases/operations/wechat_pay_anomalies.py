"""The operators' list of WeChat Pay anomalies: verified payment notifications that were not
credited, for someone to settle by hand: a top-up's (amount_mismatch, already_paid,
member_closed) or a store payment's (pay-to-join: unmapped_merchant, unknown_appid, currency,
member_may_not_earn). Ids and
amounts only: no openid, no phone, no name."""

from __future__ import annotations

from typing import Any

from ...domain.clock import iso
from ...store.models_wechat_pay import WeChatPayAnomalyEntry
from ...store.wechat_pay import anomaly_page


def _anomaly_view(entry: WeChatPayAnomalyEntry) -> dict[str, Any]:
    return {
        "source": entry.source or "topup",
        "out_trade_no": entry.out_trade_no,
        "sub_mchid": entry.sub_mchid,
        "transaction_id": entry.transaction_id,
        "reason": entry.reason,
        "order_amount": int(entry.order_amount) if entry.order_amount is not None else None,
        "notified_amount": int(entry.notified_amount),
        "created_at": iso(entry.created_at),
    }


def list_anomalies(limit: int, cursor: str | None) -> dict[str, Any]:
    """One page of the anomalies, oldest first."""
    return anomaly_page(limit, cursor).view(_anomaly_view)
