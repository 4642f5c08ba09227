import { describe, expect, it } from "vitest";
import { ApiError, NETWORK_ERROR } from "./api";
import { errorText, isLockout, lockoutMinutes, waitSeconds } from "./errors";

describe("an API error in words", () => {
  it("says what went wrong in the member's language, then the problem's own detail", () => {
    const error = new ApiError(409, "insufficient_points", "Not enough points", "Balance 100, the reward costs 500");
    expect(errorText(error, "zh-CN")).toEqual({ summary: "积分不足", detail: "Balance 100, the reward costs 500" });
    expect(errorText(error, "en")).toEqual({ summary: "Not enough points", detail: "Balance 100, the reward costs 500" });
  });

  it("given a code it does not know, then the problem's title, and the detail", () => {
    expect(errorText(new ApiError(409, "something_new", "Something new", "What happened"), "en")).toEqual({
      summary: "Something new",
      detail: "What happened",
    });
    expect(errorText(new ApiError(502, "unexpected_response", "", "HTTP 502"), "en").summary).toBe("The request failed (502)");
  });

  it("given no network, then says to check the connection", () => {
    expect(errorText(new ApiError(0, NETWORK_ERROR, "", "x"), "en")).toEqual({
      summary: "The service cannot be reached",
      detail: "Check your connection and try again.",
    });
  });

  it("tells a lockout and how long to wait", () => {
    const locked = new ApiError(429, "too_many_attempts", "Too many attempts", "Try again later", [], 840);
    expect(isLockout(locked)).toBe(true);
    expect(waitSeconds(locked, 60)).toBe(840);
    expect(waitSeconds(new Error("x"), 60)).toBe(60);
    expect(lockoutMinutes(locked)).toBe(14);
    expect(lockoutMinutes(new ApiError(429, "too_many_attempts", "Too many attempts", "", [], null))).toBe(15);
    expect(lockoutMinutes(new ApiError(429, "too_many_attempts", "Too many attempts", "", [], 5))).toBe(1);
    expect(lockoutMinutes(new ApiError(401, "invalid_code", "Invalid code", ""))).toBeNull();
  });
});
