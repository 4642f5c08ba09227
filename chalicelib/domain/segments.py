"""Segments: a saved definition of which members to reach, over the analytics engine's
`member_facts` (store/analytics_sql.py MEMBER_FACTS_COLUMNS), compiled here to a SQL WHERE.

Every criterion given must hold (AND); a list matches any of its values (OR); a criterion left
out does not restrict (an empty definition is every open member). Days are counted back from the
day of the data (`as_of`, the program-time day of the export), not from the day of the request,
so a preview and the audience written from one build agree.

The compiled text holds only column names and `?` placeholders, written here: every value an
operator gave is a bound parameter, never spliced into the SQL. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, model_validator

from .errors import FieldError, HuiyuanError
from .rules import ProgramRules

LifecycleStage = Literal["new", "active", "at_risk", "dormant"]
ValueSegment = Literal["high_value", "at_risk", "regular", "none"]
Consent = Literal["sms_marketing", "email_marketing", "push"]
TagId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
TierId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
StoreId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$")]
Score = Annotated[StrictInt, Field(ge=1, le=5)]
Days = Annotated[StrictInt, Field(ge=1, le=3650)]
MAX_VALUES = 50
SAMPLE_SIZE = 20


class SegmentError(HuiyuanError):
    """A definition that is well formed but names what the program does not have (a tier or a tag
    not in the rules): 422, nothing saved."""

    status, code, title = 422, "invalid_segment", "The segment names tiers or tags the program does not have"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors

    def extra(self) -> dict[str, object]:
        return {"errors": [{"field": e.field, "message": e.message} for e in self.errors]}


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TagMatch(_Part):
    """Operators' tags (declared in the rules' member_tags): the member has all of `all_of`, at
    least one of `any_of`, none of `none_of`."""

    all_of: Annotated[tuple[TagId, ...], Field(max_length=MAX_VALUES)] = ()
    any_of: Annotated[tuple[TagId, ...], Field(max_length=MAX_VALUES)] = ()
    none_of: Annotated[tuple[TagId, ...], Field(max_length=MAX_VALUES)] = ()

    @model_validator(mode="after")
    def _something(self) -> TagMatch:
        if not (self.all_of or self.any_of or self.none_of):
            raise ValueError("give tags in all_of, any_of or none_of")
        return self

    def named(self) -> set[str]:
        return {*self.all_of, *self.any_of, *self.none_of}


class ScoreRange(_Part):
    """An RFM score from `min` to `max` (1..5, both inclusive); members without scores (no
    purchase in the window) never match."""

    min: Score = 1
    max: Score = 5

    @model_validator(mode="after")
    def _ordered(self) -> ScoreRange:
        if self.min > self.max:
            raise ValueError("min must not be above max")
        return self


class PointsRange(_Part):
    min: Annotated[StrictInt, Field(ge=0)] | None = None
    max: Annotated[StrictInt, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> PointsRange:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not be above max")
        return self


class StoreMatch(_Part):
    """Stores (any of): the member's home store (where most purchases of the window were), or any
    store the member bought at in the window."""

    any_of: Annotated[tuple[StoreId, ...], Field(min_length=1, max_length=MAX_VALUES)]
    where: Literal["home", "bought_at"] = "bought_at"


class LastPurchase(_Part):
    """Exactly one of: bought within the last N days; bought, but not within the last N days;
    never bought (kept purchases: an order refunded in full is no purchase)."""

    within_days: Days | None = None
    not_within_days: Days | None = None
    never: StrictBool | None = None

    @model_validator(mode="after")
    def _one(self) -> LastPurchase:
        given = [v for v in (self.within_days, self.not_within_days, self.never) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of within_days, not_within_days or never")
        if self.never is False:
            raise ValueError("never is true or left out")
        return self


def _date_text(value: object) -> object:
    """A date is `YYYY-MM-DD` text: a number (which pydantic would read as a Unix time) is refused."""
    if not isinstance(value, (str, date)):
        raise ValueError("must be a date as YYYY-MM-DD text")
    return value


class Joined(_Part):
    """Joined within the last N days, or before a date (either or both)."""

    within_days: Days | None = None
    before: Annotated[date, BeforeValidator(_date_text)] | None = None

    @model_validator(mode="after")
    def _something(self) -> Joined:
        if self.within_days is None and self.before is None:
            raise ValueError("give within_days, before or both")
        return self


class SegmentDefinition(_Part):
    """Who is in a segment (docs/analytics.md): every criterion given holds."""

    tiers: Annotated[tuple[TierId, ...], Field(max_length=MAX_VALUES)] = ()
    tags: TagMatch | None = None
    lifecycle_stages: Annotated[tuple[LifecycleStage, ...], Field(max_length=4)] = ()
    value_segments: Annotated[tuple[ValueSegment, ...], Field(max_length=4)] = ()
    r_score: ScoreRange | None = None
    f_score: ScoreRange | None = None
    m_score: ScoreRange | None = None
    birthday_months: Annotated[tuple[Annotated[StrictInt, Field(ge=1, le=12)], ...], Field(max_length=12)] = ()
    store: StoreMatch | None = None
    last_purchase: LastPurchase | None = None
    joined: Joined | None = None
    points_balance: PointsRange | None = None
    consents: Annotated[tuple[Consent, ...], Field(max_length=3, description="the member gave each of these consents")] = ()


def check_against_rules(definition: SegmentDefinition, rules: ProgramRules) -> None:
    """Tiers and tags must be the program's (declared in the rules), or 422 invalid_segment."""
    errors: list[FieldError] = []
    tiers = [t.id for t in rules.tiers]
    unknown_tiers = sorted(set(definition.tiers) - set(tiers))
    if unknown_tiers:
        errors.append(FieldError("tiers", f"not a tier of the program: {', '.join(unknown_tiers)} (tiers: {', '.join(tiers)})"))
    if definition.tags is not None:
        undeclared = sorted(definition.tags.named() - {t.id for t in rules.member_tags})
        if undeclared:
            errors.append(FieldError("tags", f"not a declared tag: {', '.join(undeclared)} (declare tags in the rules' member_tags)"))
    if errors:
        raise SegmentError(errors)


