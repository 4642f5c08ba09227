"""Key formats, in one place, with the access pattern each serves.

| pk                   | sk                   | item          | access pattern                                  |
|----------------------|----------------------|---------------|-------------------------------------------------|
| MEMBER#<member_id>   | PROFILE              | Member        | the member, its balance, lots and tier           |
| MEMBER#<member_id>   | PROFILE#LEDGER#<entry_id> | LedgerEntry | ledger, newest first, right after the profile |
| MEMBER#<member_id>   | LOT#<yyyy-mm>        | Lot           | a month points were earned in; by expiry via GSI |
| MEMBER#<member_id>   | REDEMPTION#<key>     | Redemption    | idempotent redemption per client key             |
| MEMBER#<member_id>   | COUPON#<code>        | Coupon        | the member's coupons                             |
| PHONE#<e164>         | GUARD                | PhoneGuard    | one member per phone (conditional put)           |
| PHONE#<e164>         | CODE                 | VerificationCode | the current one-time code (hashed, TTL)       |
| PHONE#<e164>         | ATTEMPTS             | CodeAttempts  | failed verifications in the lockout window       |
| PHONE#<e164>         | SENT                 | SendThrottle  | at most one code per phone per resend interval   |
| SENDLIMIT#<who>#<window> | COUNT            | SendCounter   | codes sent per client, recipient or in all, per minute or day |
| REFCODE#<code>       | REFCODE              | ReferralCode  | referral code -> member, unique                  |
| ORDER#<order_id>     | ORDER                | Order         | idempotent purchase per order id                 |
| ORDER#<order_id>     | REFUND#<refund_id>   | Refund        | idempotent refund per refund id                  |
| REWARD               | REWARD#<reward_id>   | Reward        | the catalogue, one query                         |
| APIKEY#<sha256>      | APIKEY               | ApiKey        | merchant key by its hash                         |
| SEND#<yyyy-mm-ddThh>#<shard> | <member_id>#<kind>#<ref> | DeferredMessage | held back by quiet hours     |
| JOBRUN#<job>#<as_of> | RUN#<run_id>         | JobRun        | a job run's summary                              |
| MEMBER#<member_id>   | AUDIT#<audit_id>     | AuditEntry    | operator actions on a member, newest first       |
| AUDIT#<yyyy-mm-dd>   | AUDIT#<audit_id>     | AuditEntry    | every operator action of a day (program time zone), newest first |
| MEMBER#<member_id>   | ADJUST#<adjustment_id> | Adjustment  | idempotent manual points adjustment per id       |
| APIKEYS              | KEY#<key_id>         | ApiKeyRecord  | the merchant keys issued, for listing and revoking (no secret) |
| MEMBER#<member_id>   | WALLET               | Wallet        | the member's stored-value balance (money, not points) |
| MEMBER#<member_id>   | WALLET#ENTRY#<entry_id> | WalletEntry | wallet statement, newest first, right after WALLET |
| TOPUP#<topup_id>     | TOPUP                | WalletTopup   | idempotent wallet top-up per topup id            |
| PAYMENT#<payment_id> | PAYMENT              | WalletPayment | idempotent wallet payment per payment id; refunded so far |
| PAYMENT#<payment_id> | REFUND#<refund_id>   | WalletRefund  | idempotent refund of a wallet payment per refund id |
| WXPAY#<out_trade_no> | ORDER                | WeChatPayOrder | a WeChat Pay top-up order: member, amount, status (store/wechat_pay.py) |
| WXPAY#<out_trade_no> | ANOMALY#<transaction_id> | WeChatPayAnomaly | a paid notification not credited (amount differs...), for operators |
| WXPAY#<out_trade_no> | REFUND#<out_refund_no> | WeChatPayRefund | an operator's refund of a paid top-up, its state (store/wechat_pay_refunds.py) |
| WXPAY#ANOMALIES      | AT#<created_at>#<transaction_id> | WeChatPayAnomalyEntry | the anomalies again, oldest first: the operators' list |
| WXTXN#<transaction_id> | TOPUP              | WalletTopup   | a WeChat Pay transaction credited once: the top-up record keyed by WeChat's id |
| MEMBER#<member_id>   | CHANGE#PHONE / CHANGE#EMAIL | VerificationCode | a pending phone or email change: its code (hashed, TTL) and target |
| MEMBER#<member_id>   | ATTEMPTS#PHONE / ATTEMPTS#EMAIL | CodeAttempts | failed change verifications in the lockout window |
| MEMBER#<member_id>   | SENT#EMAIL           | SendThrottle  | at most one email-change code per resend interval |
| COUPON#<code>        | GUARD                | CouponCode    | a coupon by its code at the till; codes unique (conditional put) |
| COUPONUSE#<redemption_id> | COUPONUSE       | CouponUse     | idempotent till redemption per redemption id     |
| MEMBER#<referrer_id> | REFERRAL#<referee_id> | Referral     | one referral per referred member; its rewards once |
| MEMBER#<member_id>   | FEEDBACK#<feedback_id> | Feedback    | the member's feedback and answers, newest first  |
| MEMBER#<member_id>   | FEEDBACKKEY#<key>    | FeedbackKey   | idempotent feedback per client Idempotency-Key   |
| FEEDBACKQ#<status>   | <feedback_id>        | FeedbackQueueEntry | operators' feedback queue (open / answered) |
| ACTION#<store_id>#<event_id> | ACTION       | ActionEvent   | idempotent action report per store and event id (points for a review...) |
| MEMBER#<member_id>   | ACTIONREF#<store_id>#<event_id> | ActionRef | the member's reported actions, found for their data export without a scan |
| EARNBUDGET#<rule_id> | SHARD#<n>            | BudgetShard   | points an earn rule's budget gave, one shard of it (no hot key) |
| PCBATCH#<batch_id>   | BATCH                | ProductCodeBatch | a batch of scan-to-earn codes: product, points, status |
| PCBATCH#<batch_id>#<shard> | REDEEMED       | ProductCodeRedemptions | one shard of a batch's redemption count (no hot item) |
| PCODE#<sha256>       | PCODE                | ProductCode   | one scan-to-earn code by its digest; who used it, once (conditional update) |
| PCTRY#<member_id>    | <yyyy-mm-ddThh>      | ProductCodeAttempts | a member's failed code attempts in an hour (TTL) |
| PCREQ#<sha256 of key> | REQUEST             | ProductCodeRequest | idempotent batch generation per operator Idempotency-Key |
| IMPORT#<import_id>   | IMPORT               | MemberImport  | an operator's bulk import of members: status, counts (store/imports.py) |
| MEMBERSHIP#<membership_id> | MEMBERSHIP     | PlanMembership | one purchase of a paid plan: its period, fee, how it was paid |
| MEMBERSHIP#<membership_id> | REFUND         | PlanRefundRecord | the (one) refund of that purchase, idempotent per refund id |
| PLANPAY#<payment_id> | PLANPAY              | PlanPaymentRecord | idempotent till purchase of a plan per payment id |
| MEMBER#<member_id>   | PLANKEY#<key>        | PlanPaymentRecord | idempotent wallet purchase of a plan per Idempotency-Key |
| SURVEYS              | SURVEY#<survey_id>   | Survey        | every survey (definition, state, target), one query for the list |
| SURVEYTALLY#<survey_id> | SHARD#<n>         | SurveyTally   | one shard of a survey's results counters (no hot item), one query for all |
| SURVEYTEXT#<survey_id> | TEXT#<text_id>     | SurveyTexts   | free text for operators, by a random id the response names (erased with it) |
| MEMBER#<member_id>   | SURVEY#INVITE#<survey_id> | SurveyInvitation | the member is in a segment survey's audience |
| MEMBER#<member_id>   | SURVEY#RESPONSE#<survey_id> | SurveyResponse | the member's one answer to a survey (put only if absent) |
| CAMPAIGNS            | CAMPAIGN#<campaign_id> | Campaign    | the campaigns, newest first (ids run backwards in time) |
| CAMPAIGNDUE          | <send_at>#<campaign_id> | CampaignDue | campaigns waiting to start, by when (one query) |
| MEMBER#<member_id>   | CAMPAIGN#<campaign_id> | CampaignDelivery | what a member got from a campaign, once (conditional put) |
| HANDOVERS            | <written_at>#<campaign_id>#<token> | HandoverNote | batches whose hand-overs may be unsettled, oldest first (one query) |
| ANALYTICS            | REFRESH              | AnalyticsRefresh | the analytics refresh running or last done: one at a time (conditional put) |
| SEGMENTS             | SEGMENT#<segment_id> | Segment       | the saved segments, one query (store/segments.py) |
| SEGMENT#<segment_id> | TAGCHANGE#<run_id>   | SegmentTagChange | a bulk tag change over the segment's audience   |
| MEMBER#<member_id>   | SEGTAGS#<run_id>     | SegmentTagApplied | the member's share of a bulk tag change done, once (TTL) |
| MEMBER#<member_id>   | TRANSFER#<key>       | TransferRecord | idempotent points transfer per the sender's Idempotency-Key |
| PUSHTOKEN#<sha256>   | PUSHTOKEN            | PushTokenGuard | a device token's one member and device (token hashed) |
| WEBHOOKS             | HOOK#<webhook_id>    | WebhookEndpoint | every webhook endpoint in one query (the event fan-out, operators' list) |
| WEBHOOK#<webhook_id> | DEAD#<event_id>      | WebhookDeadLetter | an endpoint's dead-lettered deliveries, for replays |
| WECHAT#<sha256 of appid:openid> | WECHAT  | WechatGuard   | a WeChat openid's one member (conditional put: store/wechat.py) |
| WECHAT#<sha256 of appid:openid> | PAYJOIN | PayToJoinHolder | the pending member holding an unbound payer's points (store/pay_to_join.py) |
| WXTXN#<transaction_id> | PAYJOIN#ANOMALY  | PayToJoinAnomaly | a store's WeChat Pay payment that earned nothing, for operators |
| GRANTBATCH#<batch_id> | BATCH              | GrantBatch    | an operator's bulk grant: what it gives, its progress |
| GRANTROW#<batch_id>#<row key> | ROW        | GrantRowDone  | one row of a bulk grant granted, once (conditional put; no hot key) |
| GRANTREQ#<sha256 of key> | REQUEST         | GrantRequest  | idempotent bulk grant creation per operator Idempotency-Key |
| EXPORT#<export_id>   | EXPORT               | DataExport    | an operator's CSV export of members or the ledger, its progress |
| EXPORTREQ#<sha256 of key> | REQUEST        | ExportRequest | idempotent export creation per operator Idempotency-Key |

Ledger entries sort right after their member's PROFILE item and their ids run
backwards in time, so one ascending query over `begins_with(sk, "PROFILE")`
returns the member (its status) followed by the newest entries: the first
ledger page and the closed-member check cost one round trip.

GSI `by_phone`: phone_key = <e164> on Member items.
GSI `lots_by_expiry`: expiry_bucket = EXPIRY#<yyyy-mm-dd>#<shard>, expiry_member = MEMBER#<id>#<yyyy-mm>.
GSIs `members_by_birthday` / `_by_anniversary` / `_by_activity` on Member items (sparse,
KEYS_ONLY): BDAY#<mm-dd>#<shard>, ANNIV#<mm-dd>#<shard>, ACT#<yyyy-mm-dd>#<shard>.
GSI `members_by_release` on Member items holding pending points (sparse, KEYS_ONLY):
RELEASE#<yyyy-mm-dd>#<shard>, the program-time day their earliest pending points are released.
GSI `members_by_erasure` on closed Member items (sparse, KEYS_ONLY): ERASE#<yyyy-mm-dd>#<shard>,
the program-time day their grace period ends (usecases/closure.py).
GSI `members_by_plan_end` on Member items holding a paid plan (sparse, KEYS_ONLY):
PLANEND#<yyyy-mm-dd>#<shard>, the last day of the plan's period (usecases/plans.py).
GSI `wechat_pay_open` on WeChatPayOrder and WeChatPayRefund items WeChat Pay has not settled
(sparse, KEYS_ONLY): WXOPEN#<shard>, by `wxpay_open_since` (when it was opened, ISO): what the
wechat-pay-sweep job asks WeChat Pay about when its notification is late (usecases/wechat_pay_sweep.py).
Shards spread one day's bucket over `index_shards` partitions (no hot key).
"""

