"""The demo's plan (devtools/demo/plan.py): what makes `make demo` deterministic,
idempotent and valid before a single request is sent."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from devtools.demo.plan import (
    GOLD_MIN_SPEND,
    HISTORY_DAYS,
    LAPSED_AFTER_DAYS,
    REGULAR_MAX_SPEND,
    SILVER_MAX_SPEND,
    Feedback,
    Freeze,
    Purchase,
    Redemption,
    Refund,
    TopUp,
    make_plan,
)

ZONE = ZoneInfo("Asia/Shanghai")
ANCHOR = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def plan():
    return make_plan(1, 300, ANCHOR, ZONE)


def test_given_the_same_seed_then_the_same_plan_and_a_bigger_one_starts_with_it(plan):
    assert make_plan(1, 300, ANCHOR, ZONE) == plan
    assert make_plan(1, 40, ANCHOR, ZONE).members == plan.members[:40]
    # A later run the same day (the anchor is when the first run signed its first member up) sends the same times.
    assert make_plan(1, 300, ANCHOR + timedelta(hours=3), ZONE).members == plan.members
    assert not {m.phone for m in make_plan(2, 300, ANCHOR, ZONE).members} & {m.phone for m in plan.members}


def test_every_write_has_its_own_id_and_every_member_their_own_phone(plan):
    ids = Counter()
    for member in plan.members:
        for e in member.events:
            if isinstance(e, Purchase):
                ids.update([e.order_id, *([e.payment_id] if e.payment_id else [])])
            elif isinstance(e, Refund):
                ids[e.refund_id] += 1
            elif isinstance(e, TopUp):
                ids[e.topup_id] += 1
            elif isinstance(e, Redemption):
                ids.update([e.key, e.use_id])
            elif isinstance(e, Feedback):
                ids[e.key] += 1
    assert [i for i, n in ids.items() if n > 1] == []
    assert len({m.phone for m in plan.members}) == len(plan.members)
    assert all(m.phone.startswith("+86") and len(m.phone) == 14 for m in plan.members)


def test_in_the_order_sent_nothing_refers_to_what_is_not_there_yet_and_the_wallet_never_goes_below_zero(plan):
    for member in plan.members:
        sent: set[str] = set()
        wallet = 0
        for e in member.events:
            if isinstance(e, Purchase):
                if e.payment_id:
                    wallet -= e.amount
                    assert wallet >= 0, member.index
                sent.add(e.order_id)
            elif isinstance(e, TopUp):
                wallet += e.amount
            elif isinstance(e, Refund):
                assert e.order_id in sent
                wallet += e.amount if e.payment_id else 0
            elif isinstance(e, Feedback):
                assert e.order_id is None or e.order_id in sent
        # The last purchase is sent last (a freeze only after it): its presence marks the member complete.
        last = [e for e in member.events if not isinstance(e, Freeze)]
        assert not last or isinstance(last[-1], Purchase)
        assert all(isinstance(e, Freeze) for e in member.events[len(last) :])


def test_every_kind_of_member_is_there_and_spends_what_keeps_them_in_their_tier(plan):
    kinds = Counter(m.kind for m in plan.members)
    assert set(kinds) == {"showcase", "regular", "silver", "gold", "lapsed", "newcomer", "pending", "frozen"}
    for member in plan.members:
        spent = sum(p.amount for p in member.purchases)
        refunded = sum(e.amount for e in member.events if isinstance(e, Refund))
        # At the default rules (1 point a yuan; silver at 2,000 points, gold at 10,000; x1.25 silver,
        # x1.5 gold; x2 on a birthday), whatever day the demo runs on:
        if member.kind in ("regular", "lapsed", "newcomer", "pending", "frozen"):
            assert spent <= REGULAR_MAX_SPEND < 100_000  # under 2,000 points even on a birthday
        elif member.kind in ("silver", "showcase"):
            assert spent - refunded >= 200_000  # 2,000 points at x1, refunds taken off
            assert spent <= SILVER_MAX_SPEND < 400_000  # under 10,000 points even at x1.25 on a birthday
        else:
            assert spent - refunded >= GOLD_MIN_SPEND >= 1_000_000
        assert member.signs_up == (member.kind != "pending")
        assert all(p.by_phone for p in member.purchases) if member.kind == "pending" else True


def test_purchases_happened_in_the_few_months_before_the_anchor_and_the_lapsed_stopped_long_ago(plan):
    for member in plan.members:
        for p in member.purchases:
            assert ANCHOR - timedelta(days=HISTORY_DAYS + 1) < p.at < ANCHOR
            assert p.at.utcoffset() == timedelta(hours=8)  # written with the program's offset
        if member.lapsed:
            assert max(p.at for p in member.purchases) < ANCHOR - timedelta(days=LAPSED_AFTER_DAYS - 1)
    assert {p.store_id for m in plan.members for p in m.purchases} == {"qh-jingan", "qh-xuhui", "qh-lujiazui"}
