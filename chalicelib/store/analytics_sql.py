"""The analytics SQL: the derived tables built from the table's export, and the KPIs (docs/analytics.md).

Written once, in the dialect Athena (Trino) speaks; the DuckDB adapter runs the same text through
`duckdb_dialect` (two spellings) with three macros for Trino functions DuckDB lacks
(`analytics_engine.DUCKDB_MACROS`). tests/unit/test_analytics_sql.py runs every statement on DuckDB.

A build reads `export_items(item)`: one row per item of the exported table, `item` the item's
DynamoDB JSON (`{"pk": {"S": "MEMBER#..."}, "balance": {"N": "120"}, ...}`: the keys of
store/keys.py), and writes the derived tables (`derived_selects`), which every other statement reads:
- `member_facts`: one row per open member (`member_facts_select`);
- `ledger_days`: ledger entries per day and kind, coupons per day and reward, reward names;
- `lot_balances`: points left per unexpired lot month.

What is put into the text (dates, the time zone, tier ids, day counts) comes from validated program
rules and dates, never from a request: values from requests are `?` parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

# The columns of member_facts, exactly, in order (the segments engine builds against them).
MEMBER_FACTS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("member_id", "VARCHAR"),
    ("status", "VARCHAR"),
    ("tier", "VARCHAR"),
    ("operator_tags", "VARCHAR[]"),
    ("joined_on", "DATE"),
    ("birthday_month", "INTEGER"),
    ("home_store", "VARCHAR"),
    ("stores", "VARCHAR[]"),
    ("last_purchase_on", "DATE"),
    ("orders_window", "INTEGER"),
    ("spend_window", "BIGINT"),
    ("points_balance", "BIGINT"),
    ("r_score", "INTEGER"),
    ("f_score", "INTEGER"),
    ("m_score", "INTEGER"),
    ("value_segment", "VARCHAR"),
    ("lifecycle_stage", "VARCHAR"),
    ("consent_sms_marketing", "BOOLEAN"),
    ("consent_email_marketing", "BOOLEAN"),
    ("consent_push", "BOOLEAN"),
)

# value_segment among members who bought in the window (scores 1..5); 'none': no purchase in it.
HIGH_VALUE = "f_score >= 4 AND m_score >= 4 AND r_score >= 3"
AT_RISK = "(f_score >= 4 OR m_score >= 4) AND r_score <= 2"

_ZONE = re.compile(r"^[A-Za-z0-9_+\-/]+$")
_TIER = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")


@dataclass(frozen=True)
class FactsParams:
    """What the member_facts build needs of the rules and the export's day (all validated)."""

    as_of: date  # the program-time day of the export (data_as_of)
    window_start: date  # the first day of the trailing window (inclusive)
    timezone: str
    tier_ids: tuple[str, ...]  # lowest first, as in the rules
    new_member_days: int
    at_risk_after_days: int
    dormant_after_days: int
    # (YYYY-MM, expires_on) of the lot months not expired on as_of, oldest first (lot_balances)
    lot_months: tuple[tuple[str, date], ...] = ()

    def __post_init__(self) -> None:
        if not _ZONE.match(self.timezone) or not all(_TIER.match(t) for t in self.tier_ids) or not self.tier_ids:
            raise ValueError("member_facts parameters must be a time zone name and tier ids")
        for days in (self.new_member_days, self.at_risk_after_days, self.dormant_after_days):
            if not isinstance(days, int) or days < 0:
                raise ValueError("day counts are non-negative integers")
        if not all(_MONTH.match(month) and isinstance(expires, date) for month, expires in self.lot_months):
            raise ValueError("lot months are YYYY-MM with the day they expire")


def _s(path: str) -> str:
    return f"json_extract_scalar(item, '$.{path}')"


