// The parts of the HTTP contract (openapi.yaml) the app reads.

export interface Consents {
  sms_marketing: boolean;
  email_marketing: boolean;
  push: boolean;
}

export interface Member {
  member_id: string;
  phone: string;
  name: string;
  email: string | null;
  birthday: string | null;
  status: "pending" | "active" | "frozen" | "closed";
  tier: string;
  points: {
    balance: number;
    lifetime_earned: number;
    expiring: { points: number; expires_on: string }[];
    // Held for a return window: not spendable until available_on (docs/pending-points.md).
    pending_points?: number;
    pending?: { points: number; available_on: string }[];
  };
  tier_progress: TierProgress;
  referral_code: string;
  consents: Consents;
  created_at: string;
  gender?: "female" | "male" | "other" | "undisclosed" | null;
  preferences?: string[];
  pending_email?: string | null;
  // Stamp cards (集点卡): the program's active cards with the member's stamps (docs/earn-rules.md).
  stamp_cards?: StampCard[];
}

export interface StampCard {
  card_id: string;
  name: string;
  stamps: number;
  stamps_needed: number;
  reward_id: string;
}

/** Where the member stands against the next tier (computed by the server; next_* null at the top tier). */
export interface TierProgress {
  qualifying_points: number;
  window_months: number;
  next_tier: string | null;
  next_threshold: number | null;
  points_needed: number | null;
}

export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  member: Member;
}

