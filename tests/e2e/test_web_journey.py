"""The member web app in Chromium against the local stack: the whole journey a member makes,
in Chinese and in English, the share link, and recovery of a lost phone by email."""

from __future__ import annotations

import json

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.factories import TIMEOUT, bearer, me, new_phone, purchase, signed_in_member
from tests.support.browser import axe_findings
from tests.support.web import NAMES, forget_last_code_sent, open_tab, outbox_size, wait_for_code

pytestmark = pytest.mark.e2e

COFFEE = "免费咖啡 Free coffee"  # the local stack's starter catalogue: 500 points
COFFEE_COST = 500


def exact(page, role: str, name: str):
    return page.get_by_role(role, name=name, exact=True)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_given_a_new_member_on_a_phone_when_they_sign_up_earn_redeem_and_edit_their_profile_then_every_step_shows_in_their_language(
    stack, browser, lang
):
    n = NAMES[lang]
    phone = new_phone()
    member_name = "张伟" if lang == "zh-CN" else "Wei Zhang"
    tab = open_tab(browser, stack.base)
    page = tab.page

    # Signed out, /app/ is sign-in, with the way to sign up.
    tab.goto(f"/app/?lang={lang}")
    assert page.locator("html").get_attribute("lang") == lang
    exact(page, "link", n["sign_up"]).click()
    exact(page, "textbox", n["phone"]).fill(phone)
    exact(page, "textbox", n["name"]).fill(member_name)
    sent_before = outbox_size(stack.outbox)
    exact(page, "button", n["send_code"]).click()
    code = wait_for_code(stack.outbox, phone, after=sent_before)
    # The resend waits: the button is disabled while the countdown runs.
    assert exact(page, "button", n["send_code"]).is_disabled()
    exact(page, "textbox", n["code"]).fill(code)
    exact(page, "button", n["sign_in"]).click()

    # Home: the welcome points, the tier, what the next tier takes.
    page.wait_for_url("**/app/home**")
    balance = page.get_by_label(n["points_balance"], exact=True)
    assert balance.inner_text() == "100"
    assert n["tier_member"] in page.locator("main").inner_text()
    # What the next tier (Silver at 2,000 points from purchases in 12 months) takes: all of it.
    expect(page.locator("main")).to_contain_text("2,000")
    nav = page.get_by_role("navigation")
    for label in n["nav"]:
        assert nav.get_by_role("link", name=label, exact=True).is_visible()
    assert axe_findings(page) == []

    # The till reports a purchase of ¥600.00: after a reload (still signed in) the balance shows it.
    member_id = me_from_session(tab)["member_id"]
    reply = purchase(stack, member_id=member_id, amount=60_000)
    assert reply.status_code == 201, reply.text
    page.reload()
    assert page.get_by_label(n["points_balance"], exact=True).inner_text() == "700"

    # Redeem a coffee: a dialog with the coupon's code as text and its QR code.
    nav.get_by_role("link", name=n["nav"][1], exact=True).click()
    with page.expect_response(lambda r: r.url.endswith("/v1/me/redemptions")) as redeemed:
        exact(page, "button", f"{n['redeem']} {COFFEE}").click()
    coupon_code = redeemed.value.json()["coupon"]["code"]
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert coupon_code in dialog.inner_text()
    qr = dialog.get_by_role("img", name=n["coupon_qr"], exact=True)
    qr.wait_for()
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
    assert axe_findings(page) == []
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")

    # History: newest first, each entry in words.
    nav.get_by_role("link", name=n["nav"][2], exact=True).click()
    table = page.get_by_role("table", name=n["history"])
    table.get_by_role("row").nth(3).wait_for()
    rows = table.locator("tbody tr").all_inner_texts()
    assert "\u2212500" in rows[0] and "+600" in rows[1] and "+100" in rows[2], rows
    assert all(len(row.split("\t")[1].strip()) > 1 for row in rows[:3]), rows
    assert axe_findings(page) == []

    # Profile: a new name, an email (confirmed by the code sent to it), the birthday (once), gender,
    # a preference, offers by SMS.
    nav.get_by_role("link", name=n["nav"][5], exact=True).click()
    name_box = exact(page, "textbox", n["name"])
    name_box.wait_for()
    email = f"member-{phone[-8:]}@example.com"
    name_box.fill(member_name + "2")
    exact(page, "textbox", n["email"]).fill(email)
    page.get_by_label(n["birthday"], exact=True).fill("1990-05-18")
    page.get_by_label(n["gender"], exact=True).select_option(label=n["female"])
    page.get_by_role("checkbox", name=n["coffee"], exact=True).check()
    page.get_by_role("checkbox", name=n["sms_offers"], exact=True).check()
    sent_before = outbox_size(stack.outbox)
    exact(page, "button", n["save"]).click()
    page.get_by_role("status").filter(has_text=email).wait_for()
    after = me(stack, session_token(tab))
    assert (after["name"], after["pending_email"], after["birthday"]) == (member_name + "2", email, "1990-05-18")
    assert (after["gender"], after["preferences"], after["consents"]["sms_marketing"]) == ("female", ["coffee"], True)
    # The birthday is set once: the field is now read-only.
    assert page.get_by_label(n["birthday"], exact=True).get_attribute("readonly") is not None
    exact(page, "textbox", n["email_code"]).fill(wait_for_code(stack.outbox, email, after=sent_before))
    exact(page, "button", n["confirm_email"]).click()
    expect(exact(page, "textbox", n["email_code"])).to_have_count(0)
    assert me(stack, session_token(tab))["email"] == email
    assert axe_findings(page) == []

    # Sign out: the API revokes the token, and the tab is back at sign-in with nothing of the session left.
    token = session_token(tab)
    exact(page, "button", n["sign_out"]).click()
    exact(page, "button", n["sign_in"]).wait_for()
    assert page.get_by_role("navigation").count() == 0
    assert tab.stored_session() is None
    assert requests.get(stack.url("/v1/me"), headers=bearer(token), timeout=TIMEOUT).status_code == 401
    tab.goto("/app/history")
    exact(page, "button", n["sign_in"]).wait_for()
    assert tab.page_errors == []
    tab.context.close()


