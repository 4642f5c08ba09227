import { describe, expect, it } from "vitest";
import { formFromMember, profileChanges } from "./profile";
import type { Member } from "./types";

const member: Member = {
  member_id: "mbr_1",
  phone: "+8613800138000",
  name: "张伟",
  email: "old@example.com",
  birthday: null,
  status: "active",
  tier: "member",
  points: { balance: 100, lifetime_earned: 100, expiring: [] },
  tier_progress: { qualifying_points: 0, window_months: 12, next_tier: "silver", next_threshold: 2000, points_needed: 2000 },
  referral_code: "ZW7M3P",
  consents: { sms_marketing: false, email_marketing: false, push: true },
  created_at: "2026-11-30T00:00:00+00:00",
  gender: null,
  preferences: ["coffee"],
  pending_email: null,
};

describe("what the profile form sends", () => {
  it("given nothing changed, then nothing", () => {
    expect(profileChanges(member, formFromMember(member))).toEqual({});
  });

  it("sends only the fields and consent flags the member changed", () => {
    const form = formFromMember(member);
    form.name = " 张伟 ";
    form.email = "new@example.com";
    form.gender = "male";
    form.preferences = ["tea", "coffee"];
    form.consents.sms_marketing = true;
    expect(profileChanges(member, form)).toEqual({
      email: "new@example.com",
      gender: "male",
      preferences: ["tea", "coffee"],
      consents: { sms_marketing: true },
    });
  });

  it("sends the birthday only while none is set (it is set once)", () => {
    const form = formFromMember(member);
    form.birthday = "1990-05-18";
    expect(profileChanges(member, form)).toEqual({ birthday: "1990-05-18" });
    const withBirthday = { ...member, birthday: "1990-05-18" };
    const edited = formFromMember(withBirthday);
    edited.birthday = "1991-01-01";
    expect(profileChanges(withBirthday, edited)).toEqual({});
  });

  it("shows a pending email in the form, and an emptied email clears it", () => {
    const pending = { ...member, pending_email: "new@example.com" };
    expect(formFromMember(pending).email).toBe("new@example.com");
    expect(profileChanges(pending, formFromMember(pending))).toEqual({});
    const form = formFromMember(member);
    form.email = "";
    expect(profileChanges(member, form)).toEqual({ email: null });
  });
});
