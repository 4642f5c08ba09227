// An API error in words: a line in the member's language for what went wrong (by the problem's
// stable `code`), then the problem's own `detail` (which names each invalid field).
import { ApiError, NETWORK_ERROR, WECHAT_STATE_MISMATCH, WECHAT_TICKET_EXPIRED } from "./api";
import { translate, type Locale, type MessageKey } from "./i18n";

export interface ErrorText {
  summary: string;
  detail: string;
}

const SUMMARIES: Record<string, MessageKey> = {
  validation_error: "error.validation_error",
  unauthorized: "error.unauthorized",
  invalid_code: "error.invalid_code",
  too_many_attempts: "error.too_many_attempts",
  invalid_product_code: "error.invalid_product_code",
  member_frozen: "error.member_frozen",
  member_closed: "error.member_closed",
  forbidden: "error.forbidden",
  not_found: "error.not_found",
  insufficient_points: "error.insufficient_points",
  out_of_stock: "error.out_of_stock",
  idempotency_conflict: "error.idempotency_conflict",
  already_closed: "error.already_closed",
  invalid_state: "error.invalid_state",
  phone_taken: "error.phone_taken",
  birthday_locked: "error.birthday_locked",
  payload_too_large: "error.payload_too_large",
  temporarily_unavailable: "error.temporarily_unavailable",
  internal_error: "error.internal_error",
  already_answered: "error.already_answered",
  survey_not_open: "error.survey_not_open",
  invalid_answers: "error.invalid_answers",
  transfer_not_allowed: "error.transfer_not_allowed",
  transfer_to_self: "error.transfer_to_self",
  transfer_limit: "error.transfer_limit",
  recipient_unavailable: "error.recipient_unavailable",
  invalid_wechat_code: "error.invalid_wechat_code",
  wechat_unavailable: "error.wechat_unavailable",
  wechat_error: "error.wechat_unavailable",
  wechat_taken: "error.wechat_taken",
  wechat_not_bound: "error.wechat_not_bound",
  wechat_not_configured: "error.wechat_not_configured",
  [WECHAT_STATE_MISMATCH]: "error.wechat_state_mismatch",
  [WECHAT_TICKET_EXPIRED]: "error.wechat_ticket_expired",
  [NETWORK_ERROR]: "error.network",
};

export function errorText(error: unknown, locale: Locale): ErrorText {
  if (!(error instanceof ApiError)) {
    return { summary: translate(locale, "error.app"), detail: error instanceof Error ? error.message : String(error) };
  }
  const key = SUMMARIES[error.code];
  const summary = key ? translate(locale, key) : error.title || translate(locale, "error.generic", { status: error.status });
  const detail = error.code === NETWORK_ERROR ? translate(locale, "error.network_detail") : error.detail;
  return { summary, detail: detail === summary ? "" : detail };
}

/** For a 429 on a code request: the seconds to wait before asking again. */
export function waitSeconds(error: unknown, fallback: number): number {
  return error instanceof ApiError && error.retryAfter !== null ? error.retryAfter : fallback;
}

export function isLockout(error: unknown): error is ApiError {
  return error instanceof ApiError && error.status === 429 && error.code === "too_many_attempts";
}

/** For a code that was refused: the whole minutes the lockout lasts (15 when the API does not say), or null if it was no lockout. */
export function lockoutMinutes(error: unknown): number | null {
  return isLockout(error) ? Math.max(1, Math.ceil((error.retryAfter ?? 900) / 60)) : null;
}
