"""What the demo makes, decided before a single request: every member, their
profile and their few months at the café chain, from a seed. Pure.

Member `i`'s plan depends only on the seed, `i` and the anchor (the moment the
history ends), never on how many members are asked for: `MEMBERS=50` and then
`MEMBERS=300` make the same first 50. Every write carries an id derived from
the seed and the member's index (order, refund, top-up, payment and coupon-use
ids, idempotency keys), so sending a plan again makes nothing twice.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from .cafe import DISTRICTS, DRINKS, ENGLISH_NAMES, FEEDBACK, FOOD, GIVEN_NAMES, MAIL_DOMAINS, PREFERENCES, RETAIL, STORE_BY_ID, STORES, SURNAMES

HISTORY_DAYS = 120  # "a few months" of purchases before the anchor
LAPSED_AFTER_DAYS = 80  # a lapsed member's last purchase is at least this long before the anchor

Kind = Literal["showcase", "regular", "silver", "gold", "lapsed", "newcomer", "pending", "frozen"]
# The first members are one of each, so even a tiny demo shows every kind; then by weight.
FIRST_KINDS: tuple[Kind, ...] = ("showcase", "gold", "silver", "pending", "lapsed", "newcomer", "frozen")
KIND_WEIGHTS: dict[Kind, float] = {"regular": 0.55, "silver": 0.17, "gold": 0.04, "lapsed": 0.11, "newcomer": 0.06, "pending": 0.07}
SIGNED_UP: frozenset[Kind] = frozenset({"showcase", "regular", "silver", "gold", "lapsed", "newcomer", "frozen"})
# The tier each kind's purchases reach (the program decides; these are the plan's margins, below).
EXPECTED_TIER: dict[Kind, str] = {
    "showcase": "silver",
    "regular": "member",
    "silver": "silver",
    "gold": "gold",
    "lapsed": "member",
    "newcomer": "member",
    "pending": "member",
    "frozen": "member",
}
# Spend bounds (fen) that keep each kind in its tier whatever the multipliers of the day (a birthday
# doubles points): member < 2,000 points even doubled; silver >= 2,000 and < 10,000 at x2.5;
# gold >= 10,000 at x1 (default rules: 1 point per yuan, silver 2,000, gold 10,000).
REGULAR_MAX_SPEND = 90_000
SILVER_MIN_SPEND, SILVER_MAX_SPEND = 230_000, 360_000
GOLD_MIN_SPEND = 1_100_000
MOBILE_PREFIXES = (130, 131, 132, 135, 136, 137, 138, 150, 151, 152, 155, 156, 158, 159, 177, 182, 185, 186, 188, 189)


@dataclass(frozen=True)
class Purchase:
    """Reported by the till; paid from the wallet first when `payment_id` is set."""

    order_id: str
    store_id: str
    amount: int
    at: datetime
    by_phone: bool
    payment_id: str | None = None


@dataclass(frozen=True)
class Refund:
    """Of (part of) an order; of its wallet payment too when it was paid from the wallet."""

    order_id: str
    refund_id: str
    amount: int
    at: datetime
    payment_id: str | None = None


@dataclass(frozen=True)
class TopUp:
    topup_id: str
    store_id: str
    amount: int
    at: datetime


@dataclass(frozen=True)
class Redemption:
    """The member spends points on the first of `preferences` they can afford, then uses the coupon at the till."""

    key: str
    preferences: tuple[str, ...]
    at: datetime
    use_id: str
    store_id: str


@dataclass(frozen=True)
class Feedback:
    key: str
    category: str
    text: str
    order_id: str | None
    answer: str | None
    at: datetime


@dataclass(frozen=True)
class Freeze:
    reason: str
    at: datetime


Event = Purchase | Refund | TopUp | Redemption | Feedback | Freeze


@dataclass(frozen=True)
class Profile:
    name: str
    email: str | None
    birthday: date | None
    gender: str | None
    consents: dict[str, bool]
    address: dict[str, str] | None = None  # with preferences and a confirmed email: the profile is complete
    preferences: tuple[str, ...] = ()

    def signup_body(self, phone: str, referral_code: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"phone": phone, "name": self.name, "consents": self.consents}
        if self.email:
            body["email"] = self.email
        if self.birthday:
            body["birthday"] = self.birthday.isoformat()
        if self.gender:
            body["gender"] = self.gender
        if referral_code:
            body["referral_code"] = referral_code
        return body


@dataclass(frozen=True)
class PlannedMember:
    index: int
    kind: Kind
    phone: str  # E.164
    home_store: str
    profile: Profile | None  # None: never signs up (enrolled `pending` by a purchase)
    referrer: int | None  # the index of the member whose referral code they sign up with
    events: tuple[Event, ...]  # in the order they are sent

    @property
    def signs_up(self) -> bool:
        return self.profile is not None

    @property
    def purchases(self) -> tuple[Purchase, ...]:
        return tuple(e for e in self.events if isinstance(e, Purchase))

    @property
    def final_order_id(self) -> str | None:
        """The purchase sent last: once it is in the member's ledger, the member is complete."""
        purchases = self.purchases
        return purchases[-1].order_id if purchases else None

    @property
    def lapsed(self) -> bool:
        return self.kind == "lapsed"


