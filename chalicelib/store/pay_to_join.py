"""Pay-to-join's items (keys.py: `WECHAT#<digest>`/`PAYJOIN`, `WXTXN#<id>`/`PAYJOIN#ANOMALY`).

The holding of an unbound payer is a pending member with no phone (so it is in no phone index
and can never sign in or be messaged) and a `PayToJoinHolder` beside the openid's guard naming it.
Both are put only if absent in one unit of work: one holding per openid however many payments
race. The holding's earnings are ordinary purchases (usecases/purchases.py) keyed by WeChat's
transaction id.
"""

from __future__ import annotations

from datetime import date, datetime

from . import keys
from .members import new_member
from .models import Member
from .models_pay_to_join import PayToJoinAnomaly, PayToJoinHolder
from .models_wechat_pay import WeChatPayAnomalyEntry
from .unit_of_work import UnitOfWork
from .wechat import guard_key
from .wechat_pay import anomaly_entry


def holder_key(appid: str, openid: str) -> tuple[str, str]:
    return guard_key(appid, openid)[0], keys.PAYJOIN_SK


def holding_member_id(appid: str, openid: str) -> str | None:
    """The pending member holding this openid's pay-to-join points (strongly consistent)."""
    try:
        return str(PayToJoinHolder.get(*holder_key(appid, openid), consistent_read=True).member_id)
    except PayToJoinHolder.DoesNotExist:
        return None


def new_holding_member(*, tier: str, joined: date, now: datetime) -> Member:
    """A pending member with no phone yet: outside the phone index (no `phone_key`, no guard)."""
    member = new_member("", tier=tier, joined=joined, now=now)
    member.phone_key = None
    return member


def add_holding(uow: UnitOfWork, appid: str, openid: str, app: str, member: Member, now: datetime) -> None:
    """Parts `holder` (fails if the openid has a holding already) and `member`."""
    holder = PayToJoinHolder(*holder_key(appid, openid), member_id=member.member_id, app=app, created_at=now)
    uow.put("holder", holder, PayToJoinHolder.pk.does_not_exist())
    uow.put("member", member, Member.pk.does_not_exist())


def release_holding(uow: UnitOfWork, appid: str, openid: str, member_id: str) -> None:
    """Part `holder`: delete the holding only if it still names `member_id` (once)."""
    uow.delete("holder", PayToJoinHolder(*holder_key(appid, openid)), PayToJoinHolder.member_id == member_id)


def record_anomaly(transaction_id: str, sub_mchid: str, reason: str, amount: int, now: datetime) -> None:
    """Keep a verified store payment that earned nothing, once per transaction, and its entry in
    the operators' list of WeChat Pay anomalies (store/wechat_pay.py) in the same transaction."""
    anomaly = PayToJoinAnomaly(
        keys.wxtxn_pk(transaction_id),
        keys.PAYJOIN_ANOMALY_SK,
        transaction_id=transaction_id,
        sub_mchid=sub_mchid,
        reason=reason,
        amount=amount,
        created_at=now,
    )
    entry = anomaly_entry(transaction_id, now, source="store_payment", sub_mchid=sub_mchid, reason=reason, notified_amount=amount)
    uow = UnitOfWork()
    uow.put("anomaly", anomaly, PayToJoinAnomaly.pk.does_not_exist())
    uow.put("entry", entry, WeChatPayAnomalyEntry.pk.does_not_exist())
    uow.commit(lambda cancelled: "kept before")  # the same payment again: kept once


def anomaly_of(transaction_id: str) -> PayToJoinAnomaly | None:
    """The anomaly kept for a transaction (operators; tests)."""
    try:
        return PayToJoinAnomaly.get(keys.wxtxn_pk(transaction_id), keys.PAYJOIN_ANOMALY_SK, consistent_read=True)
    except PayToJoinAnomaly.DoesNotExist:
        return None
