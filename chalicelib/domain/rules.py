"""The program rules document: what operators tune without a deploy.

Defaults live here; in the cloud the live copy is a JSON document in SSM
Parameter Store (see `store/parameters.py`), validated by this model on read
and before every save.
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, field_validator, model_validator


class Tier(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    name: str
    threshold: int = Field(ge=0, description="points earned in the qualifying window")
    multiplier: Decimal = Field(gt=0, le=10)


class Promotion(BaseModel):
    """A dated earn multiplier (e.g. double points on member day), applied at purchase."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    name: str = Field(min_length=1, max_length=100)
    starts_on: date
    ends_on: date  # inclusive
    multiplier: Decimal = Field(gt=0, le=10)
    weekdays: tuple[int, ...] = ()  # ISO weekdays 1..7 it applies on; empty: every day

    @model_validator(mode="after")
    def _dates_in_order(self) -> Promotion:
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on must not be before starts_on")
        if any(d < 1 or d > 7 for d in self.weekdays):
            raise ValueError("weekdays are ISO weekdays 1 (Monday) to 7 (Sunday)")
        return self


class TagDefinition(BaseModel):
    """A tag operators may put on members (domain/tags.py): a category the brand declares, such
    as `vip` or `staff`, never free text about one person."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    name: str = Field(min_length=1, max_length=50, description="what operators see, in any language")


CHANNELS = ("store", "online", "app")
PERIODS = ("week", "month", "year")
_RULE_ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_CODE = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$"
# Ids of the built-in rules (domain/earn_rules.py; promotions are `promotion:<id>`): an
# operator's rule may not take them.
BUILT_IN_RULE_IDS = frozenset({"base", "tier", "birthday"})
MAX_STAMP_CARDS = 10


class EarnConditions(BaseModel):
    """When an earn rule applies. Every field given must hold (AND); a list matches any of its
    values (OR); an empty list or null does not restrict. `skus` / `categories` select the
    purchase's lines the effect applies to; the rest are about the order and the member."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stores: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    payment_methods: tuple[str, ...] = ()
    skus: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    weekdays: tuple[int, ...] = ()  # ISO 1 (Monday) .. 7 (Sunday), in the program time zone
    starts_on: date | None = None  # inclusive
    ends_on: date | None = None  # inclusive
    from_time: time | None = None  # local time of day, inclusive
    until_time: time | None = None  # exclusive; before from_time: the window runs past midnight
    min_spend: int = Field(default=0, ge=0, description="minor units of the qualifying lines (the order amount without items)")
    tiers: tuple[str, ...] = ()
    tags: tuple[str, ...] = Field(default=(), description="the member's operator tags (any of), declared in member_tags")

    @model_validator(mode="after")
    def _consistent(self) -> EarnConditions:
        if any(d < 1 or d > 7 for d in self.weekdays):
            raise ValueError("weekdays are ISO weekdays 1 (Monday) to 7 (Sunday)")
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValueError("ends_on must not be before starts_on")
        if (self.from_time is None) != (self.until_time is None):
            raise ValueError("give both from_time and until_time, or neither")
        if self.from_time is not None and self.from_time == self.until_time:
            raise ValueError("from_time and until_time must differ")
        unknown = [c for c in self.channels if c not in CHANNELS]
        if unknown:
            raise ValueError(f"unknown channels {unknown}: use {list(CHANNELS)}")
        return self

    @property
    def selects_lines(self) -> bool:
        return bool(self.skus or self.categories)


