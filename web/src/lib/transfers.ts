// Giving points to another member (转赠, POST /v1/me/transfers; docs/transfers.md): what the form
// checks before it asks the member to confirm, the receiver's phone as the confirmation shows
// it, and the Idempotency-Key of an attempt. The API decides everything else (the receiver, the
// day's limits, the balance); the phone is sent as typed, as sign-in sends it: the API reads it
// in the program's default region, or in E.164.
import { ApiError } from "./api";
import type { TransferAllowance, TransferRules } from "./types";

export const NOTE_MAX = 60;
export const PHONE_MAX = 32;

export interface TransferDraft {
  to_phone: string;
  points: number;
  note?: string;
}

export type PhoneProblem = "empty" | "length";
export type PointsProblem = "empty" | "whole" | "below_min" | "above_max" | "day_used_up" | "above_day" | "balance" | "kept";

export interface DraftCheck {
  draft: TransferDraft | null;
  phone: PhoneProblem | null;
  points: PointsProblem | null;
}

/** The points as typed, or null when they are not a whole number (digits only: no sign, no decimals). */
export function parsePoints(raw: string): number | null {
  const text = raw.trim().replace(/[,\s]/g, "");
  if (!/^\d{1,9}$/.test(text)) return null;
  return Number(text);
}

/** Why the points cannot be given (in the program's per-transfer limits, within what is left of
 * today's when the app could read it, within the balance less what must stay), or null. Without
 * today's allowance the day's limits are the API's to check; with it, they are still checked
 * again by the transfer itself (another device may have given since it was read). */
export function pointsProblem(raw: string, rules: TransferRules, balance: number, allowance: TransferAllowance | null = null): PointsProblem | null {
  if (!raw.trim()) return "empty";
  const points = parsePoints(raw);
  if (points === null || points < 1) return "whole";
  if (points < rules.min_points) return "below_min";
  if (points > rules.max_points) return "above_max";
  const day = dayLeft(allowance);
  if (day?.state === "used_up") return "day_used_up";
  if (day && points > day.points) return "above_day";
  if (points > balance) return "balance";
  if (balance - points < rules.min_balance_kept) return "kept";
  return null;
}

export function phoneProblem(raw: string): PhoneProblem | null {
  const text = raw.trim();
  if (!text) return "empty";
  if (text.length < 3 || text.length > PHONE_MAX) return "length";
  return null;
}

/** The draft to confirm, or what is wrong with each field. */
export function checkDraft(
  input: { phone: string; points: string; note: string },
  rules: TransferRules,
  balance: number,
  allowance: TransferAllowance | null = null,
): DraftCheck {
  const phone = phoneProblem(input.phone);
  const points = pointsProblem(input.points, rules, balance, allowance);
  if (phone || points) return { draft: null, phone, points };
  const note = input.note.trim();
  return { draft: { to_phone: input.phone.trim(), points: parsePoints(input.points)!, ...(note ? { note } : {}) }, phone: null, points: null };
}

/** The phone as the confirmation shows it: the first three and last four characters, the rest
 * hidden ("138****8000"); separators dropped. Shorter numbers keep only the last four. */
export function maskPhone(raw: string): string {
  const compact = raw.trim().replace(/[\s\-().]/g, "");
  if (compact.length <= 4) return compact;
  if (compact.length < 8) return "*".repeat(compact.length - 4) + compact.slice(-4);
  return compact.slice(0, 3) + "*".repeat(compact.length - 7) + compact.slice(-4);
}

/** What is left of today's limits, as the screen says it: nothing to say when the member may not
 * send at all (the screen says why) or the figure is from before the day's reset, "used_up" when no transfer can go today (the day's transfers
 * or points are spent), else the day's points and transfers left. */
export type DayLeft = { state: "used_up" } | { state: "left"; points: number; transfers: number };

export function dayLeft(allowance: TransferAllowance | null, now: number = Date.now()): DayLeft | null {
  // A figure read before today's reset (the screen stayed open past midnight) says nothing of today.
  if (!allowance || !allowance.may_send || Date.parse(allowance.resets_at) <= now) return null;
  const { points, transfers } = allowance.left_today;
  if (points <= 0 || transfers <= 0) return { state: "used_up" };
  return { state: "left", points, transfers };
}

/** Whether the member's tier may send (an empty list: every tier). */
export function tierMaySend(rules: TransferRules, tier: string): boolean {
  return rules.sender_tiers.length === 0 || rules.sender_tiers.includes(tier);
}

export interface Attempt {
  draft: TransferDraft;
  key: string;
}

function sameDraft(a: TransferDraft, b: TransferDraft): boolean {
  return a.to_phone === b.to_phone && a.points === b.points && (a.note ?? "") === (b.note ?? "");
}

/** The attempt for a confirmation: the unanswered one again when the draft is the same (its answer
 * may have been lost: the API answers the first transfer again instead of moving points twice),
 * else a new key. */
export function attemptFor(previous: Attempt | null, draft: TransferDraft, newKey: () => string): Attempt {
  return previous && sameDraft(previous.draft, draft) ? previous : { draft, key: newKey() };
}

/** After an error: whether the attempt's answer was definite (a 4xx: nothing moved, and a new
 * confirmation needs a new key) or may have been lost (network, 5xx: keep the key for a retry). */
export function answered(error: unknown): boolean {
  return error instanceof ApiError && error.status >= 400 && error.status < 500;
}