@dataclass(frozen=True)
class Compiled:
    """A WHERE clause over member_facts (`?` placeholders only) and its parameters, in order."""

    where: str
    params: tuple[object, ...]

    def count_sql(self) -> str:
        return f"SELECT count(*) AS size FROM member_facts WHERE {self.where}"

    def sample_sql(self) -> str:
        return (
            "SELECT member_id, tier, lifecycle_stage, value_segment, last_purchase_on FROM member_facts "
            f"WHERE {self.where} ORDER BY member_id LIMIT {SAMPLE_SIZE}"
        )

    def members_sql(self) -> str:
        return f"SELECT member_id FROM member_facts WHERE {self.where} ORDER BY member_id"


_CONSENT_COLUMNS: dict[str, str] = {
    "sms_marketing": "consent_sms_marketing",
    "email_marketing": "consent_email_marketing",
    "push": "consent_push",
}


def _one_of(column: str, values: tuple[object, ...], params: list[object]) -> str:
    params.extend(values)
    return f"{column} IN ({', '.join('?' for _ in values)})"


def _contains(column: str, value: str, params: list[object]) -> str:
    params.append(value)
    return f"contains({column}, ?)"


def _range(column: str, low: int | None, high: int | None, params: list[object]) -> list[str]:
    clauses = []
    if low is not None:
        params.append(low)
        clauses.append(f"{column} >= ?")
    if high is not None:
        params.append(high)
        clauses.append(f"{column} <= ?")
    return clauses


