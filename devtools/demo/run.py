"""Sending the plan to the running local stack through its HTTP API, member by member.

First every planned member is looked up as an operator would (by phone, then
their ledger). A member whose last planned purchase is in their ledger (or,
for the one to be frozen, who is frozen; for a newcomer without purchases, who
is active) is complete and left alone: a second run reads and sends nothing
else. Any other member's plan is sent from the start. Every write carries the
plan's id or idempotency key, so what an interrupted run already made is
answered from its first time and made once.

Signing a few hundred members up is far beyond the program's code-sending
limits for one client (10 codes a minute, 200 a day), and in the local stage
every client is one address, 127.0.0.1 (Chalice's local gateway says so for
every request), the developer's browser included. So before its sign-ups the
demo raises the local program's `code_send_limits` through the operator API
(audited as `rules.update`; it says so) and leaves them raised: put back
at once, today's per-client allowance would already be spent by the demo and
nobody could sign in to the web app from this machine until tomorrow.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from .cafe import CURRENCY, REWARD_BY_ID, REWARDS
from .http import Api, ApiError, Outbox
from .plan import Feedback, Freeze, Plan, PlannedMember, Purchase, Redemption, Refund, TopUp, make_plan

# Enough for a few thousand members a run and several runs a day; the per-recipient limit stays.
DEMO_SEND_LIMITS = {"per_client_per_minute": 1_000, "per_client_per_day": 100_000, "total_per_minute": 1_000, "total_per_day": 100_000}


class NotTheLocalStage(Exception):
    """The API answering is not the local stage's (its operator API is not the open local one)."""


@dataclass
class MemberState:
    """A planned member as the operator API shows them (None: no such member)."""

    planned: PlannedMember
    view: dict[str, Any] | None = None
    ledger: list[dict[str, Any]] = field(default_factory=list)
    coupons: list[dict[str, Any]] = field(default_factory=list)
    made_now: bool = False
    left_alone: str | None = None  # why the demo did not touch this member
    error: str | None = None

    @property
    def complete(self) -> bool:
        view, pm = self.view, self.planned
        if view is None:
            return False
        if pm.kind == "frozen":
            return bool(view["status"] == "frozen")
        if pm.final_order_id:
            return any(e["kind"] == "earn" and e["ref"] == pm.final_order_id for e in self.ledger)
        return bool(view["status"] == "active")


@dataclass
class Outcome:
    plan: Plan
    states: list[MemberState]
    seconds: float
    limits_raised: dict[str, dict[str, int]] | None  # {"before", "after"} when this run raised them
    api: Api


