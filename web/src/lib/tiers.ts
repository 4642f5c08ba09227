// Where the member stands against the program's tiers (GET /v1/program), and what the next one takes.
//
// A tier is reached by points earned from purchases within the trailing window of months
// (`tier_window_months`, counted in whole calendar months ending with this one, program time
// zone). The API gives the tier, not that sum, so the app adds up the member's own ledger:
// `earn` entries minus `refund` entries created in the window. Bonuses never count.
import { monthIn } from "./format";
import type { LedgerEntry, Program, ProgramTier } from "./types";

export interface TierStanding {
  current: ProgramTier | null;
  next: ProgramTier | null;
  /** Points from purchases in the window, as far as the ledger pages read show. */
  earnedInWindow: number;
  /** What the next tier still takes (0 when reached, pending the tier's update). */
  needed: number | null;
  /** 0..100 towards the next tier. */
  percent: number;
  /** False when the pages read did not reach back to the window's start. */
  complete: boolean;
}

/** The first month ("YYYY-MM") of the window of `months` months that ends with `today`'s month. */
export function windowStart(today: string, months: number): string {
  const [y, m] = today.split("-").map(Number);
  const index = y * 12 + (m - 1) - (months - 1);
  const year = Math.floor(index / 12);
  const month = (index % 12) + 1;
  return `${String(year).padStart(4, "0")}-${String(month).padStart(2, "0")}`;
}

export function earnedInWindow(entries: LedgerEntry[], program: Pick<Program, "today" | "tier_window_months" | "timezone">): number {
  const start = windowStart(program.today, program.tier_window_months);
  let total = 0;
  for (const entry of entries) {
    if (entry.kind !== "earn" && entry.kind !== "refund") continue;
    if (monthIn(entry.created_at, program.timezone) >= start) total += entry.points;
  }
  return Math.max(total, 0);
}

/** True when `entries` (newest first) reach back before the window, so nothing in it is missing. */
export function reachesWindowStart(entries: LedgerEntry[], program: Pick<Program, "today" | "tier_window_months" | "timezone">): boolean {
  const oldest = entries[entries.length - 1];
  return !!oldest && monthIn(oldest.created_at, program.timezone) < windowStart(program.today, program.tier_window_months);
}

export function tierStanding(tierId: string, program: Program, earned: number, complete = true): TierStanding {
  const tiers = [...program.tiers].sort((a, b) => a.threshold - b.threshold);
  const index = tiers.findIndex((t) => t.tier_id === tierId);
  const current = index >= 0 ? tiers[index] : null;
  const next = index >= 0 ? (tiers[index + 1] ?? null) : null;
  if (!next) return { current, next: null, earnedInWindow: earned, needed: null, percent: 100, complete };
  const needed = Math.max(next.threshold - earned, 0);
  const percent = next.threshold > 0 ? Math.min(100, Math.floor((earned * 100) / next.threshold)) : 100;
  return { current, next, earnedInWindow: earned, needed, percent, complete };
}
