// Where the member stands against the program's tiers, from the server's `tier_progress` (GET /v1/me):
// points from purchases in the trailing window of months, computed by the same rules that upgrade the
// member. The program (GET /v1/program) gives the tiers' names.
import type { Member, Program, ProgramTier } from "./types";

export interface TierStanding {
  current: ProgramTier | null;
  next: ProgramTier | null;
  /** Points from purchases in the window (the server's `qualifying_points`). */
  earnedInWindow: number;
  /** What the next tier still takes (0 when reached, pending the tier's update); null at the top. */
  needed: number | null;
  /** 0..100 towards the next tier. */
  percent: number;
}

export function tierStanding(member: Pick<Member, "tier" | "tier_progress">, program: Program): TierStanding {
  const progress = member.tier_progress;
  const byId = (id: string | null) => program.tiers.find((t) => t.tier_id === id) ?? null;
  const current = byId(member.tier);
  const earned = progress.qualifying_points;
  if (progress.next_tier === null || progress.next_threshold === null) {
    return { current, next: null, earnedInWindow: earned, needed: null, percent: 100 };
  }
  // The server's threshold is the one that applies; the program's tier gives the name.
  const next = { ...(byId(progress.next_tier) ?? { tier_id: progress.next_tier, name: progress.next_tier, multiplier: "1" }), threshold: progress.next_threshold };
  const threshold = progress.next_threshold;
  const percent = threshold > 0 ? Math.min(100, Math.floor((earned * 100) / threshold)) : 100;
  return { current, next, earnedInWindow: earned, needed: progress.points_needed ?? 0, percent };
}
