import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, NETWORK_ERROR, UNEXPECTED_RESPONSE, newIdempotencyKey, parseRetryAfter, problemFrom, request, useFetch } from "./api";
import { current, signedOutReason, startSession } from "./session";

const PROBLEM = "application/problem+json";

describe("problem details from the API", () => {
  it("given a problem+json answer, then its code, detail, field errors and Retry-After are kept", () => {
    const body = JSON.stringify({
      type: "https://huiyuan.example/problems/validation_error",
      title: "The request is not valid",
      status: 400,
      detail: "phone: not a valid phone number",
      code: "validation_error",
      errors: [{ field: "phone", message: "not a valid phone number" }, { nonsense: true }],
    });
    const error = problemFrom(400, PROBLEM, body, null);
    expect(error).toMatchObject({ status: 400, code: "validation_error", detail: "phone: not a valid phone number", retryAfter: null });
    expect(error.errors).toEqual([{ field: "phone", message: "not a valid phone number" }]);
    expect(problemFrom(429, PROBLEM, JSON.stringify({ code: "too_many_attempts", detail: "Wait" }), "42").retryAfter).toBe(42);
  });

  it("given an answer that is not a problem (a gateway's HTML, broken JSON), then it is still an error with its status", () => {
    for (const [type, body] of [
      ["text/html", "<html>Bad gateway</html>"],
      [PROBLEM, "{not json"],
      ["application/json", '{"message": "Internal server error"}'],
    ]) {
      expect(problemFrom(502, type, body, null)).toMatchObject({ status: 502, code: UNEXPECTED_RESPONSE, detail: "HTTP 502" });
    }
  });

  it("reads Retry-After in seconds, and nothing else", () => {
    expect(parseRetryAfter("60")).toBe(60);
    expect(parseRetryAfter(" 1.2 ")).toBe(2);
    expect(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT")).toBeNull();
    expect(parseRetryAfter(null)).toBeNull();
  });
});

describe("request", () => {
  afterEach(() => {
    current.value = null;
    signedOutReason.value = null;
  });

  function answering(status: number, body: unknown, type = "application/json") {
    const calls: { url: string; init: RequestInit }[] = [];
    useFetch(async (url, init) => {
      calls.push({ url: String(url), init: init ?? {} });
      return new Response(typeof body === "string" ? body : JSON.stringify(body), { status, headers: { "content-type": type } });
    });
    return calls;
  }

  it("sends a JSON body as application/json with the member's bearer token", async () => {
    startSession("tok-1", 900);
    const calls = answering(200, { ok: true });
    await request("/v1/me", { method: "PATCH", body: { name: "张伟" } });
    const headers = calls[0].init.headers as Record<string, string>;
    expect(headers["Content-Type"]).toBe("application/json");
    expect(headers.Authorization).toBe("Bearer tok-1");
    expect(calls[0].init.body).toBe('{"name":"张伟"}');
    expect(calls[0].init.credentials).toBe("omit");
  });

  it("given a 401 unauthorized, then the session ends as expired", async () => {
    startSession("tok-1", 900);
    answering(401, { code: "unauthorized", detail: "Missing or invalid credentials", status: 401, title: "x", type: "x" }, PROBLEM);
    await expect(request("/v1/me")).rejects.toBeInstanceOf(ApiError);
    expect(current.value).toBeNull();
    expect(signedOutReason.value).toBe("expired");
  });

  it("given a 401 invalid_code (a wrong email code), then the member stays signed in", async () => {
    startSession("tok-1", 900);
    answering(401, { code: "invalid_code", detail: "The code is wrong, used or expired" }, PROBLEM);
    await expect(request("/v1/me/email/verify", { method: "POST", body: { code: "000000" } })).rejects.toMatchObject({ code: "invalid_code" });
    expect(current.value?.token).toBe("tok-1");
  });

  it("given no live session, then a member route is not called and reads as an expired session", async () => {
    const calls = answering(200, {});
    await expect(request("/v1/me")).rejects.toMatchObject({ status: 401, code: "unauthorized" });
    expect(calls).toHaveLength(0);
  });

  it("given the network fails, then the error says so and the session stays", async () => {
    startSession("tok-1", 900);
    useFetch(vi.fn().mockRejectedValue(new TypeError("Failed to fetch")));
    await expect(request("/v1/me")).rejects.toMatchObject({ status: 0, code: NETWORK_ERROR });
    expect(current.value).not.toBeNull();
  });
});

describe("idempotency keys", () => {
  it("are UUID v4, from crypto.randomUUID or, where that is missing, from random bytes", () => {
    const v4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    expect(newIdempotencyKey()).toMatch(v4);
    const noRandomUUID = { getRandomValues: (bytes: Uint8Array) => crypto.getRandomValues(bytes) } as unknown as Crypto;
    const keys = new Set(Array.from({ length: 50 }, () => newIdempotencyKey(noRandomUUID)));
    expect(keys.size).toBe(50);
    for (const key of keys) expect(key).toMatch(v4);
  });
});
