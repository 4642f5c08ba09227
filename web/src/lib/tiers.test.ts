import { describe, expect, it } from "vitest";
import { tierStanding } from "./tiers";
import type { Member, Program } from "./types";

const program = {
  tiers: [
    { tier_id: "gold", name: "Gold", threshold: 10_000, multiplier: "1.5" },
    { tier_id: "member", name: "Member", threshold: 0, multiplier: "1" },
    { tier_id: "silver", name: "Silver", threshold: 2_000, multiplier: "1.25" },
  ],
} as unknown as Program;

function member(tier: string, qualifying: number, next: string | null, threshold: number | null): Pick<Member, "tier" | "tier_progress"> {
  const needed = threshold === null ? null : Math.max(threshold - qualifying, 0);
  return { tier, tier_progress: { qualifying_points: qualifying, window_months: 12, next_tier: next, next_threshold: threshold, points_needed: needed } };
}

describe("the member's standing", () => {
  it("says what the next tier takes, from the server's progress", () => {
    expect(tierStanding(member("member", 1300, "silver", 2000), program)).toMatchObject({ next: { tier_id: "silver", name: "Silver" }, needed: 700, percent: 65 });
    expect(tierStanding(member("silver", 2500, "gold", 10000), program)).toMatchObject({ current: { tier_id: "silver" }, next: { tier_id: "gold" }, needed: 7500 });
  });

  it("has no next tier at the top, and nothing more needed once the threshold is reached", () => {
    expect(tierStanding(member("gold", 50, null, null), program)).toMatchObject({ next: null, needed: null, percent: 100 });
    expect(tierStanding(member("member", 2400, "silver", 2000), program)).toMatchObject({ needed: 0, percent: 100 });
  });

  it("uses the server's threshold, whatever the program page loaded earlier said", () => {
    expect(tierStanding(member("member", 1000, "silver", 4000), program)).toMatchObject({ next: { tier_id: "silver", threshold: 4000 }, needed: 3000, percent: 25 });
  });
});
