import { describe, expect, it } from "vitest";
import {
  STATE_TTL_MS,
  WECHAT_STATE_KEY,
  authorizeUrl,
  isWechatBrowser,
  liveTicket,
  newState,
  offersWechat,
  rememberState,
  returnUrl,
  takeState,
  wechatReturn,
  withoutReturn,
} from "./wechat";

function memoryStore() {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k: string) => data.get(k) ?? null,
    setItem: (k: string, v: string) => void data.set(k, v),
    removeItem: (k: string) => void data.delete(k),
  };
}

const WECHAT_ANDROID =
  "Mozilla/5.0 (Linux; Android 13; V2148A Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202 MMWEBID/2247 MicroMessenger/8.0.47.2560(0x28002F30) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64";
const WECHAT_IPHONE =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.44(0x18002c2d) NetType/WIFI Language/zh_CN";
const SAFARI = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1";
const CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

describe("where the WeChat button shows", () => {
  it("given WeChat's in-app browser on Android or iPhone, then it is recognised", () => {
    expect(isWechatBrowser(WECHAT_ANDROID)).toBe(true);
    expect(isWechatBrowser(WECHAT_IPHONE)).toBe(true);
  });

  it("given an ordinary browser, then it is not WeChat and the button is not offered", () => {
    expect(isWechatBrowser(SAFARI)).toBe(false);
    expect(offersWechat(CHROME, {})).toBe(false);
    expect(offersWechat(CHROME, { wechat: "0" })).toBe(false);
  });

  it("given ?wechat=1, then a desktop browser is offered the button (trying the flow locally)", () => {
    expect(offersWechat(CHROME, { wechat: "1" })).toBe(true);
    expect(offersWechat(WECHAT_IPHONE, {})).toBe(true);
  });
});

describe("the state sent to WeChat and checked on return", () => {
  const now = 1_700_000_000_000;

  it("given the state this tab sent, when WeChat returns it, then it is accepted once", () => {
    const store = memoryStore();
    rememberState(store, "abc123", now);
    expect(takeState(store, "abc123", now + 3_000)).toBe(true);
    expect(store.data.has(WECHAT_STATE_KEY)).toBe(false);
    expect(takeState(store, "abc123", now + 4_000)).toBe(false); // a replayed return link
  });

  it("given another state (a forged link), then it is refused and the kept one is spent too", () => {
    const store = memoryStore();
    rememberState(store, "abc123", now);
    expect(takeState(store, "evil", now + 1_000)).toBe(false);
    expect(takeState(store, "abc123", now + 2_000)).toBe(false);
  });

  it("given no state kept (another tab, storage off) or none returned, then refused", () => {
    expect(takeState(memoryStore(), "abc123", now)).toBe(false);
    const store = memoryStore();
    rememberState(store, "abc123", now);
    expect(takeState(store, null, now)).toBe(false);
  });

  it("given a state older than ten minutes, then refused", () => {
    const store = memoryStore();
    rememberState(store, "abc123", now);
    expect(takeState(store, "abc123", now + STATE_TTL_MS)).toBe(false);
  });

  it("given damaged storage, then refused without throwing", () => {
    const store = memoryStore();
    store.setItem(WECHAT_STATE_KEY, "{not json");
    expect(takeState(store, "abc123", now)).toBe(false);
  });

  it("new states are 32 hex characters and differ", () => {
    const a = newState();
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(newState()).not.toBe(a);
  });
});

describe("the trip to WeChat's authorize page and back", () => {
  const config = { appid: "wx10ca1000000000b2", authorize_url: "https://open.weixin.qq.com/connect/oauth2/authorize", scope: "snsapi_base" as const };

  it("given the page, then WeChat's URL has its parameters in order, the page encoded, and #wechat_redirect", () => {
    const url = authorizeUrl(config, "https://m.example.com/app/?lang=en&next=%2Fwallet", "s1");
    expect(url).toBe(
      "https://open.weixin.qq.com/connect/oauth2/authorize?appid=wx10ca1000000000b2" +
        "&redirect_uri=https%3A%2F%2Fm.example.com%2Fapp%2F%3Flang%3Den%26next%3D%252Fwallet" +
        "&response_type=code&scope=snsapi_base&state=s1#wechat_redirect",
    );
  });

  it("given a page that is itself a return, then the way back keeps the language and next but not the old code and state", () => {
    expect(returnUrl("http://127.0.0.1:8000/app/?lang=en&code=u.1&state=s0&next=%2Fwallet#x")).toBe("http://127.0.0.1:8000/app/?lang=en&next=%2Fwallet");
  });

  it("given WeChat's return, then its code and state are read, and dropped from the query kept", () => {
    expect(wechatReturn({ code: "u.1", state: "s1", lang: "en" })).toEqual({ code: "u.1", state: "s1" });
    expect(wechatReturn({ code: "u.1" })).toEqual({ code: "u.1", state: null });
    expect(wechatReturn({ lang: "en" })).toBeNull();
    expect(withoutReturn({ code: "u.1", state: "s1", lang: "en" })).toEqual({ lang: "en" });
  });

  it("given a ticket, then it is used only before its expiry (less a margin)", () => {
    expect(liveTicket({ ticket: "t", expiresAt: 100_000 }, 50_000)).toBe("t");
    expect(liveTicket({ ticket: "t", expiresAt: 100_000 }, 96_000)).toBeNull();
    expect(liveTicket(null, 0)).toBeNull();
  });
});
