// Numbers, money, dates and ledger entries in words, in the member's language.
import { translate, type Locale, type MessageKey } from "./i18n";
import type { LedgerEntry, WalletEntry } from "./types";

export const PROGRAM_TIMEZONE_DEFAULT = "Asia/Shanghai";

export function formatNumber(n: number, locale: Locale): string {
  return new Intl.NumberFormat(locale).format(n);
}

/** Signed points for a statement: "+1,288", "−500" (a real minus sign). */
export function formatSignedPoints(n: number, locale: Locale): string {
  const abs = formatNumber(Math.abs(n), locale);
  return n > 0 ? `+${abs}` : n < 0 ? `\u2212${abs}` : abs;
}

/** Minor units to text, exactly (no float arithmetic): 58750 CNY -> "¥587.50". */
export function formatMoney(minor: number, currency: string, locale: Locale): string {
  const nf = new Intl.NumberFormat(locale, { style: "currency", currency });
  const digits = nf.resolvedOptions().maximumFractionDigits ?? 2;
  const sign = minor < 0 ? "-" : "";
  const abs = String(Math.abs(Math.trunc(minor))).padStart(digits + 1, "0");
  const decimal = digits ? `${sign}${abs.slice(0, -digits)}.${abs.slice(-digits)}` : `${sign}${abs}`;
  // Intl formats a decimal string exactly (ES2023); older engines read it as a number, which is exact
  // for any amount a wallet holds (< 2^53 minor units).
  return nf.format(decimal as unknown as number);
}

/** "2026-12-31" (a calendar day in the program's time zone) as a date in words. */
export function formatDay(day: string, locale: Locale): string {
  const [y, m, d] = day.split("-").map(Number);
  if (!y || !m || !d) return day;
  return new Intl.DateTimeFormat(locale, { year: "numeric", month: "long", day: "numeric", timeZone: "UTC" }).format(
    new Date(Date.UTC(y, m - 1, d)),
  );
}

/** An ISO timestamp as date and time in the program's time zone. */
export function formatTimestamp(iso: string, locale: Locale, timeZone = PROGRAM_TIMEZONE_DEFAULT): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(locale, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
    timeZone,
  }).format(date);
}

/** An ISO timestamp as ["YYYY-MM-DD", "HH:mm"] in the program's time zone: compact and unambiguous in any language. */
export function timestampParts(iso: string, timeZone = PROGRAM_TIMEZONE_DEFAULT): [string, string] {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return [iso, ""];
  const parts = new Intl.DateTimeFormat("en-CA", {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZone,
  }).formatToParts(date);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  return [`${get("year")}-${get("month")}-${get("day")}`, `${get("hour")}:${get("minute")}`];
}

function monthInWords(yyyyMm: string, locale: Locale): string {
  const [y, m] = yyyyMm.split("-").map(Number);
  if (!y || !m) return yyyyMm;
  return new Intl.DateTimeFormat(locale, { year: "numeric", month: "long", timeZone: "UTC" }).format(new Date(Date.UTC(y, m - 1, 1)));
}

/** What a points ledger entry was, in a sentence a member understands. */
export function describeLedgerEntry(entry: LedgerEntry, locale: Locale): string {
  const ref = entry.ref ?? "";
  const tr = (key: MessageKey, params?: Record<string, string>) => translate(locale, key, params);
  switch (entry.kind) {
    case "earn":
      return ref ? tr("ledger.earn", { order: ref }) : tr("ledger.earn_plain");
    case "refund":
      return ref ? tr("ledger.refund", { order: ref }) : tr("ledger.refund_plain");
    case "redeem":
      return tr("ledger.redeem");
    case "expire": {
      const month = ref.startsWith("lot:") ? ref.slice(4) : "";
      return month ? tr("ledger.expire_lot", { month: monthInWords(month, locale) }) : tr("ledger.expire");
    }
    case "bonus":
      if (ref === "welcome") return tr("ledger.bonus_welcome");
      if (ref === "profile_completion") return tr("ledger.bonus_profile");
      if (ref.startsWith("referral:")) return tr("ledger.bonus_referral");
      if (ref.startsWith("birthday:")) return tr("ledger.bonus_birthday", { year: ref.slice(9) });
      return tr("ledger.bonus");
    case "adjust":
      return ref === "closure:forfeit" ? tr("ledger.adjust_closure") : tr("ledger.adjust");
    case "action":
      return tr("ledger.action");
    case "check_in":
      return tr("ledger.check_in");
    case "earn_pending":
      return tr("ledger.earn_pending", { order: ref, points: String(entry.pending ?? 0) });
    case "pending_cancelled":
      return tr("ledger.pending_cancelled", { order: ref, points: String(-(entry.pending ?? 0)) });
    case "points_available":
      return tr("ledger.points_available");
    case "pending_forfeited":
      return tr("ledger.pending_forfeited");
    case "referral_clawback":
      return tr("ledger.referral_clawback");
    case "scan":
      return tr("ledger.scan");
    case "plan_started":
    case "plan_renewed":
    case "plan_lapsed":
    case "plan_refunded":
    case "plan_ended":
    case "transfer_out":
    case "transfer_in":
      return tr(`ledger.${entry.kind}`);
    default:
      return tr("ledger.other");
  }
}

export function describeWalletEntry(entry: WalletEntry, locale: Locale): string {
  const key = ({ topup: "wallet.kind.topup", bonus: "wallet.kind.bonus", payment: "wallet.kind.payment", refund: "wallet.kind.refund" } as const)[
    entry.kind
  ];
  return key ? translate(locale, key) : entry.kind;
}
