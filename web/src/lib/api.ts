// Every call to the API goes through `request`: JSON bodies with Content-Type application/json,
// the member's bearer token, problem+json turned into an ApiError the pages show in words,
// and any 401 `unauthorized` ending the session (the router then shows sign-in, "session expired").
import { endSession, liveToken } from "./session";

export interface FieldProblem {
  field: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail: string,
    readonly errors: FieldProblem[] = [],
    /** Seconds, from Retry-After (429, 503). */
    readonly retryAfter: number | null = null,
  ) {
    super(detail);
    this.name = "ApiError";
  }
}

export const NETWORK_ERROR = "network_error";
export const UNEXPECTED_RESPONSE = "unexpected_response";
// Refused by the page itself, not the API: WeChat's return with a state this tab did not send, and
// a WeChat ticket past its ten minutes (lib/wechat.ts).
export const WECHAT_STATE_MISMATCH = "wechat_state_mismatch";
export const WECHAT_TICKET_EXPIRED = "wechat_ticket_expired";
const TIMEOUT_MS = 30_000;

export function parseRetryAfter(header: string | null): number | null {
  if (!header) return null;
  const seconds = Number(header.trim());
  return Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds) : null;
}

/** The ApiError for a non-2xx answer: its problem details when it has them, else a generic one. */
export function problemFrom(status: number, contentType: string | null, body: string, retryAfterHeader: string | null): ApiError {
  const retryAfter = parseRetryAfter(retryAfterHeader);
  if (contentType && /json/i.test(contentType)) {
    try {
      const p = JSON.parse(body) as Record<string, unknown>;
      if (p && typeof p === "object" && typeof p.code === "string") {
        const errors = Array.isArray(p.errors)
          ? (p.errors as unknown[]).filter(
              (e): e is FieldProblem => !!e && typeof (e as FieldProblem).field === "string" && typeof (e as FieldProblem).message === "string",
            )
          : [];
        const title = typeof p.title === "string" ? p.title : "";
        const detail = typeof p.detail === "string" && p.detail ? p.detail : title;
        return new ApiError(status, p.code, title, detail, errors, retryAfter);
      }
    } catch {
      // fall through: not the problem document it claims to be
    }
  }
  return new ApiError(status, UNEXPECTED_RESPONSE, "", `HTTP ${status}`, [], retryAfter);
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PATCH" | "DELETE";
  body?: unknown;
  headers?: Record<string, string>;
  /** Send the member's token (default). Public routes pass false. */
  auth?: boolean;
}

type Fetch = typeof fetch;
let fetchImpl: Fetch = (...args) => fetch(...args);

/** For the unit tests. */
export function useFetch(impl: Fetch): void {
  fetchImpl = impl;
}

export const API_BASE: string = import.meta.env?.VITE_API_BASE ?? "";

export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const { method = "GET", body, auth = true } = options;
  const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let sentToken = false;
  if (auth) {
    const token = liveToken();
    if (!token) {
      // The session ran out while the page was open: the same as the API saying 401.
      throw new ApiError(401, "unauthorized", "Unauthorized", "Your session has expired");
    }
    headers.Authorization = `Bearer ${token}`;
    sentToken = true;
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  let response: Response;
  try {
    response = await fetchImpl(API_BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal,
      credentials: "omit",
    });
  } catch {
    throw new ApiError(0, NETWORK_ERROR, "", "The service could not be reached");
  } finally {
    clearTimeout(timer);
  }
  const text = await response.text().catch(() => "");
  if (!response.ok) {
    const error = problemFrom(response.status, response.headers.get("content-type"), text, response.headers.get("retry-after"));
    if (response.status === 401 && sentToken && error.code !== "invalid_code") endSession("expired");
    throw error;
  }
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(response.status, UNEXPECTED_RESPONSE, "", `HTTP ${response.status}`);
  }
}

/** A random UUID (v4) for Idempotency-Key: crypto.randomUUID where the page is a secure context. */
export function newIdempotencyKey(random: Crypto = crypto): string {
  if (typeof random.randomUUID === "function") return random.randomUUID();
  const bytes = random.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