from __future__ import annotations

import hashlib
import zlib
from datetime import UTC, datetime

PROFILE = "PROFILE"
GUARD = "GUARD"
CODE = "CODE"
ATTEMPTS = "ATTEMPTS"
SENT = "SENT"
ORDER_SK = "ORDER"
REWARD_PK = "REWARD"
APIKEY_SK = "APIKEY"
REFCODE_SK = "REFCODE"


SEND_LIMIT_SK = "COUNT"


def send_limit_pk(who: str, window: str) -> str:
    """who: CLIENT#<digest> | TO#<digest> | ALL; window: M<yyyymmddHHMM> (UTC) | D<yyyy-mm-dd> (program time)."""
    return f"SENDLIMIT#{who}#{window}"


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


def is_member_pk(pk: str) -> bool:
    return pk.startswith("MEMBER#")


def send_bucket(hour: str, shard: int) -> str:
    """Deferred messages that may go from `hour` (YYYY-MM-DDTHH, UTC) on."""
    return f"SEND#{hour}#{shard}"


def send_bucket_hour(bucket: str) -> datetime:
    """The hour (UTC) a SEND# bucket holds messages for."""
    return datetime.strptime(bucket.split("#")[1], "%Y-%m-%dT%H").replace(tzinfo=UTC)


