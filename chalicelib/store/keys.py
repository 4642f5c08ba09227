"""Key formats, in one place, with the access pattern each serves.

| pk                   | sk                   | item          | access pattern                                  |
|----------------------|----------------------|---------------|-------------------------------------------------|
| MEMBER#<member_id>   | PROFILE              | Member        | the member, its balance, lots and tier           |
| MEMBER#<member_id>   | PROFILE#LEDGER#<entry_id> | LedgerEntry | ledger, newest first, right after the profile |
| MEMBER#<member_id>   | LOT#<yyyy-mm>        | Lot           | points earned in a month; by expiry via GSI      |
| MEMBER#<member_id>   | REDEMPTION#<key>     | Redemption    | idempotent redemption per client key             |
| MEMBER#<member_id>   | COUPON#<code>        | Coupon        | the member's coupons                             |
| PHONE#<e164>         | GUARD                | PhoneGuard    | one member per phone (conditional put)           |
| PHONE#<e164>         | CODE                 | VerificationCode | the current one-time code (hashed, TTL)       |
| PHONE#<e164>         | ATTEMPTS             | CodeAttempts  | failed verifications in the lockout window       |
| PHONE#<e164>         | SENT                 | SendThrottle  | at most one code per phone per resend interval   |
| REFCODE#<code>       | REFCODE              | ReferralCode  | referral code -> member, unique                  |
| ORDER#<order_id>     | ORDER                | Order         | idempotent purchase per order id                 |
| ORDER#<order_id>     | REFUND#<refund_id>   | Refund        | idempotent refund per refund id                  |
| REWARD               | REWARD#<reward_id>   | Reward        | the catalogue, one query                         |
| APIKEY#<sha256>      | APIKEY               | ApiKey        | merchant key by its hash                         |
| SEND#<yyyy-mm-ddThh>#<shard> | <member_id>#<kind>#<ref> | DeferredMessage | held back by quiet hours     |
| JOBRUN#<job>#<as_of> | RUN#<run_id>         | JobRun        | a job run's summary                              |

Ledger entries sort right after their member's PROFILE item and their ids run
backwards in time, so one ascending query over `begins_with(sk, "PROFILE")`
returns the member (its status) followed by the newest entries: the first
ledger page and the closed-member check cost one round trip.

GSI `by_phone`: phone_key = <e164> on Member items.
GSI `lots_by_expiry`: expiry_bucket = EXPIRY#<yyyy-mm-dd>#<shard>, expiry_member = MEMBER#<id>#<yyyy-mm>.
GSIs `members_by_birthday` / `_by_anniversary` / `_by_activity` on Member items (sparse,
KEYS_ONLY): BDAY#<mm-dd>#<shard>, ANNIV#<mm-dd>#<shard>, ACT#<yyyy-mm-dd>#<shard>.
Shards spread one day's bucket over `index_shards` partitions (no hot key).
"""

from __future__ import annotations

import zlib

PROFILE = "PROFILE"
GUARD = "GUARD"
CODE = "CODE"
ATTEMPTS = "ATTEMPTS"
SENT = "SENT"
ORDER_SK = "ORDER"
REWARD_PK = "REWARD"
APIKEY_SK = "APIKEY"
REFCODE_SK = "REFCODE"


def member_pk(member_id: str) -> str:
    return f"MEMBER#{member_id}"


def phone_pk(e164: str) -> str:
    return f"PHONE#{e164}"


LEDGER_PREFIX = f"{PROFILE}#LEDGER#"


def ledger_sk(entry_id: str) -> str:
    return f"{LEDGER_PREFIX}{entry_id}"


def lot_sk(month: str) -> str:
    return f"LOT#{month}"


def redemption_sk(idempotency_key: str) -> str:
    return f"REDEMPTION#{idempotency_key}"


def coupon_sk(code: str) -> str:
    return f"COUPON#{code}"


COUPON_PREFIX = "COUPON#"


def order_pk(order_id: str) -> str:
    return f"ORDER#{order_id}"


def refund_sk(refund_id: str) -> str:
    return f"REFUND#{refund_id}"


def reward_sk(reward_id: str) -> str:
    return f"REWARD#{reward_id}"


def apikey_pk(digest: str) -> str:
    return f"APIKEY#{digest}"


def refcode_pk(code: str) -> str:
    return f"REFCODE#{code}"


def shard_of(member_id: str, shards: int) -> int:
    """Stable shard for write-sharded index keys (crc32: same in every process)."""
    return zlib.crc32(member_id.encode()) % shards


def expiry_bucket(day: str, shard: int) -> str:
    return f"EXPIRY#{day}#{shard}"


def expiry_member(member_id: str, month: str) -> str:
    return f"MEMBER#{member_id}#{month}"


def birthday_bucket(month_day: str, shard: int) -> str:
    return f"BDAY#{month_day}#{shard}"


def anniversary_bucket(month_day: str, shard: int) -> str:
    return f"ANNIV#{month_day}#{shard}"


def activity_bucket(day: str, shard: int) -> str:
    return f"ACT#{day}#{shard}"


def member_id_of(pk: str) -> str:
    return pk.removeprefix("MEMBER#")


def send_bucket(hour: str, shard: int) -> str:
    """Deferred messages that may go from `hour` (YYYY-MM-DDTHH, UTC) on."""
    return f"SEND#{hour}#{shard}"


def deferred_sk(member_id: str, kind: str, ref: str) -> str:
    return f"{member_id}#{kind}#{ref}"


def jobrun_pk(job: str, as_of: str) -> str:
    return f"JOBRUN#{job}#{as_of}"


def jobrun_sk(run_id: str) -> str:
    return f"RUN#{run_id}"