export interface VerificationSent {
  verification: { channel: "sms" | "email"; expires_in: number };
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Reward {
  reward_id: string;
  name: string;
  points_cost: number;
  stock: number | null;
}

export interface LedgerEntry {
  entry_id: string;
  kind:
    | "earn"
    | "bonus"
    | "redeem"
    | "expire"
    | "refund"
    | "adjust"
    | "action"
    | "check_in"
    | "earn_pending"
    | "pending_cancelled"
    | "points_available"
    | "pending_forfeited"
    | "referral_clawback"
    | "scan"
    | "plan_started"
    | "plan_renewed"
    | "plan_lapsed"
    | "plan_refunded"
    | "plan_ended"
    | "transfer_out"
    | "transfer_in";
  points: number;
  pending?: number;
  balance_after: number;
  created_at: string;
  ref: string | null;
}

export interface Redemption {
  redemption_id: string;
  reward_id: string;
  points_spent: number;
  balance: number;
  coupon: { code: string; expires_at: string };
}

export interface WalletEntry {
  entry_id: string;
  kind: "topup" | "bonus" | "payment" | "refund";
  amount: number;
  balance_after: number;
  created_at: string;
  ref: string | null;
}

export interface WalletStatement extends Page<WalletEntry> {
  balance: number;
  currency: string;
}

export interface Coupon {
  code: string;
  kind: "welcome" | "birthday" | "redemption" | "stamp_card";
  reward_id: string | null;
  status: "available" | "redeemed" | "expired" | "revoked";
  expires_at: string;
  created_at: string;
  redeemed_at: string | null;
}

export type FeedbackCategory = "product" | "service" | "store" | "app" | "points" | "other";

export interface Feedback {
  feedback_id: string;
  category: FeedbackCategory;
  text: string;
  order_id: string | null;
  status: "open" | "answered";
  created_at: string;
  answer: { text: string; answered_at: string } | null;
}

export interface ProgramTier {
  tier_id: string;
  name: string;
  threshold: number;
  multiplier: string;
}

export interface Promotion {
  promotion_id: string;
  name: string;
  starts_on: string;
  ends_on: string;
  multiplier: string;
  weekdays: number[];
  applies_today: boolean;
}

export interface Program {
  program_name: string;
  timezone: string;
  today: string;
  currencies: string[];
  earning: { earn_rate: string; rule: string; promotion_multiplier_today: string };
  tiers: ProgramTier[];
  tier_window_months: number;
  welcome: { points: number; coupon: { reward_id: string; name: string } | null };
  birthday: { points: number; multiplier: string; coupon: { reward_id: string; name: string } | null };
  referral: { referrer_points: number; referee_points: number };
  expiry: { points_validity_months: number; rule: string };
  coupon_valid_days: number;
  promotions: { active: Promotion[]; upcoming: Promotion[] };
  // Points transfer (转赠) limits; absent from an API older than the Give points screen.
  transfers?: TransferRules;
  // Where a page inside WeChat sends the member to sign in (null: no official account; lib/wechat.ts).
  wechat_sign_in?: { appid: string; authorize_url: string; scope: "snsapi_base" } | null;
}

/** The program's transfer rules as GET /v1/program shows them (docs/transfers.md). */
export interface TransferRules {
  enabled: boolean;
  min_points: number;
  max_points: number;
  max_points_per_day: number;
  max_transfers_per_day: number;
  min_balance_kept: number;
  sender_tiers: string[];
}

/** GET /v1/me/transfers/allowance: what is left of the program-time day's limits (docs/transfers.md). */
export interface TransferAllowance {
  day: string;
  resets_at: string;
  may_send: boolean;
  sent_today: { points: number; transfers: number };
  left_today: { points: number; transfers: number };
  most_points_now: number;
}

/** POST /v1/me/transfers: what was given (`to_phone` is only the phone's last four digits). */
export interface Transfer {
  transfer_id: string;
  to_phone: string;
  points: number;
  balance: number;
  note: string | null;
  created_at: string;
}


export interface Closure {
  member_id: string;
  status: "closed";
  closed_at: string;
  erase_after: string;
  erasure_date: string;
}

/** The next streak bonus ahead of the member's daily check-ins (GET/POST /v1/me/check-ins). */
export interface NextStreakBonus {
  days: number;
  points: number;
  check_ins_to_go: number;
}

export interface CheckInState {
  enabled: boolean;
  today: string;
  checked_in_today: boolean;
  streak: number;
  last_check_in_on: string | null;
  points_per_check_in: number;
  streak_bonuses: { days: number; points: number }[];
  next_streak_bonus: NextStreakBonus | null;
}

export interface CheckInResult {
  checked_in_on: string;
  streak: number;
  points_awarded: number;
  streak_bonus: number;
  balance: number;
  next_streak_bonus: NextStreakBonus | null;
  checked_in_at: string;
}

// Surveys (问卷): GET /v1/me/surveys, POST /v1/me/surveys/{id}/responses (openapi.yaml).
export type SurveyAnswer = string | number | string[];

export interface SurveyOption {
  option_id: string;
  label: string;
}

export interface SurveyQuestion {
  question_id: string;
  kind: "single_choice" | "multiple_choice" | "rating" | "free_text";
  text: string;
  required: boolean;
  options?: SurveyOption[];
  min_picks?: number;
  max_picks?: number | null;
  scale?: "1-5" | "0-10";
  max_length?: number;
}

export interface SurveyReward {
  points: number;
  coupon_code: string | null;
  coupon_expires_at?: string | null;
}

export interface Survey {
  survey_id: string;
  title: string;
  intro: string | null;
  questions: SurveyQuestion[];
  opens_at: string;
  closes_at: string;
  reward: { points?: number; reward_id?: string } | null;
  state: "scheduled" | "open" | "closed";
  answered: boolean;
  response: { answers: Record<string, SurveyAnswer>; answered_at: string; reward: SurveyReward } | null;
}

export interface SurveyAnswered {
  survey_id: string;
  answered_at: string;
  answers: Record<string, SurveyAnswer>;
  reward: SurveyReward;
  balance: number;
}

/** POST /v1/me/product-codes: what a scanned (or typed) product code earned. */
export interface ProductCodeScan {
  points_earned: number;
  balance: number;
  sku: string;
  name: string;
  batch_id: string;
  entry_id: string;
  redeemed_at: string;
}

// WeChat sign-in (docs/wechat.md): a bound openid signs in; another gets a ticket to prove a phone with.
export type WechatSession = ({ status: "signed_in" } & TokenResponse) | { status: "phone_required"; wechat_ticket: string; expires_in: number; app: string };

export interface WechatBindings {
  bindings: { app: "mini_program" | "official_account"; bound_at?: string }[];
  subscriptions: { template_id: string; remaining: number }[];
}
