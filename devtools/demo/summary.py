"""What the demo made, as the stack shows it: read back through the operator API
(members, their tiers, statuses, ledgers and coupons), with the plan naming the
store of each order and the wallet amounts (the operator API has no wallet
view; every wallet write of a complete member was answered 2xx)."""

from __future__ import annotations

import unicodedata
from collections import Counter
from typing import Any

from .cafe import CHAIN, REWARD_BY_ID, STORE_BY_ID, STORES
from .plan import HISTORY_DAYS, LAPSED_AFTER_DAYS, Feedback, Purchase, Refund, TopUp
from .run import Outcome

TIERS = ("member", "silver", "gold")
STATUSES = ("active", "pending", "frozen", "closed")


def summarise(outcome: Outcome, api_base: str) -> dict[str, Any]:
    plan, states = outcome.plan, outcome.states
    present = [s for s in states if s.view is not None and not s.left_alone and not s.error]
    by_tier_status: dict[str, Counter[str]] = {tier: Counter() for tier in TIERS}
    for s in present:
        assert s.view is not None
        by_tier_status.setdefault(s.view["tier"], Counter())[s.view["status"]] += 1

    stores: dict[str, dict[str, int]] = {
        s.store_id: {"purchases": 0, "sales": 0, "points_earned": 0, "refunds": 0, "refunded": 0, "points_reversed": 0} for s in STORES
    }
    amounts = {p.order_id: p.amount for s in present for p in s.planned.purchases}
    refunded = {(e.order_id, e.refund_id): e.amount for s in present for e in s.planned.events if isinstance(e, Refund)}
    points: Counter[str] = Counter()
    drifting = []
    for s in present:
        assert s.view is not None
        for entry in s.ledger:
            points[entry["kind"]] += entry["points"]
            store = plan.order_store.get(entry["ref"] or "")
            if store and entry["kind"] == "earn":
                stores[store]["purchases"] += 1
                stores[store]["sales"] += amounts.get(entry["ref"], 0)
                stores[store]["points_earned"] += entry["points"]
            elif store and entry["kind"] == "refund":
                stores[store]["refunds"] += 1
                stores[store]["refunded"] += sum(v for (order, _), v in refunded.items() if order == entry["ref"])
                stores[store]["points_reversed"] -= entry["points"]
        if sum(e["points"] for e in s.ledger) != s.view["points"]["balance"]:
            drifting.append(s.view["member_id"])

    redeemed = Counter(c["reward_id"] for s in present for c in s.coupons if c["kind"] == "redemption")
    coupons_used = sum(1 for s in present for c in s.coupons if c["kind"] == "redemption" and c["status"] not in ("issued", "expired"))
    events = [e for s in present for e in s.planned.events]
    top_ups = [e for e in events if isinstance(e, TopUp)]
    payments = [e for e in events if isinstance(e, Purchase) and e.payment_id]
    wallet_refunds = [e for e in events if isinstance(e, Refund) and e.payment_id]
    feedback = [e for e in events if isinstance(e, Feedback)]
    showcase = plan.members[0] if plan.members else None
    return {
        "chain": CHAIN,
        "seed": plan.seed,
        "members_planned": len(plan.members),
        "history": {"from": plan.first_day.isoformat(), "to": plan.anchor.date().isoformat(), "days": HISTORY_DAYS},
        "members": {
            "made_now": sum(1 for s in present if s.made_now),
            "already_there": sum(1 for s in present if not s.made_now),
            "left_alone": {s.planned.phone: s.left_alone for s in states if s.left_alone},
            "failed": {s.planned.phone: s.error for s in states if s.error},
        },
        "by_tier_and_status": {tier: dict(counts) for tier, counts in by_tier_status.items()},
        "lapsed": sum(1 for s in present if s.planned.lapsed),
        "stores": stores,
        "points": {
            "earned": points["earn"],
            "bonus": points["bonus"],
            "redeemed": -points["redeem"],
            "reversed_by_refunds": -points["refund"],
            "expired": -points["expire"],
            "adjusted": points["adjust"],
            "outstanding": sum(s.view["points"]["balance"] for s in present if s.view),
        },
        "books": {"members_checked": len(present), "drifting": drifting},
        "redemptions": dict(sorted(redeemed.items())),
        "coupons_used_at_the_till": coupons_used,
        "wallet": {
            "wallets": len({s.planned.index for s in present for e in s.planned.events if isinstance(e, TopUp)}),
            "top_ups": len(top_ups),
            "topped_up": sum(e.amount for e in top_ups),
            "payments": len(payments),
            "paid": sum(e.amount for e in payments),
            "refunded": sum(e.amount for e in wallet_refunds),
            "stored_value": sum(e.amount for e in top_ups) - sum(e.amount for e in payments) + sum(e.amount for e in wallet_refunds),
        },
        "feedback": {"sent": len(feedback), "answered": sum(1 for e in feedback if e.answer)},
        "requests": {
            "writes_made": outcome.api.writes["created"] + outcome.api.writes["other"],
            "writes_replayed": outcome.api.writes["replayed"],
            "reads": outcome.api.reads,
        },
        "code_send_limits_raised": outcome.limits_raised,
        "seconds": round(outcome.seconds, 1),
        "web_app": f"{api_base}/app/",
        "demo_member": {"name": showcase.profile.name, "phone": showcase.phone, "points_expire_on": _first_expiry(states[0].view)}
        if showcase and showcase.profile
        else None,
    }


