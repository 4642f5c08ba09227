import { describe, expect, it } from "vitest";
import { earnedInWindow, reachesWindowStart, tierStanding, windowStart } from "./tiers";
import type { LedgerEntry, Program } from "./types";

const program = {
  today: "2026-11-30",
  timezone: "Asia/Shanghai",
  tier_window_months: 12,
  tiers: [
    { tier_id: "gold", name: "Gold", threshold: 10_000, multiplier: "1.5" },
    { tier_id: "member", name: "Member", threshold: 0, multiplier: "1" },
    { tier_id: "silver", name: "Silver", threshold: 2_000, multiplier: "1.25" },
  ],
} as unknown as Program;

function entry(kind: LedgerEntry["kind"], points: number, createdAt: string): LedgerEntry {
  return { entry_id: createdAt, kind, points, balance_after: 0, created_at: createdAt, ref: null };
}

describe("the tier window", () => {
  it("is the 12 calendar months ending with this one", () => {
    expect(windowStart("2026-11-30", 12)).toBe("2025-12");
    expect(windowStart("2026-01-15", 1)).toBe("2026-01");
    expect(windowStart("2026-01-15", 13)).toBe("2025-01");
  });

  it("counts purchases less refunds in the window (program time zone), never bonuses", () => {
    const entries = [
      entry("earn", 1200, "2026-11-01T01:00:00+08:00"),
      entry("refund", -200, "2026-10-01T01:00:00+08:00"),
      entry("bonus", 100, "2026-09-01T01:00:00+08:00"),
      entry("redeem", -500, "2026-08-01T01:00:00+08:00"),
      // 2025-11-30 16:30 UTC is 2025-12-01 00:30 in Shanghai: inside the window.
      entry("earn", 300, "2025-11-30T16:30:00+00:00"),
      entry("earn", 5000, "2025-11-30T15:30:00+00:00"),
    ];
    expect(earnedInWindow(entries, program)).toBe(1300);
    expect(reachesWindowStart(entries, program)).toBe(true);
    expect(reachesWindowStart(entries.slice(0, 5), program)).toBe(false);
  });
});

describe("the member's standing", () => {
  it("says what the next tier takes", () => {
    expect(tierStanding("member", program, 1300)).toMatchObject({ next: { tier_id: "silver" }, needed: 700, percent: 65 });
    expect(tierStanding("silver", program, 2500)).toMatchObject({ current: { tier_id: "silver" }, next: { tier_id: "gold" }, needed: 7500 });
  });

  it("has no next tier at the top, and nothing more needed once the threshold is reached", () => {
    expect(tierStanding("gold", program, 50)).toMatchObject({ next: null, needed: null, percent: 100 });
    expect(tierStanding("member", program, 2400)).toMatchObject({ needed: 0, percent: 100 });
  });
});
