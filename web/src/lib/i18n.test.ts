import { describe, expect, it } from "vitest";
import { en } from "../locales/en";
import { zhCN } from "../locales/zh-CN";
import { format, localeFrom, translate } from "./i18n";

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("the two languages", () => {
  it("have the same messages, each with the same placeholders", () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(zhCN).sort());
    const mismatched = Object.keys(zhCN).filter(
      (key) => placeholders(zhCN[key as keyof typeof zhCN]).join() !== placeholders(en[key as keyof typeof en]).join(),
    );
    expect(mismatched).toEqual([]);
  });

  it("keep the English names of ../shared/WEB.md's contract", () => {
    const contract = {
      "nav.home": "Home",
      "nav.rewards": "Rewards",
      "nav.history": "History",
      "nav.wallet": "Wallet",
      "nav.coupons": "Coupons",
      "nav.profile": "Profile",
      "nav.sign_out": "Sign out",
      "field.phone": "Phone",
      "field.name": "Name",
      "field.code": "Code",
      "field.referral_code": "Referral code",
      "field.email": "Email",
      "field.birthday": "Birthday",
      "auth.send_code": "Send code",
      "auth.sign_in": "Sign in",
      "signin.sign_up": "Sign up",
      "rules.link": "Program rules",
      "signin.lost_phone": "Lost your phone?",
      "home.balance": "Points balance",
      "wallet.balance": "Wallet balance",
      "coupon.qr_alt": "Coupon QR code",
      "history.caption": "Points history",
      "profile.save": "Save",
      "profile.close": "Close account",
      "rewards.redeem": "Redeem",
    } as const;
    for (const [key, name] of Object.entries(contract)) expect(en[key as keyof typeof en], key).toBe(name);
  });

  it("are picked by ?lang= in its usual spellings, anything else leaving the default", () => {
    expect(["en", "EN", "en-GB"].map(localeFrom)).toEqual(["en", "en", "en"]);
    expect(["zh", "zh-CN", "zh-Hans"].map(localeFrom)).toEqual(["zh-CN", "zh-CN", "zh-CN"]);
    expect([null, "", "fr", "english"].map(localeFrom)).toEqual([null, null, null, null]);
  });

  it("fill placeholders, and leave an unknown one visible rather than blank", () => {
    expect(format("{points} points expire on {date}.", { points: "1,288", date: "1 Dec 2027" })).toBe("1,288 points expire on 1 Dec 2027.");
    expect(format("Hello, {name}", {})).toBe("Hello, {name}");
    expect(translate("zh-CN", "home.hello", { name: "张伟" })).toBe("张伟，您好");
  });
});
