import { describe, expect, it } from "vitest";
import { ApiError, NETWORK_ERROR } from "./api";
import { errorText } from "./errors";
import { translate } from "./i18n";
import { answered, attemptFor, checkDraft, dayLeft, maskPhone, parsePoints, phoneProblem, pointsProblem, tierMaySend } from "./transfers";
import type { TransferAllowance, TransferRules } from "./types";

const RULES: TransferRules = {
  enabled: true,
  min_points: 10,
  max_points: 500,
  max_points_per_day: 800,
  max_transfers_per_day: 3,
  min_balance_kept: 50,
  sender_tiers: [],
};

describe("the points a member types to give", () => {
  it("are a whole number, with thousands separators and spaces forgiven", () => {
    expect(parsePoints("300")).toBe(300);
    expect(parsePoints(" 1,000 ")).toBe(1000);
    expect(["", "-5", "2.5", "1e3", "三百", "0x10", "1234567890"].map(parsePoints)).toEqual([null, null, null, null, null, null, null]);
  });

  it("are held to the program's per-transfer limits and the balance less what must stay, before anything is sent", () => {
    expect(pointsProblem("", RULES, 1000)).toBe("empty");
    expect(pointsProblem("0", RULES, 1000)).toBe("whole");
    expect(pointsProblem("2.5", RULES, 1000)).toBe("whole");
    expect(pointsProblem("9", RULES, 1000)).toBe("below_min");
    expect(pointsProblem("501", RULES, 1000)).toBe("above_max");
    expect(pointsProblem("300", RULES, 200)).toBe("balance");
    expect(pointsProblem("300", RULES, 320)).toBe("kept"); // 20 left, 50 must stay
    expect(pointsProblem("270", RULES, 320)).toBeNull(); // exactly 50 left
    expect(pointsProblem("500", RULES, 1000)).toBeNull();
  });

  it("leave the day's limits to the API when what is left of today could not be read", () => {
    expect(pointsProblem("500", { ...RULES, max_points_per_day: 500 }, 1000)).toBeNull();
    expect(pointsProblem("500", RULES, 1000, null)).toBeNull();
  });

  it("are held to what is left of today when it was read, after the per-transfer limits", () => {
    const allowance = (points: number, transfers: number, may_send = true, resets_at = "2999-12-02T16:00:00Z"): TransferAllowance => ({
      day: "2026-12-02",
      resets_at,
      may_send,
      sent_today: { points: 800 - points, transfers: 3 - transfers },
      left_today: { points, transfers },
      most_points_now: Math.min(points, 500),
    });
    expect(pointsProblem("301", RULES, 1000, allowance(300, 2))).toBe("above_day");
    expect(pointsProblem("300", RULES, 1000, allowance(300, 2))).toBeNull();
    expect(pointsProblem("501", RULES, 1000, allowance(300, 2))).toBe("above_max"); // the per-transfer limit is said first
    expect(pointsProblem("10", RULES, 1000, allowance(0, 2))).toBe("day_used_up");
    expect(pointsProblem("10", RULES, 1000, allowance(300, 0))).toBe("day_used_up");
    expect(pointsProblem("300", RULES, 320, allowance(300, 2))).toBe("kept"); // within today, not within the balance
    // A member who may not send at all is told so by the screen, not by the field.
    expect(pointsProblem("10", RULES, 1000, allowance(0, 0, false))).toBeNull();
    // A figure from before today's reset (the screen left open past midnight) holds nothing back: the API decides.
    expect(pointsProblem("10", RULES, 1000, allowance(0, 0, true, "2000-01-01T16:00:00Z"))).toBeNull();
    expect(dayLeft(allowance(0, 0, true, "2026-12-02T16:00:00Z"), Date.parse("2026-12-02T15:59:59Z"))).toEqual({ state: "used_up" });
    expect(dayLeft(allowance(0, 0, true, "2026-12-02T16:00:00Z"), Date.parse("2026-12-02T16:00:00Z"))).toBeNull();
    expect(checkDraft({ phone: "13800138000", points: "301", note: "" }, RULES, 1000, allowance(300, 2))).toEqual({
      draft: null,
      phone: null,
      points: "above_day",
    });
  });
});

describe("the receiver's phone", () => {
  it("is sent as typed (trimmed): the API reads it in the program's region or in E.164, as at sign-in", () => {
    expect(phoneProblem("  ")).toBe("empty");
    expect(phoneProblem("12")).toBe("length");
    expect(phoneProblem("+86 138 0013 8000 0000 0000 0000 00")).toBe("length");
    expect(checkDraft({ phone: " +8613800138000 ", points: "20", note: "  " }, RULES, 1000)).toEqual({
      draft: { to_phone: "+8613800138000", points: 20 },
      phone: null,
      points: null,
    });
    expect(checkDraft({ phone: "13800138000", points: "20", note: " 生日快乐 " }, RULES, 1000).draft).toEqual({
      to_phone: "13800138000",
      points: 20,
      note: "生日快乐",
    });
  });

  it("gives no draft while a field is wrong, and says which", () => {
    expect(checkDraft({ phone: "", points: "9999", note: "" }, RULES, 1000)).toEqual({ draft: null, phone: "empty", points: "above_max" });
  });

  it("is masked in the confirmation: the first three and the last four digits", () => {
    expect(maskPhone("13800138000")).toBe("138****8000");
    expect(maskPhone("138-0013 8000")).toBe("138****8000");
    expect(maskPhone("+8613800138000")).toBe("+86*******8000");
    expect(maskPhone("5551234")).toBe("***1234");
    expect(maskPhone("1234")).toBe("1234");
  });
});