class EarnEffect(BaseModel):
    """What an earn rule gives; exactly one of:
    - `multiplier`: multiplies the base points of the qualifying lines (stacks by multiplying);
    - `points_per_unit`: extra points per currency unit (100 minor units) of the qualifying lines;
    - `points_per_item`: extra points per qualifying item (quantity);
    - `bonus`: fixed points once per qualifying order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    multiplier: Decimal | None = Field(default=None, gt=0, le=10)
    points_per_unit: Decimal | None = Field(default=None, gt=0, le=1000)
    points_per_item: int | None = Field(default=None, gt=0, le=1_000_000)
    bonus: int | None = Field(default=None, gt=0, le=10_000_000)

    @model_validator(mode="after")
    def _exactly_one(self) -> EarnEffect:
        given = [name for name in ("multiplier", "points_per_unit", "points_per_item", "bonus") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of multiplier, points_per_unit, points_per_item, bonus")
        return self

    @property
    def kind(self) -> str:
        return next(n for n in ("multiplier", "points_per_unit", "points_per_item", "bonus") if getattr(self, n) is not None)


class EarnLimits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_points_per_order: int | None = Field(default=None, ge=0)
    max_points_per_member_per_day: int | None = Field(default=None, ge=0)
    max_points_per_member_per_period: int | None = Field(default=None, ge=0)
    period: str = Field(default="month", description="week (ISO), month or year, in the program time zone")

    @field_validator("period")
    @classmethod
    def _known_period(cls, value: str) -> str:
        if value not in PERIODS:
            raise ValueError(f"period is one of {list(PERIODS)}")
        return value

    @property
    def per_member(self) -> bool:
        return self.max_points_per_member_per_day is not None or self.max_points_per_member_per_period is not None


class EarnRule(BaseModel):
    """One earn rule (docs/earn-rules.md): conditions, one effect, stacking, limits, a budget."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_RULE_ID)
    label: str = Field(min_length=1, max_length=100, description="what members read in their breakdown")
    active: bool = True
    conditions: EarnConditions = EarnConditions()
    effect: EarnEffect
    priority: int = Field(default=100, ge=0, le=10_000, description="lower first; breaks ties in an exclusive group")
    exclusive_group: str | None = Field(default=None, pattern=_RULE_ID)
    limits: EarnLimits = EarnLimits()
    budget: int | None = Field(default=None, ge=1, le=10**12, description="total points the rule may ever give")

    @field_validator("id")
    @classmethod
    def _not_built_in(cls, value: str) -> str:
        if value in BUILT_IN_RULE_IDS:
            raise ValueError(f"{value!r} is the id of a built-in rule")
        return value


class StampCard(BaseModel):
    """A stamp card (集点卡, domain/stamps.py): each qualifying item of a purchase reported with
    items earns `stamps_per_item` stamps; at `stamps_needed` the member gets a coupon for
    `reward_id` and the card starts again with what is left over."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_RULE_ID)
    name: str = Field(min_length=1, max_length=100, description="what members see")
    active: bool = Field(default=True, description="false: purchases add no stamps; the stamps kept stay")
    categories: tuple[str, ...] = ()
    skus: tuple[str, ...] = ()
    stamps_needed: int = Field(ge=2, le=1000, description="stamps that make one reward coupon")
    reward_id: str = Field(min_length=1, max_length=64, description="a reward of the catalogue: its coupon is issued at stamps_needed")
    stamps_per_item: int = Field(default=1, ge=1, le=100)
    max_stamps_per_order: int | None = Field(default=None, ge=1, le=10_000)

    @model_validator(mode="after")
    def _selects_items(self) -> StampCard:
        if not self.categories and not self.skus:
            raise ValueError("a stamp card names the categories and/or skus that earn stamps")
        return self


class EarnExclusions(BaseModel):
    """Lines that never earn, whatever the rules say."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    categories: tuple[str, ...] = ("stored_value", "gift_card")
    skus: tuple[str, ...] = ()
    discounted_lines_earn: bool = Field(default=True, description="false: a line with its own discount earns nothing")


def _can_overlap(a: EarnConditions, b: EarnConditions) -> bool:
    """Whether some purchase could meet both: conservative (true unless a dimension both restrict is disjoint)."""
    for left, right in (
        (a.stores, b.stores),
        (a.channels, b.channels),
        (a.payment_methods, b.payment_methods),
        (a.weekdays, b.weekdays),
        (a.tiers, b.tiers),
    ):
        if left and right and not set(left) & set(right):
            return False
    # Skus, categories and times of day are not compared: one basket can hold lines of both
    # rules, and a window check would need the time zone; an overlap there is assumed.
    lo = max(a.starts_on or date.min, b.starts_on or date.min)
    hi = min(a.ends_on or date.max, b.ends_on or date.max)
    return lo <= hi


class TopupBonus(BaseModel):
    """Top up at least `min_amount` (minor units) and get `bonus` added to the wallet."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_amount: int = Field(gt=0)
    bonus: int = Field(gt=0)


class PendingHold(BaseModel):
    """Hold a purchase's points pending for a return window (domain/pending.py): `hold_days` after
    the purchase day (program time zone) they become available. `channel` None: the default hold
    for every channel without its own (and for purchases that name no channel)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: Literal["store", "online", "app"] | None = None
    hold_days: int = Field(ge=1, le=365)


