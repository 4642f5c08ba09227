// "Sign in with WeChat" on a page opened inside WeChat (docs/wechat.md, "The web app"): the
// official account's OAuth page (snsapi_base: silent, the openid only) sends the member back here
// with `code` and the `state` we gave it. The state is a random value kept in this tab's
// sessionStorage and taken (once) on return: a code arriving with any other state was not asked
// for by this tab (a forged link, CSRF) and is not used.
import { ref } from "vue";

export const WECHAT_STATE_KEY = "huiyuan.wechat_state";
// WeChat's OAuth round trip takes seconds; a state older than this is not ours any more.
export const STATE_TTL_MS = 10 * 60_000;

/** GET /v1/program's `wechat_sign_in` (null: the program has no official account). */
export interface WechatSignIn {
  appid: string;
  authorize_url: string;
  scope: "snsapi_base";
}

type KeyValueStore = Pick<Storage, "getItem" | "setItem" | "removeItem">;
type Query = Record<string, unknown>;

function single(value: unknown): string | null {
  if (Array.isArray(value)) return single(value[0]);
  return typeof value === "string" ? value : null;
}

/** WeChat's in-app browser says so in its user agent ("MicroMessenger/8.0.47 ..."). */
export function isWechatBrowser(userAgent: string): boolean {
  return /\bMicroMessenger\//i.test(userAgent);
}

/** The WeChat button shows inside WeChat, or with `?wechat=1` (trying the flow in a desktop
 * browser against `make run` and its fake of WeChat). */
export function offersWechat(userAgent: string, query: Query): boolean {
  return isWechatBrowser(userAgent) || single(query.wechat) === "1";
}

/** 32 hex characters from the browser's CSPRNG (WeChat allows [a-zA-Z0-9], up to 128). */
export function newState(random: Pick<Crypto, "getRandomValues"> = crypto): string {
  return Array.from(random.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function rememberState(store: KeyValueStore, state: string, now: number): void {
  store.setItem(WECHAT_STATE_KEY, JSON.stringify({ state, at: now }));
}

/** Whether `returned` is the state this tab sent WeChat (and recently). The stored state is
 * removed whatever the answer: each one is good for one return. */
export function takeState(store: KeyValueStore, returned: string | null, now: number): boolean {
  const raw = store.getItem(WECHAT_STATE_KEY);
  store.removeItem(WECHAT_STATE_KEY);
  if (!raw || !returned) return false;
  try {
    const kept = JSON.parse(raw) as { state?: unknown; at?: unknown };
    return typeof kept.state === "string" && kept.state === returned && typeof kept.at === "number" && now - kept.at >= 0 && now - kept.at < STATE_TTL_MS;
  } catch {
    return false;
  }
}

/** WeChat's authorize page for `config`, sending the member back to `redirectUri` with a code.
 * The parameters in WeChat's documented order (its page is known to care), and its fragment. */
export function authorizeUrl(config: WechatSignIn, redirectUri: string, state: string): string {
  const params = [
    ["appid", config.appid],
    ["redirect_uri", redirectUri],
    ["response_type", "code"],
    ["scope", config.scope],
    ["state", state],
  ];
  return `${config.authorize_url}?${params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&")}#wechat_redirect`;
}

const RETURN_PARAMS = ["code", "state"];

/** Where WeChat sends the member back: this page as it is (language, `next`...), without a previous
 * return's code and state, nor a fragment. */
export function returnUrl(href: string): string {
  const url = new URL(href);
  for (const name of RETURN_PARAMS) url.searchParams.delete(name);
  url.hash = "";
  return url.toString();
}

/** The code and state of WeChat's return, if this page load is one. */
export function wechatReturn(query: Query): { code: string; state: string | null } | null {
  const code = single(query.code);
  return code ? { code, state: single(query.state) } : null;
}

/** The query without WeChat's return parameters (the code is single use: a reload must not send it again). */
export function withoutReturn<Q extends Query>(query: Q): Q {
  return Object.fromEntries(Object.entries(query).filter(([k]) => !RETURN_PARAMS.includes(k))) as Q;
}

/** An openid nobody's membership holds yet: proving a phone with this ticket binds it (POST /v1/wechat/bindings). */
export interface PendingTicket {
  ticket: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

// In memory only (10 minutes): a reload asks WeChat again, which is silent.
export const pendingTicket = ref<PendingTicket | null>(null);

export function liveTicket(pending: PendingTicket | null, now: number): string | null {
  return pending && now < pending.expiresAt - 5_000 ? pending.ticket : null;
}
