// The member's session: the access token from POST /v1/auth/verify, kept in sessionStorage
// (this tab only, gone when the tab closes; never a cookie, so never sent to or readable by
// another origin). A reload keeps the member signed in until the token's own expiry.
import { ref } from "vue";

export interface Session {
  token: string;
  /** Epoch milliseconds after which the API will refuse the token. */
  expiresAt: number;
}

export const SESSION_KEY = "huiyuan.session";
// Treat the token as gone a little before the API does, so a request never races its expiry.
export const EXPIRY_MARGIN_MS = 5_000;

type KeyValueStore = Pick<Storage, "getItem" | "setItem" | "removeItem">;

export function sessionFromVerify(accessToken: string, expiresInSeconds: number, now: number): Session {
  return { token: accessToken, expiresAt: now + expiresInSeconds * 1000 };
}

export function isLive(session: Session | null, now: number): session is Session {
  return session !== null && now < session.expiresAt - EXPIRY_MARGIN_MS;
}

/** The stored session if it is well formed and not expired; anything else is removed. */
export function readSession(store: KeyValueStore, now: number): Session | null {
  const raw = store.getItem(SESSION_KEY);
  if (!raw) return null;
  try {
    const parsed = JSON.parse(raw) as Partial<Session>;
    if (typeof parsed.token === "string" && parsed.token && typeof parsed.expiresAt === "number") {
      const session = { token: parsed.token, expiresAt: parsed.expiresAt };
      if (isLive(session, now)) return session;
    }
  } catch {
    // not ours, or damaged: dropped below
  }
  store.removeItem(SESSION_KEY);
  return null;
}

export function writeSession(store: KeyValueStore, session: Session | null): void {
  if (session) store.setItem(SESSION_KEY, JSON.stringify(session));
  else store.removeItem(SESSION_KEY);
}

function browserStore(): KeyValueStore | null {
  try {
    return typeof sessionStorage === "undefined" ? null : sessionStorage;
  } catch {
    return null; // storage disabled (some in-app browsers): the session lives in memory only
  }
}

// Why the member is looking at the sign-in page, when it was not their choice.
export type SignedOutReason = "expired" | "signed_out" | "closed" | null;

const store = browserStore();
const stored = store?.getItem(SESSION_KEY) ?? null;
export const current = ref<Session | null>(store ? readSession(store, Date.now()) : null);
// A session this tab had, past its expiry when the page (re)loads: sign-in says so.
export const signedOutReason = ref<SignedOutReason>(stored && !current.value ? "expired" : null);

export function startSession(accessToken: string, expiresInSeconds: number): void {
  current.value = sessionFromVerify(accessToken, expiresInSeconds, Date.now());
  signedOutReason.value = null;
  if (store) writeSession(store, current.value);
}

export function endSession(reason: SignedOutReason): void {
  current.value = null;
  signedOutReason.value = reason;
  if (store) writeSession(store, null);
}

/** The token if the session is still live; an expired one ends the session ("expired"). */
export function liveToken(): string | null {
  if (isLive(current.value, Date.now())) return current.value.token;
  if (current.value) endSession("expired");
  return null;
}