def compile_segment(definition: SegmentDefinition, as_of: date) -> Compiled:
    """The WHERE over member_facts selecting the segment's members in the build of day `as_of`."""
    params: list[object] = []
    clauses: list[str] = []
    d = definition
    if d.tiers:
        clauses.append(_one_of("tier", d.tiers, params))
    if d.tags is not None:
        clauses += [_contains("operator_tags", t, params) for t in d.tags.all_of]
        if d.tags.any_of:
            clauses.append("(" + " OR ".join(_contains("operator_tags", t, params) for t in d.tags.any_of) + ")")
        clauses += [f"NOT {_contains('operator_tags', t, params)}" for t in d.tags.none_of]
    if d.lifecycle_stages:
        clauses.append(_one_of("lifecycle_stage", d.lifecycle_stages, params))
    if d.value_segments:
        clauses.append(_one_of("value_segment", d.value_segments, params))
    for column, score in (("r_score", d.r_score), ("f_score", d.f_score), ("m_score", d.m_score)):
        if score is not None:
            clauses += _range(column, score.min, score.max, params)
    if d.birthday_months:
        clauses.append(_one_of("birthday_month", d.birthday_months, params))
    if d.store is not None:
        if d.store.where == "home":
            clauses.append(_one_of("home_store", d.store.any_of, params))
        else:
            clauses.append("(" + " OR ".join(_contains("stores", s, params) for s in d.store.any_of) + ")")
    if d.last_purchase is not None:
        lp = d.last_purchase
        if lp.never:
            clauses.append("last_purchase_on IS NULL")
        elif lp.within_days is not None:  # fewer than N days ago (0 = the day of the data)
            params.append(as_of - timedelta(days=lp.within_days))
            clauses.append("last_purchase_on > ?")
        elif lp.not_within_days is not None:  # N days ago or longer
            params.append(as_of - timedelta(days=lp.not_within_days))
            clauses.append("last_purchase_on <= ?")
    if d.joined is not None:
        if d.joined.within_days is not None:
            params.append(as_of - timedelta(days=d.joined.within_days))
            clauses.append("joined_on > ?")
        if d.joined.before is not None:
            params.append(d.joined.before)
            clauses.append("joined_on < ?")
    if d.points_balance is not None:
        clauses += _range("points_balance", d.points_balance.min, d.points_balance.max, params)
    clauses += [_CONSENT_COLUMNS[c] for c in d.consents]
    return Compiled(" AND ".join(clauses) if clauses else "true", tuple(params))


# --- where a segment's count stands --------------------------------------------------------

SegmentStatus = Literal["ready", "computing", "failed", "awaiting_analytics"]
# SQS gives a count up after 5 deliveries 12 minutes apart (the queue's visibility timeout), about an
# hour; a count queued this long ago and still not written has been lost some other way (a worker
# stopped on its last delivery, a unit never queued): failed, so the segment can be counted again.
COUNT_GIVEN_UP_AFTER = timedelta(hours=6)


@dataclass(frozen=True)
class CountFailure:
    """A count of a segment's `version` that gave up: the queued unit's last delivery failed
    (`queued_at`: when that unit was queued), or a refresh could not count it (`queued_at` None).
    `reason` names what failed, never a member."""

    version: int
    queued_at: datetime | None
    reason: str
    at: datetime


def count_status(
    version: int, *, counted: bool, built: bool, queued_at: datetime | None, failure: CountFailure | None, now: datetime
) -> tuple[SegmentStatus, CountFailure | None]:
    """`ready`: the latest audience counts this version; `awaiting_analytics`: no build to count
    from; `failed`: the latest count of this version gave up (a count queued after the failure
    is `computing` again), or was queued more than COUNT_GIVEN_UP_AFTER ago; else `computing`."""
    if counted:
        return "ready", None
    if not built:
        return "awaiting_analytics", None
    if failure is not None and failure.version == version and (queued_at is None or (failure.queued_at or failure.at) >= queued_at):
        return "failed", failure
    if queued_at is not None and now - queued_at > COUNT_GIVEN_UP_AFTER:
        hours = int(COUNT_GIVEN_UP_AFTER.total_seconds() // 3600)
        return "failed", CountFailure(version, queued_at, f"not counted within {hours} hours of being queued", queued_at + COUNT_GIVEN_UP_AFTER)
    return "computing", None