def _local_day(path: str, zone: str) -> str:
    """The program-time day of a UTCDateTimeAttribute ('2026-11-30T19:24:51.123456+0000'), read to the second."""
    return f"CAST(from_iso8601_timestamp(substr({_s(path)}, 1, 19) || 'Z') AT TIME ZONE '{zone}' AS DATE)"


def _items() -> str:
    return f"SELECT {_s('pk.S')} AS pk, {_s('type.S')} AS type, item FROM export_items"


def _rank(column: str, tier_ids: tuple[str, ...]) -> str:
    whens = " ".join(f"WHEN '{t}' THEN {i}" for i, t in enumerate(tier_ids))
    return f"CASE {column} {whens} ELSE -1 END"


def member_facts_select(p: FactsParams) -> str:
    """One row per open member (closed and erased members are left out: they may not be reached and
    hold no points), in MEMBER_FACTS_COLUMNS. Orders count net of refunds; an order refunded in full
    is no purchase. Scores are quintiles over the members who bought in the window, ties sharing the
    lower score (score = 1 + floor(5 * (rank - 1) / buyers), rank() ascending: 5 is the most recent,
    most frequent, highest spending fifth)."""
    as_of, start, zone = f"DATE '{p.as_of.isoformat()}'", f"DATE '{p.window_start.isoformat()}'", p.timezone
    ranks = {c: _rank(c, p.tier_ids) for c in ("tier_held", "tier_override", "plan_tier")}
    best = f"greatest({ranks['tier_held']}, {ranks['tier_override']}, CASE WHEN plan_ends_on >= {as_of} THEN {ranks['plan_tier']} ELSE -1 END)"
    tier_of_rank = "CASE tier_rank " + " ".join(f"WHEN {i} THEN '{t}'" for i, t in enumerate(p.tier_ids)) + f" ELSE '{p.tier_ids[0]}' END"
    return f"""
WITH items AS ({_items()}),
members AS (
  SELECT
    substr(pk, 8) AS member_id,
    {_s("status.S")} AS status,
    {_s("tier.S")} AS tier_held,
    {_s("tier_override.S")} AS tier_override,
    {_s("plan.M.tier.S")} AS plan_tier,
    CAST({_s("plan.M.ends_on.S")} AS DATE) AS plan_ends_on,
    COALESCE(CAST(json_extract(item, '$.operator_tags.SS') AS ARRAY(VARCHAR)), CAST(ARRAY[] AS ARRAY(VARCHAR))) AS operator_tags,
    {_local_day("created_at.S", zone)} AS joined_on,
    CAST(substr({_s("birthday.S")}, 6, 2) AS INTEGER) AS birthday_month,
    CAST(COALESCE({_s("balance.N")}, '0') AS BIGINT) AS points_balance,
    COALESCE({_s("has_purchased.BOOL")}, 'false') = 'true' AS has_purchased,
    CAST({_s("last_activity_on.S")} AS DATE) AS last_activity_on,
    COALESCE({_s("consents.M.sms_marketing.BOOL")}, 'false') = 'true' AS consent_sms_marketing,
    COALESCE({_s("consents.M.email_marketing.BOOL")}, 'false') = 'true' AS consent_email_marketing,
    COALESCE({_s("consents.M.push.BOOL")}, 'false') = 'true' AS consent_push
  FROM items
  WHERE type = 'Member' AND {_s("status.S")} <> 'closed' AND COALESCE({_s("erased.BOOL")}, 'false') <> 'true'
),
tiered AS (SELECT members.*, {best} AS tier_rank FROM members),
orders AS (
  SELECT
    {_s("member_id.S")} AS member_id,
    COALESCE({_s("store_id.S")}, {_s("merchant_store.S")}) AS store_id,
    CAST({_s("amount.N")} AS BIGINT) - CAST(COALESCE({_s("refunded_amount.N")}, '0') AS BIGINT) AS net,
    {_local_day("created_at.S", zone)} AS bought_on
  FROM items
  WHERE type = 'Order'
),
kept AS (SELECT * FROM orders WHERE net > 0 AND bought_on <= {as_of}),
windowed AS (SELECT * FROM kept WHERE bought_on >= {start}),
per_store AS (SELECT member_id, store_id, count(*) AS n FROM windowed WHERE store_id IS NOT NULL GROUP BY member_id, store_id),
home AS (
  SELECT member_id, store_id AS home_store
  FROM (SELECT member_id, store_id, row_number() OVER (PARTITION BY member_id ORDER BY n DESC, store_id) AS rn FROM per_store) AS ranked
  WHERE rn = 1
),
store_lists AS (SELECT member_id, array_sort(array_agg(store_id)) AS stores FROM per_store GROUP BY member_id),
activity AS (SELECT member_id, count(*) AS orders_window, sum(net) AS spend_window FROM windowed GROUP BY member_id),
last_buys AS (SELECT member_id, max(bought_on) AS last_purchase_on FROM kept GROUP BY member_id),
base AS (
  SELECT
    t.*, h.home_store, COALESCE(s.stores, CAST(ARRAY[] AS ARRAY(VARCHAR))) AS stores, l.last_purchase_on,
    CAST(COALESCE(a.orders_window, 0) AS INTEGER) AS orders_window, CAST(COALESCE(a.spend_window, 0) AS BIGINT) AS spend_window
  FROM tiered AS t
  LEFT JOIN home AS h ON h.member_id = t.member_id
  LEFT JOIN store_lists AS s ON s.member_id = t.member_id
  LEFT JOIN last_buys AS l ON l.member_id = t.member_id
  LEFT JOIN activity AS a ON a.member_id = t.member_id
),
ranked_buyers AS (
  SELECT
    member_id,
    rank() OVER (ORDER BY last_purchase_on) AS r_rank,
    rank() OVER (ORDER BY orders_window) AS f_rank,
    rank() OVER (ORDER BY spend_window) AS m_rank,
    count(*) OVER () AS buyers
  FROM base
  WHERE orders_window > 0
),
scores AS (
  SELECT
    member_id,
    1 + CAST(floor(5 * CAST(r_rank - 1 AS DOUBLE) / buyers) AS INTEGER) AS r_score,
    1 + CAST(floor(5 * CAST(f_rank - 1 AS DOUBLE) / buyers) AS INTEGER) AS f_score,
    1 + CAST(floor(5 * CAST(m_rank - 1 AS DOUBLE) / buyers) AS INTEGER) AS m_score
  FROM ranked_buyers
),
scored AS (
  SELECT
    b.*, sc.r_score, sc.f_score, sc.m_score,
    date_diff('day', COALESCE(b.last_activity_on, b.joined_on), {as_of}) AS idle_days
  FROM base AS b LEFT JOIN scores AS sc ON sc.member_id = b.member_id
)
SELECT
  member_id,
  status,
  {tier_of_rank} AS tier,
  operator_tags,
  joined_on,
  birthday_month,
  home_store,
  stores,
  last_purchase_on,
  orders_window,
  spend_window,
  points_balance,
  r_score,
  f_score,
  m_score,
  CASE
    WHEN r_score IS NULL THEN 'none'
    WHEN {HIGH_VALUE} THEN 'high_value'
    WHEN {AT_RISK} THEN 'at_risk'
    ELSE 'regular'
  END AS value_segment,
  CASE
    WHEN NOT has_purchased AND date_diff('day', joined_on, {as_of}) < {p.new_member_days} THEN 'new'
    WHEN idle_days >= {p.dormant_after_days} THEN 'dormant'
    WHEN idle_days >= {p.at_risk_after_days} THEN 'at_risk'
    ELSE 'active'
  END AS lifecycle_stage,
  consent_sms_marketing,
  consent_email_marketing,
  consent_push
FROM scored
"""