def deferred_sk(member_id: str, kind: str, ref: str) -> str:
    return f"{member_id}#{kind}#{ref}"


def deferred_ref(sk: str) -> tuple[str, str]:
    """(kind, ref) of a deferred message's sort key."""
    _, kind, ref = sk.split("#", 2)
    return kind, ref


def jobrun_pk(job: str, as_of: str) -> str:
    return f"JOBRUN#{job}#{as_of}"


def jobrun_sk(run_id: str) -> str:
    return f"RUN#{run_id}"


# Operator work (usecases/operations/, store/audit.py, store/merchant_keys.py). Audit ids run backwards
# in time, so both audit listings (per member, per day) are newest first.
AUDIT_PREFIX = "AUDIT#"
APIKEYS_PK = "APIKEYS"


def audit_sk(audit_id: str) -> str:
    return f"{AUDIT_PREFIX}{audit_id}"


def audit_day_pk(day: str) -> str:
    return f"AUDIT#{day}"


def adjustment_sk(adjustment_id: str) -> str:
    return f"ADJUST#{adjustment_id}"


def apikey_record_sk(key_id: str) -> str:
    return f"KEY#{key_id}"


# Stored value (the wallet). Its entries sort right after the WALLET item with
# ids that run backwards by the wallet's version (store/wallet.py), so one query
# over `begins_with(sk, "WALLET")` returns the balance and the newest entries.
WALLET_SK = "WALLET"
WALLET_ENTRY_PREFIX = f"{WALLET_SK}#ENTRY#"
TOPUP_SK = "TOPUP"
PAYMENT_SK = "PAYMENT"