class MembershipPlan(BaseModel):
    """A paid membership (付费会员): pay `fee` (money, minor units of `currency`; never points) and hold
    `tier` for a period of `period_months` or `period_days` (exactly one), renewable while it runs,
    refundable within `refund_window_days` of the purchase (domain/plans.py, docs/plans.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    name: str = Field(min_length=1, max_length=100)
    fee: StrictInt = Field(gt=0, le=10**12, description="minor units of `currency` (an integer: never a float)")
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    period_months: int | None = Field(default=None, ge=1, le=120)
    period_days: int | None = Field(default=None, ge=1, le=3660)
    tier: str = Field(description="a tier id of the program: the floor the plan grants while it runs")
    refund_window_days: int = Field(default=7, ge=0, le=365, description="days after the purchase it may be refunded (0: same day only)")
    reminder_days_before_end: int = Field(default=7, ge=0, le=365, description="0: no reminder")
    on_sale: bool = Field(default=True, description="false: members keep what they bought, nobody buys or renews it")

    @model_validator(mode="after")
    def _one_period(self) -> MembershipPlan:
        if (self.period_months is None) == (self.period_days is None):
            raise ValueError("give exactly one of period_months or period_days")
        return self


class CodeSendLimits(BaseModel):
    """How many verification codes may be sent (each SMS costs the brand money). Every code
    request counts, whether or not a code goes out, so the answers never tell who is a member."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_client_per_minute: int = Field(default=10, ge=1, le=100_000, description="from one client address")
    per_client_per_day: int = Field(default=200, ge=1, le=10_000_000)
    per_recipient_per_day: int = Field(default=10, ge=1, le=1000, description="to one phone or email")
    total_per_minute: int = Field(default=300, ge=1, le=1_000_000, description="the whole program")
    total_per_day: int = Field(default=20_000, ge=1, le=100_000_000)


CHECK_IN = "check_in"  # the daily check-in's ledger kind; no action rule may take it as its type


class ActionRule(BaseModel):
    """Points for an action a store backend reports (a product review, a share, a survey...):
    `type` is the identifier the report names (usecases/actions.py, docs/actions.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    label: str = Field(min_length=1, max_length=100, description="what the member sees, in words")
    points: int = Field(ge=1, le=1_000_000)
    max_per_member_per_day: int = Field(ge=1, le=1000, description="awarded actions of this type per member per program-time day")
    max_per_member_per_period: int | None = Field(default=None, ge=1, le=100_000, description="and per calendar `period`; none: no such limit")
    period: Literal["week", "month", "year"] = "month"

    @model_validator(mode="after")
    def _not_the_check_in(self) -> ActionRule:
        if self.type == CHECK_IN:
            raise ValueError("the daily check-in has its own rule (check_in), not an action rule")
        return self


class CheckInRule(BaseModel):
    """The member's daily check-in (签到) from the app: `points` each program-time day, and on
    the day a run of consecutive days reaches a `streak_bonuses` key, that bonus too. Off (the
    default) while it would award nothing: no points and no bonuses."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    points: int = Field(default=0, ge=0, le=100_000)
    streak_bonuses: dict[int, int] = Field(default_factory=dict, description="consecutive days -> bonus points on the day the streak reaches them")

    @field_validator("streak_bonuses")
    @classmethod
    def _sensible_bonuses(cls, value: dict[int, int]) -> dict[int, int]:
        if len(value) > 20:
            raise ValueError("at most 20 streak bonuses")
        if any(days < 2 or days > 3650 for days in value):
            raise ValueError("a streak bonus is for 2 to 3650 consecutive days")
        if any(points < 1 or points > 1_000_000 for points in value.values()):
            raise ValueError("a streak bonus is 1 to 1000000 points")
        return dict(sorted(value.items()))

    @property
    def enabled(self) -> bool:
        return self.points > 0 or bool(self.streak_bonuses)