class Demo:
    def __init__(self, api: Api, outbox: Outbox, *, workers: int = 4, progress: Callable[[str], None] = print) -> None:
        self.api, self.outbox, self.workers, self.progress = api, outbox, workers, progress
        self._referral_codes: dict[int, str] = {}
        self._lock = threading.Lock()
        self.plan: Plan | None = None

    # --- the run ---------------------------------------------------------------

    def run(self, seed: int, members: int) -> Outcome:
        started = time.monotonic()
        rules = self._local_rules()
        plan = self.plan = make_plan(seed, members, self._anchor(seed, rules), ZoneInfo(rules["timezone"]))
        self._create_rewards()
        states = self._in_parallel(plan.members, self._survey, "looked up")
        todo = [s for s in states if not s.complete and not s.left_alone]
        raised = None
        if todo:
            self.progress(f"{len(states) - len(todo)} of {len(states)} members already there; making {len(todo)}")
            if any(s.planned.signs_up for s in todo):
                raised = self._raise_sending_limits()
            # Members who join with a friend's referral code come after the friends.
            first = [s for s in todo if s.planned.referrer is None]
            then = [s for s in todo if s.planned.referrer is not None]
            made = self._in_parallel(first, self._make, "made") + self._in_parallel(then, self._make, "made (referred by a friend)")
            # Read back once all are made: a friend's first purchase pays the referrer a bonus.
            done = {s.planned.index: s for s in self._in_parallel([s for s in made if not s.error], self._read_back, "read back")}
            done.update({s.planned.index: s for s in made if s.error})
            states = [done.get(s.planned.index, s) for s in states]
        return Outcome(plan, states, time.monotonic() - started, raised, self.api)

    def _in_parallel(self, items: Sequence[Any], work: Callable[[Any], MemberState], done_what: str) -> list[MemberState]:
        if not items:
            return []
        results: dict[int, MemberState] = {}
        every, last_note = max(5, len(items) // 10), time.monotonic()
        pool = ThreadPoolExecutor(self.workers)
        try:
            futures = [pool.submit(work, item) for item in items]
            for n, future in enumerate(as_completed(futures), 1):
                state = future.result()
                results[state.planned.index] = state
                if n % every == 0 or time.monotonic() - last_note > 20 or n == len(items):
                    self.progress(f"  {done_what} {n}/{len(items)} members")
                    last_note = time.monotonic()
        finally:
            # On Ctrl-C the members under way finish (a few seconds); the rest wait for the next run.
            pool.shutdown(wait=True, cancel_futures=True)
        return [results[i] for i in sorted(results)]

    # --- the stack and its rules -------------------------------------------------

    def _local_rules(self) -> dict[str, Any]:
        """The program rules, after making sure this is the local stage (never a deployed one)."""
        self.api.call("GET", "/v1/health")
        not_local = f"{self.api.base} is not the local stage (its operator API is not the open local one): the demo writes to the local stack only"
        try:
            reply = self.api.call("GET", "/v1/admin/rules")
        except ApiError as exc:
            raise NotTheLocalStage(not_local) from exc
        if reply.headers.get("X-Huiyuan-Admin") != "local-open":
            raise NotTheLocalStage(not_local)
        rules: dict[str, Any] = reply.body["rules"]
        if CURRENCY not in rules["currencies"]:
            raise NotTheLocalStage(f"the program takes {rules['currencies']}; the demo's café chain sells in {CURRENCY}")
        return rules

    def _anchor(self, seed: int, rules: dict[str, Any]) -> datetime:
        """Where the history ends: when the first run signed up the demo's first member, so a later
        run sends the same purchase times; now, on a first run."""
        first = make_plan(seed, 1, datetime.now(UTC), ZoneInfo(rules["timezone"])).members[0]
        found = self.api.call("GET", "/v1/admin/members", params={"phone": first.phone}).body["items"]
        return datetime.fromisoformat(found[0]["created_at"]) if found else datetime.now(UTC)

    def _create_rewards(self) -> None:
        for reward in REWARDS:
            body = {"reward_id": reward.reward_id, "name": reward.name, "points_cost": reward.points_cost, "reason": "make demo: the café's rewards"}
            if reward.stock is not None:
                body["stock"] = reward.stock
            try:
                self.api.call("POST", "/v1/admin/rewards", body, operator=True)
            except ApiError as exc:
                if exc.code != "idempotency_conflict":
                    raise
                self.progress(f"reward {reward.reward_id} exists with another definition (an operator changed it): kept as it is")

    def _raise_sending_limits(self) -> dict[str, dict[str, int]] | None:
        """The local program's code-sending limits, raised where they would stop the sign-ups."""
        rules = self.api.call("GET", "/v1/admin/rules").body["rules"]
        before = rules["code_send_limits"]
        after = {k: max(v, DEMO_SEND_LIMITS.get(k, v)) for k, v in before.items()}
        if after == before:
            return None
        rules["code_send_limits"] = after
        reason = "make demo: many sign-ups, and every local client is one address (127.0.0.1)"
        self.api.call("PUT", "/v1/admin/rules", {"rules": rules, "reason": reason}, operator=True, creates=False)
        self.progress(f"Raised the local program's code_send_limits for the sign-ups (and left them so): {after}")
        return {"before": before, "after": after}

    # --- one member ----------------------------------------------------------------

    def _survey(self, pm: PlannedMember) -> MemberState:
        state = MemberState(pm)
        try:
            self._look_up(state)
            view = state.view
            if view is not None and not state.complete:
                if (pm.profile and view["name"] not in (None, pm.profile.name)) or (not pm.profile and view["name"] is not None):
                    state.left_alone = f"{pm.phone} is someone else's membership ({view['member_id']})"
                elif view["status"] in ("frozen", "closed") and pm.kind != "frozen":
                    state.left_alone = f"{view['member_id']} is {view['status']} (an operator's doing): left as it is"
        except Exception as exc:  # one member's failure is reported, the others go on
            state.error = f"{type(exc).__name__}: {exc}"
        return state

    def _read_back(self, state: MemberState) -> MemberState:
        """The member, their ledger and coupons as an operator sees them."""
        try:
            self._look_up(state)
        except Exception as exc:
            state.error = f"{type(exc).__name__}: {exc}"
        return state

    def _look_up(self, state: MemberState) -> None:
        found = self.api.call("GET", "/v1/admin/members", params={"phone": state.planned.phone}).body["items"]
        state.view = found[0] if found else None
        if state.view is None:
            return
        member = state.view["member_id"]
        state.ledger = self.api.pages(f"/v1/admin/members/{member}/ledger")
        state.coupons = self.api.pages(f"/v1/admin/members/{member}/coupons") if any(e["kind"] == "redeem" for e in state.ledger) else []
        if state.view.get("referral_code"):
            self.remember_referral_code(state.planned.index, state.view["referral_code"])

    def _make(self, state: MemberState) -> MemberState:
        """The member's plan sent from the start (what is there already is answered as a replay)."""
        made = MemberState(state.planned, made_now=True)
        try:
            _MemberRun(self, state.planned, state.view).send()
        except Exception as exc:
            made.error = f"{type(exc).__name__}: {exc}"
        return made

    def plan_member(self, index: int) -> PlannedMember:
        assert self.plan is not None
        return self.plan.members[index]

    def remember_referral_code(self, index: int, code: str) -> None:
        with self._lock:
            self._referral_codes[index] = code

    def referral_code(self, index: int, phone: str) -> str | None:
        with self._lock:
            code = self._referral_codes.get(index)
        if code is None:
            found = self.api.call("GET", "/v1/admin/members", params={"phone": phone}).body["items"]
            code = found[0]["referral_code"] if found else None
        return code


class _MemberRun:
    """One member's plan sent from the start: the till's, the app's and the operators' requests."""

    def __init__(self, demo: Demo, pm: PlannedMember, view: dict[str, Any] | None) -> None:
        self.demo, self.api, self.pm, self.view = demo, demo.api, pm, view
        self.member_id: str | None = view["member_id"] if view else None
        self.balance: int = view["points"]["balance"] if view else 0
        self.token: str | None = None

    def send(self) -> None:
        if self.pm.signs_up:
            self._sign_up_or_in()
        for event in self.pm.events:
            if isinstance(event, Purchase):
                self._purchase(event)
            elif isinstance(event, Refund):
                self._refund(event)
            elif isinstance(event, TopUp):
                self._top_up(event)
            elif isinstance(event, Redemption):
                self._redeem(event)
            elif isinstance(event, Feedback):
                self._feedback(event)
            elif isinstance(event, Freeze):
                self._freeze(event)

    def _sign_up_or_in(self) -> None:
        """Sign-up with the code texted to the phone (read from the outbox), as a member does in the app;
        a member an interrupted run left active signs in the same way."""
        profile = self.pm.profile
        assert profile is not None
        mark = self.demo.outbox.mark()
        if self.view is None or self.view["status"] == "pending":
            referrer = self.demo.plan_member(self.pm.referrer) if self.pm.referrer is not None else None
            code = self.demo.referral_code(referrer.index, referrer.phone) if referrer else None
            self.api.call("POST", "/v1/signup", profile.signup_body(self.pm.phone, code), creates=False)
        else:
            self.api.call("POST", "/v1/auth/code", {"phone": self.pm.phone}, creates=False)
        code = self.demo.outbox.code_for(self.pm.phone, mark)
        signed_in = self.api.call("POST", "/v1/auth/verify", {"phone": self.pm.phone, "code": code}, creates=False).body
        self.token, member = signed_in["access_token"], signed_in["member"]
        self.member_id, self.balance = member["member_id"], member["points"]["balance"]
        self.demo.remember_referral_code(self.pm.index, member["referral_code"])
        if profile.address:
            # A complete profile: the email confirmed with the code sent to it, an address, preferences.
            if profile.email and member.get("pending_email") == profile.email:
                email_code = self.demo.outbox.code_for(profile.email, mark)
                self.api.call("POST", "/v1/me/email/verify", {"code": email_code}, token=self.token, creates=False)
            body = {"address": profile.address, "preferences": list(profile.preferences)}
            self.api.call("PATCH", "/v1/me", body, token=self.token, creates=False)

    def _who(self, by_phone: bool) -> dict[str, str]:
        return {"phone": self.pm.phone} if by_phone or self.member_id is None else {"member_id": self.member_id}

    def _purchase(self, e: Purchase) -> None:
        who = self._who(e.by_phone)
        if e.payment_id:
            body = {"payment_id": e.payment_id, **who, "amount": e.amount, "currency": CURRENCY, "store_id": e.store_id}
            self.api.call("POST", "/v1/wallet/payments", body, merchant=True)
        body = {"order_id": e.order_id, **who, "amount": e.amount, "currency": CURRENCY, "store_id": e.store_id, "occurred_at": e.at.isoformat()}
        try:
            reply = self.api.call("POST", "/v1/purchases", body, merchant=True).body
        except ApiError as exc:
            if exc.code == "idempotency_conflict":
                return  # reported by a run whose history ended on another day: it is there already
            raise
        self.member_id, self.balance = reply["member_id"], reply["balance"]

    def _refund(self, e: Refund) -> None:
        if e.payment_id:
            self.api.call("POST", f"/v1/wallet/payments/{e.payment_id}/refunds", {"refund_id": e.refund_id, "amount": e.amount}, merchant=True)
        reply = self.api.call("POST", f"/v1/purchases/{e.order_id}/refunds", {"refund_id": e.refund_id, "amount": e.amount}, merchant=True)
        if reply.body["balance"] is not None:
            self.balance = reply.body["balance"]

    def _top_up(self, e: TopUp) -> None:
        body = {"topup_id": e.topup_id, **self._who(False), "amount": e.amount, "currency": CURRENCY, "store_id": e.store_id}
        self.api.call("POST", "/v1/wallet/topups", body, merchant=True)

    def _redeem(self, e: Redemption) -> None:
        """The first reward of the member's preferences they can afford, and its coupon used at the till."""
        for reward_id in e.preferences:
            if REWARD_BY_ID[reward_id].points_cost > self.balance:
                continue
            try:
                reply = self.api.call("POST", "/v1/me/redemptions", {"reward_id": reward_id}, token=self.token, key=e.key).body
            except ApiError as exc:
                if exc.code == "out_of_stock":
                    continue
                if exc.code in ("insufficient_points", "idempotency_conflict"):  # the latter: redeemed by an earlier run
                    return
                raise
            self.balance = reply["balance"]
            use = {"redemption_id": e.use_id, "store_id": e.store_id}
            self.api.call("POST", f"/v1/coupons/{reply['coupon']['code']}/redemptions", use, merchant=True)
            return

    def _feedback(self, e: Feedback) -> None:
        body = {"category": e.category, "text": e.text, **({"order_id": e.order_id} if e.order_id else {})}
        feedback = self.api.call("POST", "/v1/me/feedback", body, token=self.token, key=e.key).body
        if e.answer:
            path = f"/v1/admin/feedback/{feedback['feedback_id']}/answer"
            self.api.call("POST", path, {"text": e.answer}, operator=True, creates=False)

    def _freeze(self, e: Freeze) -> None:
        try:
            self.api.call("POST", f"/v1/admin/members/{self.member_id}/freeze", {"reason": e.reason}, operator=True, creates=False)
        except ApiError as exc:
            if exc.code != "invalid_state":  # frozen already
                raise