def wallet_entry_sk(entry_id: str) -> str:
    return f"{WALLET_ENTRY_PREFIX}{entry_id}"


def topup_pk(topup_id: str) -> str:
    return f"TOPUP#{topup_id}"


def payment_pk(payment_id: str) -> str:
    return f"PAYMENT#{payment_id}"


# Referrals, coupons and feedback (usecases/referrals.py, coupons.py, feedback.py).
# Feedback ids run forwards in time: the operators' open queue reads oldest
# first, a member's own list newest first (a descending query).
COUPON_USE_SK = "COUPONUSE"
REFERRAL_PREFIX = "REFERRAL#"
FEEDBACK_PREFIX = "FEEDBACK#"


def coupon_code_pk(code: str) -> str:
    return f"COUPON#{code}"


def coupon_use_pk(redemption_id: str) -> str:
    return f"COUPONUSE#{redemption_id}"


def referral_sk(referee_id: str) -> str:
    return f"{REFERRAL_PREFIX}{referee_id}"


def feedback_sk(feedback_id: str) -> str:
    return f"{FEEDBACK_PREFIX}{feedback_id}"


def feedback_key_sk(idempotency_key: str) -> str:
    return f"FEEDBACKKEY#{idempotency_key}"


def feedback_queue_pk(status: str) -> str:
    return f"FEEDBACKQ#{status}"