class TransferRules(BaseModel):
    """Points transfer between members (转赠, docs/transfers.md): off by default. Limits are in
    points; `max_points_per_day` and `max_transfers_per_day` count what a member sent on one
    program-time day; `min_balance_kept` is what the sender must still hold afterwards."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    min_points: int = Field(default=1, ge=1, le=10_000_000, description="the least one transfer may move")
    max_points: int = Field(default=10_000, ge=1, le=10_000_000, description="the most one transfer may move")
    max_points_per_day: int = Field(default=20_000, ge=1, le=100_000_000, description="points a member may send per program-time day")
    max_transfers_per_day: int = Field(default=10, ge=1, le=1000, description="transfers a member may send per program-time day")
    min_balance_kept: int = Field(default=0, ge=0, le=10_000_000, description="the balance the sender must keep after a transfer")
    sender_tiers: tuple[str, ...] = Field(default=(), description="tiers whose members may send; empty: every tier")

    @model_validator(mode="after")
    def _sensible_bounds(self) -> TransferRules:
        if self.min_points > self.max_points:
            raise ValueError("min_points must not exceed max_points")
        if self.max_points > self.max_points_per_day:
            raise ValueError("max_points must not exceed max_points_per_day")
        return self


class WechatTemplate(BaseModel):
    """A WeChat subscription-message template (docs/wechat.md): its id in the mini-program's
    console, the keyword the message text goes into (a `thing` keyword holds 20 characters),
    and the mini-program page the message opens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    template_id: str = Field(min_length=1, max_length=128)
    field: str = Field(default="thing1", pattern=r"^[a-z_]+[0-9]+$")
    page: str | None = Field(default=None, max_length=256)
    max_chars: int = Field(default=20, ge=1, le=200)


class ProgramRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    program_name: str = "Huiyuan"
    timezone: str = "Asia/Shanghai"
    default_region: str = "CN"
    currencies: tuple[str, ...] = ("CNY",)

    # Earning: points = floor(amount / 100 * earn_rate * tier multiplier)
    earn_rate: Decimal = Field(default=Decimal("1"), ge=0, le=1000)
    tiers: tuple[Tier, ...] = (
        Tier(id="member", name="Member", threshold=0, multiplier=Decimal("1.0")),
        Tier(id="silver", name="Silver", threshold=2_000, multiplier=Decimal("1.25")),
        Tier(id="gold", name="Gold", threshold=10_000, multiplier=Decimal("1.5")),
    )
    tier_window_months: int = Field(default=12, ge=1, le=36)

    welcome_points: int = Field(default=100, ge=0)
    points_validity_months: int = Field(default=12, ge=1, le=120, description="lots expire this many months after the end of the month earned")

    # Verification codes and tokens
    code_ttl_seconds: int = Field(default=300, ge=60, le=3600)
    code_max_failures: int = Field(default=5, ge=1, le=20)
    code_failure_window_seconds: int = Field(default=900, ge=60)
    code_resend_seconds: int = Field(default=60, ge=0, le=3600)
    code_send_limits: CodeSendLimits = CodeSendLimits()
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=86_400)

    coupon_valid_days: int = Field(default=30, ge=1, le=3650)

    # Scheduled work
    birthday_points: int = Field(default=200, ge=0)
    birthday_multiplier: Decimal = Field(default=Decimal("2"), ge=1, le=10)
    expiry_reminder_days: tuple[int, ...] = (7, 30)
    reengagement_windows: tuple[int, ...] = (30, 60, 90)
    at_risk_after_days: int = Field(default=60, ge=1)
    dormant_after_days: int = Field(default=90, ge=1)
    new_member_days: int = Field(default=30, ge=1)
    # Analytics (docs/analytics.md): the trailing window of RFM scores, spend, orders and stores.
    analytics_window_months: int = Field(default=12, ge=1, le=36, description="the trailing window of RFM scores, spend and stores in member_facts")
    frequency_cap_messages: int = Field(default=2, ge=0, le=100)
    frequency_cap_days: int = Field(default=7, ge=1, le=90)
    quiet_hours_start: time = time(21, 0)
    quiet_hours_end: time = time(9, 0)
    # WeChat subscription messages (docs/wechat.md): message kind -> template; none by default.
    wechat_templates: dict[str, WechatTemplate] = Field(default_factory=dict, description="message kind -> WeChat subscription template")

    # Member lifecycle, referrals, coupons, promotions (issue 4)
    profile_completion_points: int = Field(default=50, ge=0, description="once, when the optional profile fields are first all filled")
    referrer_points: int = Field(default=200, ge=0, description="to the referrer, on the referred member's first purchase")
    referee_points: int = Field(default=100, ge=0, description="to the referred member, on verification")
    closure_grace_days: int = Field(default=30, ge=0, le=3650, description="closed accounts are erased after this")
    welcome_coupon_reward_id: str | None = Field(default=None, description="a reward whose coupon is issued on first verification")
    birthday_coupon_reward_id: str | None = Field(default=None, description="a reward whose coupon comes with the birthday gift")
    promotions: tuple[Promotion, ...] = ()
    member_tags: tuple[TagDefinition, ...] = Field(default=(), description="the tags operators may put on members")
    # Refunds (issue 14): purchase points held for a return window, and what a refund takes back.
    pending_points: tuple[PendingHold, ...] = Field(default=(), description="hold purchase points pending for a return window, per channel")
    referral_clawback_on_refund: bool = Field(default=False, description="a full refund of a referee's first purchase takes the referrer bonus back")

    # Earn rules (issue 14, docs/earn-rules.md): operators' rules on top of the built-in base,
    # tier, birthday and promotion rules, and the lines that never earn.
    earn_rules: tuple[EarnRule, ...] = ()
    earn_exclusions: EarnExclusions = EarnExclusions()
    topup_bonuses: tuple[TopupBonus, ...] = (
        # top up 500.00, get 50.00
    )
    # Pay-to-join (docs/wechat-pay.md): a store's WeChat Pay sub-merchant id (sub_mchid) -> its
    # store id. Only a mapped store's payments earn; nothing the payer sends names the store.
    wechat_pay_stores: dict[
        Annotated[str, StringConstraints(pattern=r"^[0-9]{1,32}$")], Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
    ] = Field(default_factory=dict, max_length=10_000, description="pay-to-join: WeChat Pay sub_mchid -> store id")
    # Paid membership (issue 14): none by default, selling a tier is the operator's decision.
    plans: tuple[MembershipPlan, ...] = ()

    # Points for actions other than purchases (issue 14 item 8; docs/actions.md)
    action_rules: tuple[ActionRule, ...] = ()
    check_in: CheckInRule = CheckInRule()

    # Stamp cards (issue 14 item 5; docs/earn-rules.md "Stamp card")
    stamp_cards: tuple[StampCard, ...] = Field(default=(), description="stamps for qualifying items, a reward coupon at stamps_needed")

    # Points transfer between members (issue 16 item 5; docs/transfers.md)
    transfers: TransferRules = TransferRules()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        import phonenumbers

        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown phone region {value!r}")
        return value

    @field_validator("currencies")
    @classmethod
    def _iso_currencies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or any(len(c) != 3 or not c.isalpha() or not c.isupper() for c in value):
            raise ValueError("currencies must be ISO 4217 codes like CNY")
        return value

    @field_validator("expiry_reminder_days", "reengagement_windows")
    @classmethod
    def _positive_days(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(d <= 0 or d > 3650 for d in value) or len(set(value)) != len(value):
            raise ValueError("must be distinct day counts from 1 to 3650")
        return tuple(sorted(value))

    @model_validator(mode="after")
    def _tiers_ascend(self) -> ProgramRules:
        thresholds = [t.threshold for t in self.tiers]
        if not self.tiers or thresholds[0] != 0:
            raise ValueError("the first tier must have threshold 0")
        if thresholds != sorted(set(thresholds)):
            raise ValueError("tier thresholds must be strictly increasing")
        if len({t.id for t in self.tiers}) != len(self.tiers):
            raise ValueError("tier ids must be unique")
        return self

    @field_validator("pending_points")
    @classmethod
    def _one_hold_per_channel(cls, value: tuple[PendingHold, ...]) -> tuple[PendingHold, ...]:
        channels = [h.channel for h in value]
        if len(set(channels)) != len(channels):
            raise ValueError("pending_points: at most one hold per channel (and one default hold, without a channel)")
        return value

    @model_validator(mode="after")
    def _tags_unique(self) -> ProgramRules:
        declared = {t.id for t in self.member_tags}
        if len(declared) != len(self.member_tags):
            raise ValueError("member tag ids must be unique")
        undeclared = sorted({tag for rule in self.earn_rules for tag in rule.conditions.tags} - declared)
        if undeclared:
            raise ValueError(f"earn rules name tags not declared in member_tags: {', '.join(undeclared)}")
        return self

    @model_validator(mode="after")
    def _one_rule_per_action(self) -> ProgramRules:
        types = [rule.type for rule in self.action_rules]
        if len(set(types)) != len(types):
            raise ValueError("action_rules: each action type has one rule")
        return self

    @model_validator(mode="after")
    def _plans_fit_the_program(self) -> ProgramRules:
        if len({p.id for p in self.plans}) != len(self.plans):
            raise ValueError("plan ids must be unique")
        tier_ids = {t.id for t in self.tiers}
        for plan in self.plans:
            if plan.tier not in tier_ids:
                raise ValueError(f"plan {plan.id}: tier {plan.tier!r} is not one of the program's tiers")
            if plan.currency not in self.currencies:
                raise ValueError(f"plan {plan.id}: currency {plan.currency} is not one of the program's currencies")
        return self

    def plan(self, plan_id: str) -> MembershipPlan | None:
        return next((p for p in self.plans if p.id == plan_id), None)

    @model_validator(mode="after")
    def _transfer_tiers_known(self) -> ProgramRules:
        unknown = [t for t in self.transfers.sender_tiers if t not in {tier.id for tier in self.tiers}]
        if unknown:
            raise ValueError(f"transfers.sender_tiers names unknown tiers {unknown}")
        return self

    @model_validator(mode="after")
    def _stamp_cards_unique(self) -> ProgramRules:
        ids = [card.id for card in self.stamp_cards]
        if len(set(ids)) != len(ids):
            raise ValueError("stamp card ids must be unique")
        if len(ids) > MAX_STAMP_CARDS:
            raise ValueError(f"at most {MAX_STAMP_CARDS} stamp cards")
        return self

    @model_validator(mode="after")
    def _lockout_outlasts_codes(self) -> ProgramRules:
        # Sign-in judges a code before counting it (usecases/enrolment.verify): while a phone is
        # locked out, a right guess is answered 429 like a wrong one but more slowly. A lockout
        # that ends before the code expires would let that timing be used on the same code.
        if self.code_failure_window_seconds < self.code_ttl_seconds:
            raise ValueError("code_failure_window_seconds must be at least code_ttl_seconds (a lockout outlasts the code it protects)")
        return self

    @model_validator(mode="after")
    def _earn_rules_unambiguous(self) -> ProgramRules:
        ids = [r.id for r in self.earn_rules]
        if len(set(ids)) != len(ids):
            raise ValueError("earn rule ids must be unique")
        tier_ids = {t.id for t in self.tiers}
        for rule in self.earn_rules:
            unknown = [t for t in rule.conditions.tiers if t not in tier_ids]
            if unknown:
                raise ValueError(f"earn rule {rule.id!r} names unknown tiers {unknown}")
        # In an exclusive group the best rule wins, ties going to the lower priority: two rules
        # with one priority that could meet on one purchase would leave the winner to chance.
        active = [r for r in self.earn_rules if r.active and r.exclusive_group]
        for i, a in enumerate(active):
            for b in active[i + 1 :]:
                if a.exclusive_group == b.exclusive_group and a.priority == b.priority and _can_overlap(a.conditions, b.conditions):
                    raise ValueError(
                        f"earn rules {a.id!r} and {b.id!r} are in exclusive group {a.exclusive_group!r} with the same priority "
                        f"{a.priority} and can apply to the same purchase: give them different priorities"
                    )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def base_tier(self) -> Tier:
        return self.tiers[0]

    def tier(self, tier_id: str) -> Tier:
        for tier in self.tiers:
            if tier.id == tier_id:
                return tier
        # A tier removed from the rules: treat its members as the base tier.
        return self.base_tier

    def action_rule(self, action_type: str) -> ActionRule | None:
        return next((rule for rule in self.action_rules if rule.type == action_type), None)

    def tier_rank(self, tier_id: str) -> int:
        return next((i for i, t in enumerate(self.tiers) if t.id == tier_id), 0)

    def effective_tier(self, tier_id: str, override: str | None, plan_tier: str | None = None) -> str:
        """The tier that applies: the best of the tier held, an operator's override and the tier of
        a running paid plan. The override and the plan are floors, never ceilings."""
        best = tier_id
        for floor in (override, plan_tier):
            if floor and self.tier_rank(floor) > self.tier_rank(best):
                best = floor
        return best


DEFAULT_RULES = ProgramRules()
