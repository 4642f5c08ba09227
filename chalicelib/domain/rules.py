"""The program rules document: what operators tune without a deploy.

Defaults live here; in the cloud the live copy is a JSON document in SSM
Parameter Store (see `store/parameters.py`), validated by this model on read
and before every save.
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator


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


class TopupBonus(BaseModel):
    """Top up at least `min_amount` (minor units) and get `bonus` added to the wallet."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_amount: int = Field(gt=0)
    bonus: int = Field(gt=0)


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
    frequency_cap_messages: int = Field(default=2, ge=0, le=100)
    frequency_cap_days: int = Field(default=7, ge=1, le=90)
    quiet_hours_start: time = time(21, 0)
    quiet_hours_end: time = time(9, 0)

    # Member lifecycle, referrals, coupons, promotions (issue 4)
    profile_completion_points: int = Field(default=50, ge=0, description="once, when the optional profile fields are first all filled")
    referrer_points: int = Field(default=200, ge=0, description="to the referrer, on the referred member's first purchase")
    referee_points: int = Field(default=100, ge=0, description="to the referred member, on verification")
    closure_grace_days: int = Field(default=30, ge=0, le=3650, description="closed accounts are erased after this")
    welcome_coupon_reward_id: str | None = Field(default=None, description="a reward whose coupon is issued on first verification")
    birthday_coupon_reward_id: str | None = Field(default=None, description="a reward whose coupon comes with the birthday gift")
    promotions: tuple[Promotion, ...] = ()
    topup_bonuses: tuple[TopupBonus, ...] = (
        # top up 500.00, get 50.00
    )
    # Paid membership (issue 14): none by default, selling a tier is the operator's decision.
    plans: tuple[MembershipPlan, ...] = ()

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
    def _lockout_outlasts_codes(self) -> ProgramRules:
        # Sign-in judges a code before counting it (usecases/enrolment.verify): while a phone is
        # locked out, a right guess is answered 429 like a wrong one but more slowly. A lockout
        # that ends before the code expires would let that timing be used on the same code.
        if self.code_failure_window_seconds < self.code_ttl_seconds:
            raise ValueError("code_failure_window_seconds must be at least code_ttl_seconds (a lockout outlasts the code it protects)")
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
