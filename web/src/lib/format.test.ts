import { describe, expect, it } from "vitest";
import { describeLedgerEntry, formatDay, formatMoney, formatSignedPoints, timestampParts } from "./format";
import type { LedgerEntry } from "./types";

function entry(kind: LedgerEntry["kind"], points: number, ref: string | null): LedgerEntry {
  return { entry_id: "le", kind, points, balance_after: 0, created_at: "2026-05-18T06:03:00+00:00", ref };
}

describe("money", () => {
  it("is formatted from minor units exactly, never through a float", () => {
    expect(formatMoney(58750, "CNY", "zh-CN")).toBe("¥587.50");
    expect(formatMoney(1, "CNY", "en")).toMatch(/0\.01$/);
    expect(formatMoney(900719925474099, "CNY", "en")).toContain("9,007,199,254,740.99");
    expect(formatMoney(0, "CNY", "en")).toMatch(/0\.00$/);
  });
});

describe("points and dates", () => {
  it("signs points with a real minus sign", () => {
    expect([formatSignedPoints(1288, "en"), formatSignedPoints(-500, "en"), formatSignedPoints(0, "en")]).toEqual(["+1,288", "\u2212500", "0"]);
  });

  it("shows a calendar day as that day, whatever the device's time zone", () => {
    expect(formatDay("2027-12-01", "en")).toBe("December 1, 2027");
    expect(formatDay("2027-12-01", "zh-CN")).toBe("2027年12月1日");
  });

  it("puts timestamps in the program's time zone", () => {
    expect(timestampParts("2026-05-18T16:30:00+00:00")).toEqual(["2026-05-19", "00:30"]);
  });
});

describe("a ledger entry in words", () => {
  it("says what each kind of entry was, in both languages", () => {
    expect(describeLedgerEntry(entry("earn", 128, "POS-1"), "en")).toBe("Points for purchase POS-1");
    expect(describeLedgerEntry(entry("refund", -64, "POS-1"), "zh-CN")).toBe("退款扣回积分（订单 POS-1）");
    expect(describeLedgerEntry(entry("redeem", -500, "rd_1"), "en")).toBe("Spent on a reward");
    expect(describeLedgerEntry(entry("expire", -20, "lot:2025-03"), "en")).toBe("Points earned in March 2025 expired");
    expect(describeLedgerEntry(entry("expire", -20, "lot:2025-03"), "zh-CN")).toBe("2025年3月获得的积分已过期");
    expect(describeLedgerEntry(entry("bonus", 100, "welcome"), "en")).toBe("Welcome bonus");
    expect(describeLedgerEntry(entry("bonus", 100, "referral:rf_1"), "zh-CN")).toBe("邀请好友奖励");
    expect(describeLedgerEntry(entry("bonus", 200, "birthday:2026"), "en")).toBe("Birthday gift 2026");
    expect(describeLedgerEntry(entry("bonus", 50, "profile_completion"), "en")).toBe("Bonus for completing your profile");
    expect(describeLedgerEntry(entry("adjust", -80, "closure:forfeit"), "en")).toBe("Balance forfeited: membership closed");
    expect(describeLedgerEntry(entry("adjust", 30, "adj-7"), "en")).toBe("Correction by support");
    expect(describeLedgerEntry(entry("action", 20, "review:rv-1"), "en")).toBe("Points for a review or another action");
    expect(describeLedgerEntry(entry("check_in", 5, "check_in:2026-11-30"), "zh-CN")).toBe("每日签到");
    expect(describeLedgerEntry({ ...entry("earn_pending", 0, "WEB-1"), pending: 600 }, "en")).toBe(
      "600 points pending for purchase WEB-1 (return window)",
    );
    expect(describeLedgerEntry({ ...entry("pending_cancelled", 0, "WEB-1"), pending: -200 }, "zh-CN")).toBe("订单 WEB-1 退款，200 待入账积分已取消");
    expect(describeLedgerEntry(entry("points_available", 400, "release:2026-12-05"), "en")).toBe("Pending points now available");
    expect(describeLedgerEntry(entry("scan", 30, "pcb_1"), "en")).toBe("Points for a product code you scanned");
    expect(describeLedgerEntry(entry("plan_renewed", 0, "pms_1"), "zh-CN")).toBe("付费会员已续费");
    expect(describeLedgerEntry(entry("referral_clawback", -200, "referral:ref_1"), "en")).toBe(
      "Referral bonus taken back: your friend's first purchase was refunded",
    );
  });
});
