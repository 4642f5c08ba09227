import { describe, expect, it } from "vitest";
import type { RouteLocationNormalized } from "vue-router";
import { guard, safeNext } from "./navigation";

function to(path: string, query: Record<string, string> = {}, meta: RouteLocationNormalized["meta"] = {}): RouteLocationNormalized {
  const search = new URLSearchParams(query).toString();
  return { path, query, meta, fullPath: search ? `${path}?${search}` : path } as unknown as RouteLocationNormalized;
}

describe("where a navigation may go", () => {
  it("given a share link /app/?ref=CODE, then sign-up opens with the code (and the language) kept", () => {
    expect(guard(to("/", { ref: "LI8K2Q", lang: "en" }, { guest: true }), false)).toEqual({ path: "/signup", query: { ref: "LI8K2Q", lang: "en" } });
  });

  it("given a member's page and no session, then sign-in, which returns there afterwards", () => {
    expect(guard(to("/history", { lang: "en" }, { member: true }), false)).toEqual({ path: "/", query: { lang: "en", next: "/history?lang=en" } });
    expect(guard(to("/history", {}, { member: true }), true)).toBe(true);
  });

  it("given a signed-in member on sign-in or sign-up, then home", () => {
    expect(guard(to("/signup", {}, { guest: true }), true)).toEqual({ path: "/home" });
    expect(guard(to("/rules"), true)).toBe(true);
    expect(guard(to("/rules"), false)).toBe(true);
  });

  it("returns after sign-in only to a path inside the app", () => {
    expect(safeNext("/history?lang=en")).toBe("/history?lang=en");
    for (const elsewhere of ["//evil.example/x", "/\\evil.example", "https://evil.example", "javascript:alert(1)", "", null, ["/home"]]) {
      expect(safeNext(elsewhere)).toBeNull();
    }
  });
});
