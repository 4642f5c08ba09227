// The API operations the app uses, one function each (openapi.yaml has the bodies).
import { newIdempotencyKey, request } from "./api";
import type {
  CheckInResult,
  CheckInState,
  Closure,
  Consents,
  Coupon,
  Feedback,
  FeedbackCategory,
  LedgerEntry,
  Member,
  Page,
  ProductCodeScan,
  Program,
  Redemption,
  Reward,
  Survey,
  SurveyAnswer,
  SurveyAnswered,
  TokenResponse,
  Transfer,
  TransferAllowance,
  VerificationSent,
  WalletStatement,
  WechatBindings,
  WechatSession,
} from "./types";

function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

export const signUp = (body: { phone: string; name: string; referral_code?: string }) =>
  request<VerificationSent>("/v1/signup", { method: "POST", body, auth: false });

export const requestCode = (phone: string, channel?: "email") =>
  request<VerificationSent>("/v1/auth/code", { method: "POST", body: channel ? { phone, channel } : { phone }, auth: false });

export const verifyCode = (phone: string, code: string) =>
  request<TokenResponse>("/v1/auth/verify", { method: "POST", body: { phone, code }, auth: false });

export const signOut = () => request<unknown>("/v1/me/sign-out", { method: "POST", body: {} });

export const program = () => request<Program>("/v1/program", { auth: false });
export const rewards = () => request<Page<Reward>>("/v1/rewards?limit=100", { auth: false });

export const me = () => request<Member>("/v1/me");
export const ledger = (cursor?: string | null, limit = 20) => request<Page<LedgerEntry>>(`/v1/me/ledger${query({ limit, cursor })}`);
export const wallet = (cursor?: string | null) => request<WalletStatement>(`/v1/me/wallet${query({ limit: 20, cursor })}`);
export const coupons = (cursor?: string | null) => request<Page<Coupon>>(`/v1/me/coupons${query({ limit: 50, cursor })}`);

/** One attempt = one key: a retry of the same attempt (after a timeout) reuses it, so nothing is spent twice. */
export const redeem = (rewardId: string, idempotencyKey: string = newIdempotencyKey()) =>
  request<Redemption>("/v1/me/redemptions", { method: "POST", body: { reward_id: rewardId }, headers: { "Idempotency-Key": idempotencyKey } });

export interface ProfileChanges {
  name?: string;
  email?: string | null;
  birthday?: string;
  gender?: Member["gender"];
  preferences?: string[];
  consents?: Partial<Consents>;
}

export const updateProfile = (changes: ProfileChanges) => request<Member>("/v1/me", { method: "PATCH", body: changes });
export const verifyEmail = (code: string) => request<Member>("/v1/me/email/verify", { method: "POST", body: { code } });
export const requestPhoneChange = (phone: string) => request<VerificationSent>("/v1/me/phone", { method: "POST", body: { phone } });
export const verifyPhoneChange = (phone: string, code: string) => request<Member>("/v1/me/phone/verify", { method: "POST", body: { phone, code } });
export const closeAccount = (reason: string) => request<Closure>("/v1/me", { method: "DELETE", body: { reason } });
export const exportData = () => request<unknown>("/v1/me/export");

export const feedback = (cursor?: string | null) => request<Page<Feedback>>(`/v1/me/feedback${query({ limit: 20, cursor })}`);
export const sendFeedback = (body: { category: FeedbackCategory; text: string; order_id?: string }, idempotencyKey: string) =>
  request<Feedback>("/v1/me/feedback", { method: "POST", body, headers: { "Idempotency-Key": idempotencyKey } });

// The daily check-in (签到): once a program-time day; a second one answers the first (nothing twice).
export const checkInState = () => request<CheckInState>("/v1/me/check-ins");
export const checkIn = () => request<CheckInResult>("/v1/me/check-ins", { method: "POST", body: {} });

// Surveys (问卷): answered once; a second answer is 409 already_answered (nothing paid twice).
export const surveys = () => request<Page<Survey>>("/v1/me/surveys");
export const survey = (surveyId: string) => request<Survey>(`/v1/me/surveys/${encodeURIComponent(surveyId)}`);
export const answerSurvey = (surveyId: string, answers: Record<string, SurveyAnswer>) =>
  request<SurveyAnswered>(`/v1/me/surveys/${encodeURIComponent(surveyId)}/responses`, { method: "POST", body: { answers } });
// Scan-to-earn (一物一码): a code printed on a product; the same code again answers the first (200).
export const scanProductCode = (code: string) => request<ProductCodeScan>("/v1/me/product-codes", { method: "POST", body: { code } });

// Points transfer (转赠): one key per confirmation (lib/transfers.ts); the same key and body again
// answers the first transfer (200), so a retry never gives twice.
export const transfer = (body: { to_phone: string; points: number; note?: string }, idempotencyKey: string) =>
  request<Transfer>("/v1/me/transfers", { method: "POST", body, headers: { "Idempotency-Key": idempotencyKey } });
// What is left of today's transfer limits, counted as the next transfer counts them.
export const transferAllowance = () => request<TransferAllowance>("/v1/me/transfers/allowance");
// WeChat sign-in from an official-account page (lib/wechat.ts): the OAuth code, then (an openid
// nobody holds yet) the ticket with the phone and our SMS code; the member's binding on the profile.
export const wechatSession = (code: string) =>
  request<WechatSession>("/v1/wechat/sessions", { method: "POST", body: { code, app: "official_account" }, auth: false });
export const bindWechat = (wechatTicket: string, phone: string, code: string) =>
  request<{ status: "signed_in" } & TokenResponse>("/v1/wechat/bindings", { method: "POST", body: { wechat_ticket: wechatTicket, phone, code }, auth: false });
export const myWechat = () => request<WechatBindings>("/v1/me/wechat");
export const unbindWechat = () => request<WechatBindings>("/v1/me/wechat", { method: "DELETE" });