# Email and phone changes (usecases/contact_change.py, store/contact_changes.py) and closure. A
# phone or email change keeps its code in the member's partition, bound to the
# new phone or email; the new phone's GUARD is only put when the code is proved.
def change_sk(kind: str) -> str:
    """kind: "phone" | "email"."""
    return f"CHANGE#{kind.upper()}"


def change_attempts_sk(kind: str) -> str:
    return f"ATTEMPTS#{kind.upper()}"


def change_sent_sk(kind: str) -> str:
    return f"SENT#{kind.upper()}"


def erasure_bucket(day: str, shard: int) -> str:
    return f"ERASE#{day}#{shard}"


def release_bucket(day: str, shard: int) -> str:
    return f"RELEASE#{day}#{shard}"


def deferred_prefix(member_id: str) -> str:
    """The sort-key prefix of a member's deferred messages in a SEND# bucket."""
    return f"{member_id}#"


# Points for actions other than purchases (usecases/actions.py). A reported action's record is
# keyed by the store and its event id: event ids are unique per store, not across stores.
ACTION_SK = "ACTION"


def action_pk(store_id: str, event_id: str) -> str:
    return f"ACTION#{store_id}#{event_id}"


def action_ref_sk(store_id: str, event_id: str) -> str:
    return f"ACTIONREF#{store_id}#{event_id}"


# --- earn-rule budgets (store/earn_budgets.py) -------------------------------------------------


def budget_pk(rule_id: str) -> str:
    return f"EARNBUDGET#{rule_id}"


def budget_shard_sk(shard: int) -> str:
    return f"SHARD#{shard:02d}"


# Scan-to-earn product codes (usecases/product_codes.py, usecases/operations/product_codes.py).
# A code is found by the SHA-256 of its symbols (domain/product_codes.py), never kept in clear;
# its batch's redemption count is spread over `PRODUCT_CODE_SHARDS` items in as many partitions.
PRODUCT_BATCH_SK = "BATCH"
PRODUCT_CODE_SK = "PCODE"
PRODUCT_REDEEMED_SK = "REDEEMED"
PRODUCT_CODE_SHARDS = 16


def product_batch_pk(batch_id: str) -> str:
    return f"PCBATCH#{batch_id}"


def product_redeemed_pk(batch_id: str, shard: int) -> str:
    return f"PCBATCH#{batch_id}#{shard}"


def product_code_pk(digest: str) -> str:
    return f"PCODE#{digest}"


def product_attempts_pk(member_id: str) -> str:
    return f"PCTRY#{member_id}"


PRODUCT_REQUEST_SK = "REQUEST"


def product_request_pk(idempotency_key: str) -> str:
    """By the key's SHA-256: an operator's key may hold any printable character, `#` included."""
    return f"PCREQ#{hashlib.sha256(idempotency_key.encode()).hexdigest()}"


