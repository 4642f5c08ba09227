import { describe, expect, it } from "vitest";
import { secondsLeft } from "./countdown";

describe("the resend countdown", () => {
  it("counts whole seconds up, and never below zero", () => {
    expect(secondsLeft(61_000, 1_000)).toBe(60);
    expect(secondsLeft(61_000, 1_001)).toBe(60);
    expect(secondsLeft(61_000, 60_500)).toBe(1);
    expect(secondsLeft(61_000, 61_000)).toBe(0);
    expect(secondsLeft(61_000, 90_000)).toBe(0);
  });
});