def _first_expiry(view: dict[str, Any] | None) -> str | None:
    expiring = view["points"]["expiring"] if view else []
    return str(expiring[0]["expires_on"]) if expiring else None


def _ljust(text: str, width: int) -> str:
    """Padded to `width` columns as a terminal shows it (a Chinese character takes two)."""
    shown = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - shown)


def _yuan(fen: int) -> str:
    return f"¥{fen / 100:,.2f}"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds // 60:.0f} min {seconds % 60:.0f} s"


def as_text(summary: dict[str, Any], state_dir: str) -> str:
    m, p, w = summary["members"], summary["points"], summary["wallet"]
    lines = [
        f"{summary['chain']}: 3 stores, seed {summary['seed']}, {summary['members_planned']} members "
        f"({m['made_now']} made now, {m['already_there']} already there) in {_duration(summary['seconds'])}",
        f"History {summary['history']['from']} .. {summary['history']['to']}: each purchase carries its occurred_at,",
        "but the program credits points (and dates ledger entries and activity) on the day a purchase is reported: today.",
        "",
        f"{'Members':<10}" + "".join(f"{s:>9}" for s in STATUSES) + f"{'total':>9}",
    ]
    for tier, counts in summary["by_tier_and_status"].items():
        lines.append(f"  {tier:<8}" + "".join(f"{counts.get(s, 0):>9}" for s in STATUSES) + f"{sum(counts.values()):>9}")
    lines += [
        f"  lapsed: {summary['lapsed']} (no purchase in the {LAPSED_AFTER_DAYS} days before {summary['history']['to']}, by occurred_at;",
        "          the program sees their activity on the day it was reported, so it counts them active for now)",
        "",
        f"{'Stores':<30}{'purchases':>10}{'sales':>15}{'points':>9}{'refunds':>9}{'refunded':>12}",
    ]
    for store_id, s in summary["stores"].items():
        name = f"{store_id} {STORE_BY_ID[store_id].short_name}"
        lines.append(f"  {name:<28}{s['purchases']:>10}{_yuan(s['sales']):>15}{s['points_earned']:>9}{s['refunds']:>9}{_yuan(s['refunded']):>12}")
    books = summary["books"]
    balanced = "every member's ledger adds up to their balance" if not books["drifting"] else f"{len(books['drifting'])} members DRIFT"
    redemptions = ", ".join(f"{REWARD_BY_ID[r].name if r in REWARD_BY_ID else r} {n}" for r, n in summary["redemptions"].items()) or "none"
    lines += [
        "",
        f"Points: earned {p['earned']:,}, bonuses {p['bonus']:,}, redeemed {p['redeemed']:,}, reversed by refunds {p['reversed_by_refunds']:,}; "
        f"outstanding {p['outstanding']:,} ({balanced}, {books['members_checked']} checked)",
        f"Rewards redeemed: {redemptions}; {summary['coupons_used_at_the_till']} coupons used at the till",
        f"Wallets: {w['wallets']}, topped up {_yuan(w['topped_up'])} ({w['top_ups']}), paid {_yuan(w['paid'])} ({w['payments']}), "
        f"refunded {_yuan(w['refunded'])}; stored value {_yuan(w['stored_value'])}",
        f"Feedback: {summary['feedback']['sent']} ({summary['feedback']['answered']} answered by an operator)",
        f"Requests: {summary['requests']['writes_made']} writes made, {summary['requests']['writes_replayed']} answered as replays, "
        f"{summary['requests']['reads']} reads",
    ]
    raised = summary["code_send_limits_raised"]
    if raised:
        lines.append(
            "Raised the local program's code_send_limits for the sign-ups, and left them raised (every local client is 127.0.0.1, "
            f"your browser too): {raised['after']}, were {raised['before']} (audit: rules.update; see docs/local-stage.md, make demo)"
        )
    for what, items in (("Left alone", m["left_alone"]), ("FAILED", m["failed"])):
        for phone, why in list(items.items())[:10]:
            lines.append(f"{what}: {phone}: {why}")
    demo = summary["demo_member"]
    if demo:
        lines += [
            "",
            "Look at it:",
            f"  the member web app  {summary['web_app']}  sign in as {demo['name']}, phone {demo['phone']};",
            f"                      its code: grep '{demo['phone']}' {state_dir}/outbox.jsonl | tail -1",
            f"  an operator's view  curl -s '{summary['web_app'][:-5]}/v1/admin/members?phone={demo['phone'].replace('+', '%2B')}'",
            "  the books           make job JOB=reconcile",
        ]
        if demo["points_expire_on"]:
            lines.append(
                f"  the jobs, ahead     make job JOB=expire-points AS_OF={demo['points_expire_on']}   (the day {demo['name']}'s points expire; "
                "docs/local-stage.md, time travel)"
            )
    return "\n".join(lines)