def session_token(tab) -> str:
    stored = tab.stored_session()
    assert stored, "signed in: the session is in sessionStorage"
    return str(json.loads(stored)["token"])


def me_from_session(tab):
    reply = requests.get(tab.base + "/v1/me", headers=bearer(session_token(tab)), timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_given_a_share_link_when_a_friend_opens_it_then_sign_up_has_the_code_and_the_friend_gets_the_referral_points(stack, browser):
    referrer = signed_in_member(stack)
    code = referrer.signed_in["member"]["referral_code"]
    friend = new_phone()
    tab = open_tab(browser, stack.base)
    page = tab.page
    tab.goto(f"/app/?ref={code}&lang=en")
    page.wait_for_url("**/app/signup**")
    referral = exact(page, "textbox", "Referral code")
    assert referral.input_value() == code
    exact(page, "textbox", "Phone").fill(friend)
    exact(page, "textbox", "Name").fill("李娜")
    sent_before = outbox_size(stack.outbox)
    exact(page, "button", "Send code").click()
    exact(page, "textbox", "Code").fill(wait_for_code(stack.outbox, friend, after=sent_before))
    exact(page, "button", "Sign in").click()
    page.wait_for_url("**/app/home**")
    # Welcome 100 + the referee's 100: the code went with the sign-up.
    assert page.get_by_label("Points balance", exact=True).inner_text() == "200"
    assert tab.page_errors == []
    tab.context.close()


def member_with_confirmed_email(stack):
    member = signed_in_member(stack)
    email = f"recover-{member.phone[-8:]}@example.com"
    sent_before = outbox_size(stack.outbox)
    changed = requests.patch(stack.url("/v1/me"), json={"email": email}, headers=bearer(member.token), timeout=TIMEOUT)
    assert changed.status_code == 200, changed.text
    code = wait_for_code(stack.outbox, email, after=sent_before)
    confirmed = requests.post(stack.url("/v1/me/email/verify"), json={"code": code}, headers=bearer(member.token), timeout=TIMEOUT)
    assert confirmed.status_code == 200, confirmed.text
    forget_last_code_sent(stack, member.phone)
    return member, email


def email_sign_in_codes(stack) -> bool:
    """POST /v1/auth/code takes channel=email (being built on main: until then it is a 400)."""
    probe = requests.post(stack.url("/v1/auth/code"), json={"phone": new_phone(), "channel": "email"}, timeout=TIMEOUT)
    return probe.status_code != 400


def recover_in_browser(stack, browser, member, read_code, prepare=None) -> None:
    """The recovery page: old phone, a code (read by `read_code`), then a new phone with its SMS code."""
    tab = open_tab(browser, stack.base)
    if prepare:
        prepare(tab)
    page = tab.page
    tab.goto("/app/?lang=en")
    exact(page, "link", "Lost your phone?").click()
    page.get_by_role("textbox", name="old phone").fill(member.phone)
    sent_before = outbox_size(stack.outbox)
    exact(page, "button", "Email me a code").click()
    exact(page, "textbox", "Code").fill(read_code(sent_before))
    exact(page, "button", "Sign in").click()

    new = new_phone()
    page.get_by_role("textbox", name="New phone number").fill(new)
    sent_before = outbox_size(stack.outbox)
    page.get_by_role("button", name="Text a code to the new number").click()
    page.get_by_role("textbox", name="Code from the new phone").fill(wait_for_code(stack.outbox, new, after=sent_before))
    page.get_by_role("button", name="Change number").click()
    page.get_by_role("status").filter(has_text=f"now uses {new}").wait_for()
    assert me_from_session(tab)["phone"] == new
    # From now on the new phone signs in to the same membership.
    forget_last_code_sent(stack, new)
    sent_before = outbox_size(stack.outbox)
    assert requests.post(stack.url("/v1/auth/code"), json={"phone": new}, timeout=TIMEOUT).status_code == 202
    signed_in = requests.post(
        stack.url("/v1/auth/verify"), json={"phone": new, "code": wait_for_code(stack.outbox, new, after=sent_before)}, timeout=TIMEOUT
    )
    assert signed_in.status_code == 200 and signed_in.json()["member"]["member_id"] == member.member_id
    assert tab.page_errors == []
    tab.context.close()


def test_given_a_member_with_a_confirmed_email_who_lost_their_phone_when_they_recover_then_their_membership_moves_to_a_new_phone(stack, browser):
    member, email = member_with_confirmed_email(stack)
    if not email_sign_in_codes(stack):
        pytest.skip("POST /v1/auth/code has no email channel on this branch yet (being built on main)")
    recover_in_browser(stack, browser, member, lambda sent_before: wait_for_code(stack.outbox, email, after=sent_before))


def test_given_the_email_channel_still_being_built_when_a_member_recovers_then_the_page_asks_for_an_email_code_and_moves_the_membership(
    stack, browser
):
    """Until the API sends sign-in codes by email, the code request is checked as sent (the old phone,
    channel email, JSON) and answered by the API's SMS channel, whose code stands in for the email's."""
    if email_sign_in_codes(stack):
        pytest.skip("the API sends sign-in codes by email: the test above recovers for real")
    member, _email = member_with_confirmed_email(stack)
    sent: list[dict] = []

    def email_code_by_sms(route, request):
        sent.append({"body": request.post_data_json, "type": request.headers.get("content-type")})
        route.fulfill(response=route.fetch(post_data=json.dumps({"phone": request.post_data_json["phone"]})))

    recover_in_browser(
        stack,
        browser,
        member,
        lambda sent_before: wait_for_code(stack.outbox, member.phone, after=sent_before),
        prepare=lambda tab: tab.context.route("**/v1/auth/code", email_code_by_sms),
    )
    assert sent == [{"body": {"phone": member.phone, "channel": "email"}, "type": "application/json"}]