# --- the small tables the KPIs on points and rewards read ---------------------------------------


def ledger_days_select(p: FactsParams) -> str:
    """`ledger_days`, built with member_facts in one pass over the export: one row per
    - ledger entries of one day and kind (`source` 'ledger'): how many, the points in (positive
      entries) and the net points;
    - coupons bought with points of one day and reward (`source` 'coupon'): how many;
    - reward of the catalogue (`source` 'reward', no day): its name.
    A few thousand rows for years of a brand's ledger: the KPIs on points and rewards read this,
    never the export (which each of them parsed again before: 25..46 s at 1 million entries)."""
    day = _local_day("created_at.S", p.timezone)
    return f"""
WITH items AS ({_items()}),
picked AS (
  SELECT
    CASE type WHEN 'LedgerEntry' THEN 'ledger' WHEN 'Coupon' THEN 'coupon' ELSE 'reward' END AS source,
    CASE WHEN type = 'Reward' THEN CAST(NULL AS DATE) ELSE {day} END AS day,
    CASE WHEN type = 'LedgerEntry' THEN {_s("kind.S")} END AS kind,
    CASE WHEN type <> 'LedgerEntry' THEN {_s("reward_id.S")} END AS reward_id,
    CASE WHEN type = 'Reward' THEN {_s("name.S")} END AS name,
    CASE WHEN type = 'LedgerEntry' THEN CAST({_s("points.N")} AS BIGINT) ELSE 0 END AS points
  FROM items
  WHERE type IN ('LedgerEntry', 'Reward') OR (type = 'Coupon' AND {_s("kind.S")} = 'redemption')
)
SELECT
  source, day, kind, reward_id, max(name) AS name, count(*) AS entries,
  CAST(sum(CASE WHEN points > 0 THEN points ELSE 0 END) AS BIGINT) AS points_in,
  CAST(sum(points) AS BIGINT) AS points_net
FROM picked
GROUP BY source, day, kind, reward_id
"""