# Paid membership plans (usecases/plans.py, store/plans.py).
MEMBERSHIP_SK = "MEMBERSHIP"
MEMBERSHIP_REFUND_SK = "REFUND"
PLANPAY_SK = "PLANPAY"


def membership_pk(membership_id: str) -> str:
    return f"MEMBERSHIP#{membership_id}"


def plan_payment_pk(payment_id: str) -> str:
    return f"PLANPAY#{payment_id}"


def plan_key_sk(idempotency_key: str) -> str:
    return f"PLANKEY#{idempotency_key}"


def plan_end_bucket(day: str, shard: int) -> str:
    return f"PLANEND#{day}#{shard}"


# --- surveys (usecases/surveys.py) ---------------------------------------------------------

SURVEYS_PK = "SURVEYS"
SURVEY_PREFIX = "SURVEY#"
SURVEY_TALLY_SHARDS = 8


def survey_sk(survey_id: str) -> str:
    return f"SURVEY#{survey_id}"


def survey_tally_pk(survey_id: str) -> str:
    return f"SURVEYTALLY#{survey_id}"


def survey_tally_sk(shard: int) -> str:
    return f"SHARD#{shard}"


def survey_text_pk(survey_id: str) -> str:
    return f"SURVEYTEXT#{survey_id}"


SURVEY_TEXT_PREFIX = "TEXT#"


def survey_text_sk(text_id: str) -> str:
    """A random id, not the member's: the free text (and a page's cursor) must not name its writer."""
    return f"TEXT#{text_id}"


def survey_invitation_sk(survey_id: str) -> str:
    return f"SURVEY#INVITE#{survey_id}"


def survey_response_sk(survey_id: str) -> str:
    return f"SURVEY#RESPONSE#{survey_id}"


# Campaigns (usecases/campaigns.py, store/campaigns.py).
CAMPAIGNS_PK = "CAMPAIGNS"
CAMPAIGN_DUE_PK = "CAMPAIGNDUE"
CAMPAIGN_PREFIX = "CAMPAIGN#"


def campaign_sk(campaign_id: str) -> str:
    return f"{CAMPAIGN_PREFIX}{campaign_id}"


def campaign_due_sk(send_at: datetime, campaign_id: str) -> str:
    return f"{send_at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}#{campaign_id}"


def campaign_delivery_sk(campaign_id: str) -> str:
    return f"{CAMPAIGN_PREFIX}{campaign_id}"


HANDOVERS_PK = "HANDOVERS"


def handover_note_sk(written_at: datetime, campaign_id: str = "", token: str = "") -> str:
    """Time first, so the notes written before a time are one key range (without the campaign
    and token: the bound of that range)."""
    stamp = written_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{stamp}#{campaign_id}#{token}" if campaign_id else stamp


# Analytics (store/analytics_refreshes.py): one item for the refresh running or last done.
ANALYTICS_PK = "ANALYTICS"
REFRESH_SK = "REFRESH"


# Segments (store/segments.py): the definitions in one partition, a bulk tag change under its segment.
SEGMENTS_PK = "SEGMENTS"
SEGMENT_PREFIX = "SEGMENT#"


def segment_sk(segment_id: str) -> str:
    return f"{SEGMENT_PREFIX}{segment_id}"


def segment_pk(segment_id: str) -> str:
    return f"{SEGMENT_PREFIX}{segment_id}"


def tag_change_sk(run_id: str) -> str:
    return f"TAGCHANGE#{run_id}"


def tag_applied_sk(run_id: str) -> str:
    return f"SEGTAGS#{run_id}"


# Points transfers (usecases/transfers.py) and push devices (usecases/devices.py).
PUSH_TOKEN_SK = "PUSHTOKEN"  # noqa: S105 - a key part, not a secret


def transfer_sk(idempotency_key: str) -> str:
    return f"TRANSFER#{idempotency_key}"


def push_token_pk(digest: str) -> str:
    return f"PUSHTOKEN#{digest}"