describe("one confirmation, one Idempotency-Key", () => {
  let n = 0;
  const newKey = () => `key-${++n}`;
  const draft = { to_phone: "13800138000", points: 20 };

  it("keeps the key of an unanswered attempt for the same draft, so a retry cannot give twice", () => {
    const first = attemptFor(null, draft, newKey);
    expect(attemptFor(first, { ...draft }, newKey).key).toBe(first.key);
  });

  it("takes a new key when the draft changed (the old key would be a conflict) or nothing was pending", () => {
    const first = attemptFor(null, draft, newKey);
    expect(attemptFor(first, { ...draft, points: 21 }, newKey).key).not.toBe(first.key);
    expect(attemptFor(first, { ...draft, note: "hi" }, newKey).key).not.toBe(first.key);
    expect(attemptFor(null, draft, newKey).key).not.toBe(first.key);
  });

  it("counts a 4xx as a definite answer and a lost answer (network, 5xx) as one to retry with the same key", () => {
    expect(answered(new ApiError(422, "transfer_limit", "", ""))).toBe(true);
    expect(answered(new ApiError(409, "insufficient_points", "", ""))).toBe(true);
    expect(answered(new ApiError(0, NETWORK_ERROR, "", ""))).toBe(false);
    expect(answered(new ApiError(503, "temporarily_unavailable", "", ""))).toBe(false);
    expect(answered(new Error("x"))).toBe(false);
  });
});

describe("who may give", () => {
  it("is every tier when the rules name none, else the tiers named", () => {
    expect(tierMaySend(RULES, "member")).toBe(true);
    expect(tierMaySend({ ...RULES, sender_tiers: ["gold"] }, "member")).toBe(false);
    expect(tierMaySend({ ...RULES, sender_tiers: ["gold"] }, "gold")).toBe(true);
  });
});

describe("the API's refusals of a transfer, in words", () => {
  it("say what went wrong in both languages, and a phone that cannot receive says no more than the API", () => {
    const limit = new ApiError(422, "transfer_limit", "The transfer is outside the program's limits", "At most 800 points a day; 600 sent today");
    expect(errorText(limit, "zh-CN")).toEqual({ summary: "超出转赠限额", detail: "At most 800 points a day; 600 sent today" });
    expect(errorText(limit, "en").summary).toBe("Over the limits for giving points");
    const unavailable = new ApiError(422, "recipient_unavailable", "This phone number cannot receive points", "This phone number cannot receive points");
    expect(errorText(unavailable, "en")).toEqual({ summary: "This phone number cannot receive points", detail: "" });
    expect(errorText(unavailable, "zh-CN").summary).toBe("该手机号无法接收积分");
    expect(errorText(new ApiError(422, "transfer_to_self", "", "x"), "zh-CN").summary).toBe("不能转赠给自己");
    expect(errorText(new ApiError(422, "transfer_not_allowed", "", "x"), "en").summary).toBe("Giving points is not available");
    expect(errorText(new ApiError(403, "member_frozen", "", "x"), "zh-CN").summary).toBe("会员账户已冻结");
  });

  it("and the history names both sides of a transfer", () => {
    expect(translate("en", "ledger.transfer_out")).toBe("Points given to another member");
    expect(translate("zh-CN", "ledger.transfer_in")).toBe("收到他人转赠的积分");
  });
});

describe("what is left of today's limits", () => {
  const allowance = (left: { points: number; transfers: number }, may_send = true) => ({
    day: "2026-12-01",
    resets_at: "2026-12-02T00:00:00+08:00",
    may_send,
    sent_today: { points: 800 - left.points, transfers: 3 - left.transfers },
    left_today: left,
    most_points_now: Math.min(left.points, 500),
  });

  const during = Date.parse("2026-12-01T12:00:00+08:00"); // the day the figure is of

  it("are the day's points and transfers the API says are left, until either is spent", () => {
    expect(dayLeft(allowance({ points: 770, transfers: 2 }), during)).toEqual({ state: "left", points: 770, transfers: 2 });
    expect(dayLeft(allowance({ points: 770, transfers: 0 }), during)).toEqual({ state: "used_up" });
    expect(dayLeft(allowance({ points: 0, transfers: 2 }), during)).toEqual({ state: "used_up" });
  });

  it("say nothing when the member may not give at all (the screen says why), the figure is not there or its day is over", () => {
    expect(dayLeft(allowance({ points: 800, transfers: 3 }, false), during)).toBeNull();
    expect(dayLeft(null)).toBeNull();
    expect(dayLeft(allowance({ points: 0, transfers: 0 }), Date.parse("2026-12-02T00:00:01+08:00"))).toBeNull();
  });

  it("read as a sentence in both languages", () => {
    expect(translate("en", "transfer.left_today", { points: "770", count: "2" })).toBe("Left for today: 770 points, 2 more transfers");
    expect(translate("zh-CN", "transfer.left_today", { points: "770", count: "2" })).toBe("今天还可转赠 770 积分、2 次");
  });
});