def lot_balances_select(p: FactsParams) -> str:
    """`lot_balances`: what is left of each lot month's points held by open members (`lots` on the
    Member item), one row per month of `p.lot_months` (those not expired on the export's day) with
    the day it expires. One pass over the members (a single wide sum), turned into rows."""
    if not p.lot_months:
        return "SELECT CAST(NULL AS VARCHAR) AS earned_in, CAST(NULL AS DATE) AS expires_on, CAST(0 AS BIGINT) AS points WHERE false"
    columns = ",\n    ".join(
        f"CAST(COALESCE(sum(CAST({_s(f'lots.M["{month}"].N')} AS BIGINT)), 0) AS BIGINT) AS {_lot_column(month)}" for month, _ in p.lot_months
    )
    pick = " ".join(f"WHEN '{month}' THEN w.{_lot_column(month)}" for month, _ in p.lot_months)
    values = ", ".join(f"('{month}', DATE '{expires.isoformat()}')" for month, expires in p.lot_months)
    return f"""
WITH wide AS (
  SELECT
    {columns}
  FROM ({_items()}) AS items
  WHERE type = 'Member' AND {_s("status.S")} <> 'closed' AND COALESCE({_s("erased.BOOL")}, 'false') <> 'true'
)
SELECT v.earned_in, v.expires_on, CASE v.earned_in {pick} ELSE CAST(0 AS BIGINT) END AS points
FROM wide AS w CROSS JOIN (VALUES {values}) AS v(earned_in, expires_on)
"""


def _lot_column(month: str) -> str:
    return "m_" + month.replace("-", "_")


DERIVED_TABLES = ("member_facts", "ledger_days", "lot_balances")


def derived_selects(p: FactsParams) -> dict[str, str]:
    """Every table a build writes (name -> its SELECT over `export_items`), in DERIVED_TABLES' order."""
    return {"member_facts": member_facts_select(p), "ledger_days": ledger_days_select(p), "lot_balances": lot_balances_select(p)}


# --- KPIs ------------------------------------------------------------------------------
# Each reads one derived table (member_facts, ledger_days, lot_balances) once, never the export.

