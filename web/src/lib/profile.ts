// What the profile form sends: only what the member changed (PATCH /v1/me changes only the fields given).
import type { ProfileChanges } from "./endpoints";
import type { Consents, Member } from "./types";

/** Interests the app offers (ids the API accepts as `preferences`); their words are in the locales. */
export const PREFERENCES = ["coffee", "tea", "desserts", "breakfast", "fuel", "car_care"] as const;
export const GENDERS = ["female", "male", "other", "undisclosed"] as const;

export interface ProfileForm {
  name: string;
  email: string;
  birthday: string;
  gender: string;
  preferences: string[];
  consents: Consents;
}

export function formFromMember(member: Member): ProfileForm {
  return {
    name: member.name,
    email: member.pending_email ?? member.email ?? "",
    birthday: member.birthday ?? "",
    gender: member.gender ?? "",
    preferences: [...(member.preferences ?? [])],
    consents: { ...member.consents },
  };
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

export function profileChanges(member: Member, form: ProfileForm): ProfileChanges {
  const changes: ProfileChanges = {};
  const name = form.name.trim();
  if (name !== member.name) changes.name = name;
  const email = form.email.trim();
  const known = member.pending_email ?? member.email ?? "";
  if (email !== known) changes.email = email || null;
  // The birthday is set once: sent only while none is held.
  if (!member.birthday && form.birthday) changes.birthday = form.birthday;
  const gender = form.gender || null;
  if (gender !== (member.gender ?? null)) changes.gender = gender as Member["gender"];
  if (!sameSet(form.preferences, member.preferences ?? [])) changes.preferences = [...form.preferences];
  const consents: Partial<Consents> = {};
  for (const key of ["sms_marketing", "email_marketing", "push"] as const) {
    if (form.consents[key] !== member.consents[key]) consents[key] = form.consents[key];
  }
  if (Object.keys(consents).length) changes.consents = consents;
  return changes;
}
