// GET /v1/program, read once per page load and shared (the API lets it be cached for 60 s).
import { ref } from "vue";
import * as api from "./endpoints";
import { translate, type Locale, type MessageKey } from "./i18n";
import type { Program } from "./types";

const cached = ref<Program | null>(null);
let pending: Promise<Program> | null = null;

export function loadProgram(): Promise<Program> {
  if (cached.value) return Promise.resolve(cached.value);
  pending ??= api
    .program()
    .then((p) => (cached.value = p))
    .finally(() => (pending = null));
  return pending;
}

// The repo's default tiers keep their English names in the rules; in Chinese they read as members expect.
const DEFAULT_TIER_NAMES: Record<string, [string, MessageKey]> = {
  member: ["Member", "tier.member"],
  silver: ["Silver", "tier.silver"],
  gold: ["Gold", "tier.gold"],
};

/** The tier's name as the rules give it, or in the member's language for an unrenamed default tier. */
export function tierName(program: Program | null, tierId: string, locale: Locale): string {
  const name = program?.tiers.find((t) => t.tier_id === tierId)?.name ?? tierId;
  const fallback = DEFAULT_TIER_NAMES[tierId];
  return fallback && (name === fallback[0] || name === tierId) ? translate(locale, fallback[1]) : name;
}
