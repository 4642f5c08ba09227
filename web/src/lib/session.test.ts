import { describe, expect, it } from "vitest";
import { EXPIRY_MARGIN_MS, SESSION_KEY, isLive, readSession, sessionFromVerify, writeSession } from "./session";

function memoryStore(initial: Record<string, string> = {}) {
  const data = new Map(Object.entries(initial));
  return {
    data,
    getItem: (k: string) => data.get(k) ?? null,
    setItem: (k: string, v: string) => void data.set(k, v),
    removeItem: (k: string) => void data.delete(k),
  };
}

describe("the session kept in sessionStorage", () => {
  const now = 1_700_000_000_000;

  it("given verify's expires_in, when it is stored and read back before then, then the member is still signed in", () => {
    const store = memoryStore();
    writeSession(store, sessionFromVerify("tok", 900, now));
    expect(readSession(store, now + 60_000)).toEqual({ token: "tok", expiresAt: now + 900_000 });
  });

  it("given a session past its expiry (less a small margin), when it is read, then it is gone from the storage too", () => {
    const store = memoryStore();
    writeSession(store, sessionFromVerify("tok", 900, now));
    expect(readSession(store, now + 900_000 - EXPIRY_MARGIN_MS)).toBeNull();
    expect(store.data.has(SESSION_KEY)).toBe(false);
  });

  it("given something else under the key, when it is read, then it is not taken for a session", () => {
    for (const junk of ["not json", "{}", '{"token":"","expiresAt":1}', '{"token":"t","expiresAt":"soon"}']) {
      const store = memoryStore({ [SESSION_KEY]: junk });
      expect(readSession(store, now)).toBeNull();
      expect(store.data.has(SESSION_KEY)).toBe(false);
    }
  });

  it("is live only before its expiry", () => {
    expect(isLive(null, now)).toBe(false);
    expect(isLive({ token: "t", expiresAt: now + 60_000 }, now)).toBe(true);
    expect(isLive({ token: "t", expiresAt: now + 1_000 }, now)).toBe(false);
  });
});