@dataclass(frozen=True)
class Plan:
    seed: int
    anchor: datetime  # the history ends here (the first run's start, kept by the stack: see run.py)
    members: tuple[PlannedMember, ...]
    order_store: dict[str, str] = field(repr=False)

    @property
    def first_day(self) -> date:
        return (self.anchor - timedelta(days=HISTORY_DAYS)).date()


def make_plan(seed: int, members: int, anchor: datetime, zone: ZoneInfo) -> Plan:
    """The whole demo for `members` members, deterministic in (seed, anchor)."""
    anchor = anchor.astimezone(zone)
    phones: set[str] = set()
    kinds: list[Kind] = []
    planned = []
    for i in range(members):
        rng = _rng(seed, i)
        kind = FIRST_KINDS[i] if i < len(FIRST_KINDS) else _weighted_kind(rng)
        kinds.append(kind)
        phone = _phone(seed, i, phones)
        planned.append(_member(seed, i, kind, phone, rng, anchor, kinds))
    order_store = {p.order_id: p.store_id for m in planned for p in m.purchases}
    return Plan(seed=seed, anchor=anchor, members=tuple(planned), order_store=order_store)


def _rng(*parts: object) -> random.Random:
    """A generator for one member's part of the plan: the same parts, the same numbers (not secrets)."""
    return random.Random(":".join(["huiyuan-demo", *map(str, parts)]))  # noqa: S311


def _weighted_kind(rng: random.Random) -> Kind:
    kinds = list(KIND_WEIGHTS)
    return rng.choices(kinds, [KIND_WEIGHTS[k] for k in kinds])[0]


def _phone(seed: int, i: int, taken: set[str]) -> str:
    rng = _rng(seed, "phone", i)
    while True:
        phone = f"+86{rng.choice(MOBILE_PREFIXES)}" + "".join(rng.choice("0123456789") for _ in range(8))
        if phone not in taken:
            taken.add(phone)
            return phone


