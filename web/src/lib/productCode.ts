// A product code as the member types or pastes it: the printed form is four groups of four
// Crockford base32 symbols (7KQ2-M9XD-4TPR-HB3C). The server ignores case, spaces and dashes and
// reads O as 0 and I/L as 1; here we only tidy what was pasted and say early when it cannot be a
// code (so a typo costs none of the member's hourly attempts).

const SYMBOLS = /^[0-9A-TV-Z]+$/; // Crockford base32, with O, I and L read as 0, 1, 1 (U is not a symbol)
export const CODE_LENGTH = 16;

/** The code without spaces, dashes or other separators, upper case. */
export function compactCode(raw: string): string {
  return raw.toUpperCase().replace(/[\s\-_.·]/g, "");
}

/** Grouped for reading back: 7KQ2-M9XD-4TPR-HB3C (whatever length was typed). */
export function groupedCode(raw: string): string {
  return (compactCode(raw).match(/.{1,4}/g) ?? []).join("-");
}

/** Why the text cannot be a code ("empty", "length", "symbols"), or null when it may be one. */
export function codeProblem(raw: string): "empty" | "length" | "symbols" | null {
  const code = compactCode(raw);
  if (!code) return "empty";
  if (!SYMBOLS.test(code)) return "symbols";
  if (code.length !== CODE_LENGTH) return "length";
  return null;
}