MEMBER_KPIS = """
SELECT
  count(*) AS members,
  count_if(lifecycle_stage = 'active') AS active_members,
  count_if(orders_window >= 1) AS buyers,
  count_if(orders_window >= 2) AS repeat_buyers,
  CAST(COALESCE(sum(orders_window), 0) AS BIGINT) AS orders,
  CAST(COALESCE(sum(spend_window), 0) AS BIGINT) AS spend,
  CAST(COALESCE(sum(points_balance), 0) AS BIGINT) AS points_liability
FROM member_facts
"""

ACTIVE_BY_TIER = """
SELECT tier, count(*) AS members FROM member_facts WHERE lifecycle_stage = 'active' GROUP BY tier ORDER BY members DESC, tier
"""

ACTIVE_BY_STORE = """
SELECT home_store AS store_id, count(*) AS members
FROM member_facts WHERE lifecycle_stage = 'active' AND home_store IS NOT NULL
GROUP BY home_store ORDER BY members DESC, store_id
"""

BY_LIFECYCLE_STAGE = "SELECT lifecycle_stage AS stage, count(*) AS members FROM member_facts GROUP BY lifecycle_stage ORDER BY stage"

BY_VALUE_SEGMENT = "SELECT value_segment AS segment, count(*) AS members FROM member_facts GROUP BY value_segment ORDER BY segment"

NEW_MEMBERS_BY_WEEK = """
SELECT CAST(date_trunc('week', joined_on) AS DATE) AS week_of, count(*) AS members
FROM member_facts WHERE joined_on >= ? AND joined_on <= ?
GROUP BY CAST(date_trunc('week', joined_on) AS DATE) ORDER BY week_of
"""


# Points issued (every positive ledger entry) and redeemed (redeem entries) between two days (?, ?).
POINTS_FLOW = """
SELECT
  CAST(COALESCE(sum(points_in), 0) AS BIGINT) AS points_issued,
  CAST(COALESCE(sum(CASE WHEN kind = 'redeem' THEN -points_net ELSE 0 END), 0) AS BIGINT) AS points_redeemed,
  CAST(COALESCE(sum(CASE WHEN kind = 'redeem' THEN entries ELSE 0 END), 0) AS BIGINT) AS redemptions
FROM ledger_days WHERE source = 'ledger' AND day >= ? AND day <= ?
"""

# Rewards by the coupons points bought between two days (?, ?), with the catalogue's names.
TOP_REWARDS = """
WITH bought AS (
  SELECT reward_id, CAST(sum(entries) AS BIGINT) AS redemptions
  FROM ledger_days WHERE source = 'coupon' AND day >= ? AND day <= ? GROUP BY reward_id
),
names AS (SELECT reward_id, max(name) AS name FROM ledger_days WHERE source = 'reward' GROUP BY reward_id)
SELECT b.reward_id, n.name, b.redemptions
FROM bought AS b LEFT JOIN names AS n ON n.reward_id = b.reward_id
ORDER BY b.redemptions DESC, b.reward_id LIMIT 10
"""

# The points left per lot month of open members, oldest month first.
EXPIRY_CURVE = "SELECT earned_in, expires_on, points FROM lot_balances ORDER BY earned_in"


MEMBER_ANALYTICS = """
SELECT member_id, r_score, f_score, m_score, value_segment, lifecycle_stage, orders_window, spend_window, last_purchase_on, home_store
FROM member_facts WHERE member_id = ?
"""

_JSON_KEY = re.compile(r'\["([^"\]]+)"\]')


def duckdb_dialect(sql: str) -> str:
    """The same statement in DuckDB's spelling: `ARRAY(VARCHAR)` is `VARCHAR[]`, a JSON path's
    `["key"]` is `."key"`. Everything else is written in what both engines share."""
    return _JSON_KEY.sub(r'."\1"', sql.replace("ARRAY(VARCHAR)", "VARCHAR[]"))