class _Builder:
    """One member's history, event by event, with the ids the till and the app would use."""

    def __init__(self, seed: int, i: int, rng: random.Random, anchor: datetime, home: str, by_phone_share: float) -> None:
        self.seed, self.i, self.rng, self.anchor, self.home = seed, i, rng, anchor, home
        self.by_phone_share = by_phone_share
        self.events: list[Event] = []
        self.visits: list[tuple[datetime, int, str]] = []
        self.top_ups: dict[int, int] = {}
        self.n = 0
        self.wallet = 0

    def _id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}-{self.seed}-{self.i:04d}-{self.n:02d}"

    def moment(self, days_ago: int) -> datetime:
        """A time the café is open, `days_ago` days before the anchor (busier in the morning)."""
        hour = self.rng.choices(range(7, 21), weights=(6, 9, 8, 5, 4, 5, 5, 4, 3, 3, 2, 2, 1, 1))[0]
        minute = self.rng.randrange(0, 60)
        day = self.anchor.date() - timedelta(days=days_ago)
        return datetime.combine(day, time(hour, minute), self.anchor.tzinfo)

    def store(self) -> str:
        if self.rng.random() < 0.8:
            return self.home
        return self.rng.choice([s.store_id for s in STORES if s.store_id != self.home])

    def basket(self) -> int:
        drinks = self.rng.choices((1, 2, 3), weights=(70, 25, 5))[0]
        amount = sum(self.rng.choice(DRINKS) for _ in range(drinks))
        return amount + (self.rng.choice(FOOD) if self.rng.random() < 0.45 else 0)

    def visit_days(self, n: int, oldest: int, newest: int) -> list[int]:
        return sorted(self.rng.sample(range(newest, oldest + 1), min(n, oldest - newest + 1)), reverse=True)

    def visit(self, at: datetime, amount: int, store: str | None = None) -> int:
        """A purchase to make; `settle` turns the visits into purchases in time order."""
        self.visits.append((at, amount, store or self.store()))
        return amount

    def top_up_before(self, nth: int, amount: int) -> None:
        """A top-up at the till just before the member's `nth` visit (in time order)."""
        self.top_ups[nth] = amount

    def settle(self) -> None:
        """The visits as purchases, in time order: each paid from the wallet when it covers it."""
        for n, (at, amount, store) in enumerate(sorted(self.visits)):
            if n in self.top_ups:
                self.events.append(TopUp(self._id("TU"), self.home, self.top_ups[n], at - timedelta(minutes=1)))
                self.wallet += self.top_ups[n]
            self._purchase(at, amount, store)
        self.visits.clear()

    def _purchase(self, at: datetime, amount: int, store: str) -> None:
        prefix = STORE_BY_ID[store].order_prefix
        payment_id = None
        if self.wallet >= amount:
            payment_id = self._id("PAY")
            self.wallet -= amount
        by_phone = self.rng.random() < self.by_phone_share
        self.events.append(Purchase(self._id(prefix), store, amount, at, by_phone, payment_id))

    def refund(self, purchase: Purchase, *, whole: bool) -> None:
        amount = purchase.amount if whole else max(100, purchase.amount // 200 * 100)
        if purchase.payment_id:
            self.wallet += amount
        self.events.append(Refund(purchase.order_id, self._id("RF"), amount, purchase.at + timedelta(hours=2), purchase.payment_id))

    def redeem(self, at: datetime, preferences: tuple[str, ...]) -> None:
        self.events.append(Redemption(self._id("demo-rdm"), preferences, at + timedelta(minutes=5), self._id("CU"), self.home))

    def feedback(self, purchase: Purchase, choice: int | None = None) -> None:
        category, text, answer = FEEDBACK[choice if choice is not None else self.rng.randrange(len(FEEDBACK))]
        order_id = purchase.order_id if self.rng.random() < 0.6 else None
        text = text.format(store=STORE_BY_ID[purchase.store_id].short_name)
        self.events.append(Feedback(self._id("demo-fb"), category, text, order_id, answer, purchase.at + timedelta(hours=3)))

    def ordered(self) -> tuple[Event, ...]:
        """By time, except that the last purchase goes last: its presence marks the member complete."""
        events = sorted(self.events, key=lambda e: e.at)
        purchases = [e for e in events if isinstance(e, Purchase)]
        if purchases:
            events.remove(purchases[-1])
            events.append(purchases[-1])
        return tuple(events)


def _member(seed: int, i: int, kind: Kind, phone: str, rng: random.Random, anchor: datetime, kinds: list[Kind]) -> PlannedMember:
    home = rng.choices([s.store_id for s in STORES], [s.weight for s in STORES])[0]
    b = _Builder(seed, i, rng, anchor, home, by_phone_share=1.0 if kind == "pending" else 0.2)
    profile = None if kind == "pending" else _profile(i, kind, rng, anchor)
    referrer = None
    if kind in ("regular", "silver", "newcomer") and i >= len(FIRST_KINDS) and rng.random() < 0.1:
        friends = [j for j in range(i) if kinds[j] in ("showcase", "regular", "silver", "gold")]
        referrer = rng.choice(friends)

    if kind == "pending":
        for days in b.visit_days(rng.randint(1, 2), 60, 1):
            b.visit(b.moment(days), b.basket())
    elif kind == "newcomer":
        if rng.random() < 0.5:
            b.visit(b.moment(rng.randint(1, 10)), b.basket())
    elif kind == "lapsed":
        for days in b.visit_days(rng.randint(2, 4), HISTORY_DAYS, LAPSED_AFTER_DAYS):
            b.visit(b.moment(days), b.basket())
    elif kind in ("regular", "frozen"):
        _regular(b, wallet=kind == "regular" and rng.random() < 0.25)
    elif kind in ("silver", "showcase"):
        _silver(b, wallet=kind == "showcase" or rng.random() < 0.45)
    elif kind == "gold":
        _gold(b, wallet=rng.random() < 0.5)
    b.settle()

    # What members do with their points, what they tell the chain, what the till gives back.
    if kind == "regular" and rng.random() < 0.35:
        b.redeem(_later_purchase(b).at, ("qh-americano", "qh-croissant"))
    elif kind in ("silver", "showcase"):
        for _ in range(1 if kind == "showcase" else rng.randint(1, 2)):
            b.redeem(_later_purchase(b).at, ("qh-latte", "qh-beans", "qh-americano"))
    elif kind == "gold":
        for _ in range(2):
            b.redeem(_later_purchase(b).at, ("qh-tumbler", "qh-beans", "qh-latte"))
    feedback_share = {"showcase": 1.0, "regular": 0.1, "silver": 0.15, "gold": 0.2}.get(kind, 0.0)
    if rng.random() < feedback_share:
        b.feedback(_visit(b), choice=0 if kind == "showcase" else None)
    refund_share = {"showcase": 1.0, "regular": 0.08, "frozen": 0.08, "silver": 0.1}.get(kind, 0.0)
    if rng.random() < refund_share:
        # Never a silver member's big order: the plan's spend margins hold for tiers.
        b.refund(_visit(b, small=True, from_wallet=kind == "showcase"), whole=kind != "showcase" and rng.random() < 0.5)

    events = b.ordered()
    if kind == "frozen":
        last = max((e.at for e in events), default=anchor - timedelta(days=1))
        events += (Freeze(f"Ticket QH-{seed}-{i:04d}: one membership used at the till by several people", last + timedelta(hours=1)),)
    return PlannedMember(i, kind, phone, home, profile, referrer, events)


def _regular(b: _Builder, *, wallet: bool) -> None:
    days = b.visit_days(b.rng.randint(3, 8), HISTORY_DAYS, 1)
    amounts = [b.basket() for _ in days]
    while sum(amounts) > REGULAR_MAX_SPEND and len(amounts) > 3:
        amounts.pop()
        days.pop()
    for day, amount in zip(days, amounts, strict=True):
        b.visit(b.moment(day), amount)
    if wallet:
        b.top_up_before(b.rng.randrange(len(days)), b.rng.choice((20_000, 30_000, 50_000)))


def _silver(b: _Builder, *, wallet: bool) -> None:
    days = b.visit_days(b.rng.randint(8, 12), HISTORY_DAYS, 1)
    total = sum(b.visit(b.moment(day), b.basket()) for day in days)
    # Beans, gift boxes and the team's coffee order: what lifts a regular to silver.
    while total < SILVER_MIN_SPEND:
        amount = b.rng.choice(RETAIL) * b.rng.randint(1, 3) if b.rng.random() < 0.5 else b.rng.randrange(40_000, 90_001, 100)
        total += b.visit(b.moment(b.rng.randint(1, HISTORY_DAYS)), min(amount, SILVER_MAX_SPEND - total), b.home)
    if wallet:
        b.top_up_before(b.rng.randrange(len(b.visits) // 2), b.rng.choice((50_000, 100_000)))


def _gold(b: _Builder, *, wallet: bool) -> None:
    days = b.visit_days(b.rng.randint(6, 10), HISTORY_DAYS, 1)
    total = sum(b.visit(b.moment(day), b.basket()) for day in days)
    # Office catering and events, billed to a member's account: what makes a café's gold member.
    while total < GOLD_MIN_SPEND:
        total += b.visit(b.moment(b.rng.randint(1, HISTORY_DAYS)), b.rng.randrange(120_000, 240_001, 100), b.home)
    if wallet:
        b.top_up_before(b.rng.randrange(len(b.visits) // 2), b.rng.choice((200_000, 300_000)))


def _earlier_purchases(b: _Builder) -> list[Purchase]:
    """The member's purchases but the last: what happens after one (a refund, a redemption,
    feedback on it) must come before the last purchase, which marks the member complete."""
    return sorted((e for e in b.events if isinstance(e, Purchase)), key=lambda e: e.at)[:-1]


def _visit(b: _Builder, *, small: bool = False, from_wallet: bool = False) -> Purchase:
    """One of the member's purchases but the last (`small`: an ordinary café visit, not a big
    order; `from_wallet`: paid from the wallet)."""
    purchases = _earlier_purchases(b)
    fits = [e for e in purchases if (not small or e.amount <= 20_000) and (not from_wallet or e.payment_id)]
    return b.rng.choice(fits or purchases)


def _later_purchase(b: _Builder) -> Purchase:
    """A purchase in the latter part of the member's history: points have piled up by then."""
    purchases = _earlier_purchases(b)
    return b.rng.choice(purchases[len(purchases) // 2 :])


def _profile(i: int, kind: Kind, rng: random.Random, anchor: datetime) -> Profile:
    if i == 0:
        return Profile(
            name="张伟",
            email="zhangwei@example.com",
            birthday=date(1990, 5, 4),
            gender="male",
            consents={"sms_marketing": True, "email_marketing": True, "push": True},
            address={"country": "CN", "province": "上海市", "city": "上海市", "district": "静安区", "street": "南京西路1266号"},
            preferences=("oat-milk", "pour-over"),
        )
    if rng.random() < 0.06:
        name = rng.choice(ENGLISH_NAMES)
        mailbox = name.lower().replace(" ", ".")
    else:
        (surname, s_pinyin), (given, g_pinyin) = rng.choice(SURNAMES), rng.choice(GIVEN_NAMES)
        name, mailbox = surname + given, s_pinyin + g_pinyin
    email = f"{mailbox}{rng.randint(1, 999)}@{rng.choice(MAIL_DOMAINS)}" if rng.random() < 0.4 else None
    complete = email is not None and kind not in ("newcomer", "lapsed") and rng.random() < 0.6
    birthday = None
    if complete or rng.random() < 0.75:
        born = anchor.year - rng.randint(18, 60)
        birthday = date(born, 1, 1) + timedelta(days=rng.randrange(365))
    gender = rng.choices(("female", "male", "undisclosed"), (50, 42, 8))[0] if complete or rng.random() < 0.9 else None
    consents = {
        "sms_marketing": rng.random() < 0.6,
        "email_marketing": email is not None and rng.random() < 0.3,
        "push": rng.random() < 0.35,
    }
    address = None
    preferences: tuple[str, ...] = ()
    if complete:
        district, street = rng.choice(DISTRICTS)
        address = {"country": "CN", "province": "上海市", "city": "上海市", "district": district, "street": street}
        preferences = tuple(rng.sample(PREFERENCES, rng.randint(1, 3)))
    return Profile(name, email, birthday, gender, consents, address, preferences)
