// Two languages, Simplified Chinese by default and English. `?lang=en` (or `?lang=zh-CN`) on any
// page picks one and keeps it for the session; the switch in the header does the same.
// A dictionary and a `t` function are all the app needs: no plural rules beyond what the
// messages say themselves, and nothing compiled at run time.
import { computed, ref } from "vue";
import { en } from "../locales/en";
import { zhCN, type Messages } from "../locales/zh-CN";

export type Locale = "zh-CN" | "en";
export type MessageKey = keyof Messages;
export type Params = Record<string, string | number>;

export const LOCALES: Record<Locale, Messages> = { "zh-CN": zhCN, en };
export const DEFAULT_LOCALE: Locale = "zh-CN";
export const LANG_KEY = "huiyuan.lang";

/** `en`, `en-US` -> en; `zh`, `zh-CN`, `zh-Hans` -> zh-CN; anything else -> null. */
export function localeFrom(value: string | null | undefined): Locale | null {
  if (!value) return null;
  const v = value.trim().toLowerCase();
  if (v === "en" || v.startsWith("en-")) return "en";
  if (v === "zh" || v.startsWith("zh-")) return "zh-CN";
  return null;
}

export function format(template: string, params: Params = {}): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

export function translate(locale: Locale, key: MessageKey, params?: Params): string {
  return format(LOCALES[locale][key] ?? LOCALES[DEFAULT_LOCALE][key] ?? key, params);
}

function initialLocale(): Locale {
  if (typeof window === "undefined") return DEFAULT_LOCALE;
  const fromUrl = localeFrom(new URLSearchParams(window.location.search).get("lang"));
  try {
    if (fromUrl) sessionStorage.setItem(LANG_KEY, fromUrl);
    return fromUrl ?? localeFrom(sessionStorage.getItem(LANG_KEY)) ?? DEFAULT_LOCALE;
  } catch {
    return fromUrl ?? DEFAULT_LOCALE;
  }
}

export const locale = ref<Locale>(initialLocale());
export const isEnglish = computed(() => locale.value === "en");

export function setLocale(next: Locale): void {
  locale.value = next;
  try {
    sessionStorage.setItem(LANG_KEY, next);
  } catch {
    // kept in memory only
  }
  if (typeof document !== "undefined") document.documentElement.lang = next;
}

export function t(key: MessageKey, params?: Params): string {
  return translate(locale.value, key, params);
}