# Webhooks (store/webhooks.py): a brand has a handful of endpoints, read together on every event batch.
WEBHOOKS_PK = "WEBHOOKS"
WEBHOOK_PREFIX = "HOOK#"
WEBHOOK_DEAD_PREFIX = "DEAD#"


def webhook_sk(webhook_id: str) -> str:
    return f"{WEBHOOK_PREFIX}{webhook_id}"


def webhook_dead_pk(webhook_id: str) -> str:
    return f"WEBHOOK#{webhook_id}"


def webhook_dead_sk(event_id: str) -> str:
    return f"{WEBHOOK_DEAD_PREFIX}{event_id}"


# WeChat bindings (store/wechat.py): one member per openid, the openid itself never a key.
WECHAT_SK = "WECHAT"


def wechat_pk(digest: str) -> str:
    return f"WECHAT#{digest}"


# Pay-to-join (store/pay_to_join.py): beside the openid's guard, the pending member that holds an
# unbound payer's points; a store payment that earned nothing is kept under its transaction id.
PAYJOIN_SK = "PAYJOIN"
PAYJOIN_ANOMALY_SK = "PAYJOIN#ANOMALY"


# SMS a template provider accepted, by its message id (store/sms_sends.py): its delivery receipt
# is matched to it by that id (Alibaba's BizId, Tencent's SerialNo / sid).
SMS_SEND_SK = "SMSSEND"


def sms_send_pk(provider: str, message_id: str) -> str:
    return f"SMSSEND#{provider}#{message_id}"


# --- bulk imports of members (usecases/operations/member_imports.py, store/imports.py) -------------

IMPORT_SK = "IMPORT"


def import_pk(import_id: str) -> str:
    return f"IMPORT#{import_id}"


# Bulk grants and exports (store/bulk.py).
GRANT_BATCH_SK = "BATCH"
GRANT_ROW_SK = "ROW"
EXPORT_SK = "EXPORT"
BULK_REQUEST_SK = "REQUEST"


def grant_batch_pk(batch_id: str) -> str:
    return f"GRANTBATCH#{batch_id}"


def grant_row_pk(batch_id: str, row_key: str) -> str:
    return f"GRANTROW#{batch_id}#{row_key}"


def grant_request_pk(idempotency_key: str) -> str:
    return f"GRANTREQ#{hashlib.sha256(idempotency_key.encode()).hexdigest()}"


def export_pk(export_id: str) -> str:
    return f"EXPORT#{export_id}"


def export_request_pk(idempotency_key: str) -> str:
    return f"EXPORTREQ#{hashlib.sha256(idempotency_key.encode()).hexdigest()}"


# WeChat Pay (usecases/wechat_pay.py, store/wechat_pay.py). A transaction is credited under
# WeChat's own transaction id, in a partition apart from the merchants' topup ids.
WXPAY_ORDER_SK = "ORDER"


def wxpay_pk(out_trade_no: str) -> str:
    return f"WXPAY#{out_trade_no}"


def wxpay_anomaly_sk(transaction_id: str) -> str:
    return f"ANOMALY#{transaction_id}"


def wxtxn_pk(transaction_id: str) -> str:
    return f"WXTXN#{transaction_id}"


def wxpay_refund_sk(out_refund_no: str) -> str:
    return f"REFUND#{out_refund_no}"


def wxpay_open_bucket(shard: int) -> str:
    """A bucket of the `wechat_pay_open` index: orders and refunds WeChat Pay has not settled."""
    return f"WXOPEN#{shard}"


# Every anomaly once more in one partition, in the order they were found, for the operators' list.
WXPAY_ANOMALIES_PK = "WXPAY#ANOMALIES"


WXPAY_ANOMALY_ENTRY_PREFIX = "AT#"


def wxpay_anomaly_entry_sk(created_at: str, transaction_id: str) -> str:
    return f"{WXPAY_ANOMALY_ENTRY_PREFIX}{created_at}#{transaction_id}"
