"""The member web app opened inside WeChat, in Chromium against the local stack and its fake of
WeChat (localstage/wechat_fake.py, whose authorize page sends the member straight back with a
code, as WeChat's snsapi_base page does): "Sign in with WeChat" binds the WeChat account once the
phone is proven by an SMS code, then signs in at once; a return this tab did not ask for is
refused; an ordinary browser sees none of it."""

from __future__ import annotations

import json
import secrets
import urllib.parse

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.factories import TIMEOUT, bearer, code_sent_to, new_phone, purchase, signed_in_member
from tests.support.browser import axe_findings
from tests.support.web import (
    NAMES,
    WECHAT_USER_AGENT,
    Tab,
    forget_last_code_sent,
    open_app_in_english,
    open_tab,
    outbox_size,
    signed_in_tab,
    wait_for_code,
)

pytestmark = pytest.mark.e2e

WECHAT_BUTTON = {"en": "Sign in with WeChat", "zh-CN": "微信一键登录"}
AUTHORIZE = "**/connect/oauth2/authorize?**"


def exact(page, role: str, name: str):
    return page.get_by_role(role, name=name, exact=True)


def in_wechat(browser, base: str, wechat_user: str) -> Tab:
    """A tab in WeChat's in-app browser, whose WeChat account is `wechat_user` (the fake's
    authorize page names the user it sends back by its `user` parameter)."""
    tab = open_tab(browser, base, user_agent=WECHAT_USER_AGENT)

    def as_user(route) -> None:
        route.continue_(url=route.request.url.replace("#wechat_redirect", "") + "&" + urllib.parse.urlencode({"user": wechat_user}))

    tab.page.route(AUTHORIZE, as_user)
    return tab


def session_token(tab: Tab) -> str:
    stored = tab.stored_session()
    assert stored, "signed in: the session is in sessionStorage"
    return str(json.loads(stored)["token"])


def my_wechat(stack, token: str) -> list[str]:
    reply = requests.get(stack.url("/v1/me/wechat"), headers=bearer(token), timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text
    return [b["app"] for b in reply.json()["bindings"]]


def my_id(stack, token: str) -> str:
    return str(requests.get(stack.url("/v1/me"), headers=bearer(token), timeout=TIMEOUT).json()["member_id"])


@pytest.mark.parametrize(("lang", "newcomer"), [("zh-CN", True), ("en", False)])
def test_given_a_member_in_wechat_when_they_sign_in_with_wechat_then_the_first_visit_binds_with_an_sms_code_and_the_next_signs_straight_in(
    stack, browser, lang, newcomer
):
    n = NAMES[lang]
    phone = new_phone()
    if not newcomer:  # a member the till enrolled ("pay and you are a member"), signing in for the first time
        assert purchase(stack, phone=phone, amount=1_000).status_code == 201
    wechat_user = f"web-{secrets.token_hex(4)}"
    tab = in_wechat(browser, stack.base, wechat_user)
    page = tab.page

    # Inside WeChat the sign-in page offers WeChat first, above the phone form.
    tab.goto(f"/app/?lang={lang}")
    button = exact(page, "button", WECHAT_BUTTON[lang])
    button.wait_for()
    assert button.bounding_box()["y"] < exact(page, "textbox", n["phone"]).bounding_box()["y"]
    assert axe_findings(page) == []

    # To WeChat's page and back with a code: this WeChat account is nobody's yet, so the phone is asked for.
    with page.expect_response(lambda r: r.url.endswith("/v1/wechat/sessions")) as session:
        button.click()
    assert session.value.json()["status"] == "phone_required"
    expect(page.get_by_role("status").filter(has_text="WeChat" if lang == "en" else "微信")).to_be_visible()
    assert "code=" not in page.url and "state=" not in page.url  # the single-use code is not kept for a reload
    assert tab.stored_session() is None  # an openid alone is no member

    if newcomer:
        exact(page, "link", n["sign_up"]).click()
        exact(page, "textbox", n["name"]).fill("王芳")
    exact(page, "textbox", n["phone"]).fill(phone)
    sent_before = outbox_size(stack.outbox)
    exact(page, "button", n["send_code"]).click()
    exact(page, "textbox", n["code"]).fill(wait_for_code(stack.outbox, phone, after=sent_before))
    with page.expect_response(lambda r: r.url.endswith("/v1/wechat/bindings")) as bound:
        exact(page, "button", n["sign_in"]).click()
    assert bound.value.status == 200, bound.value.text()
    page.wait_for_url("**/app/home**")
    token = session_token(tab)
    member_id = my_id(stack, token)
    assert my_wechat(stack, token) == ["official_account"]
    # The membership is active (the welcome points are on Home) and this WeChat account is its own.
    assert requests.get(stack.url("/v1/me"), headers=bearer(token), timeout=TIMEOUT).json()["status"] == "active"
    expect(page.get_by_label(n["points_balance"], exact=True)).to_have_text("100" if newcomer else "110")
    tab.context.close()

    # The next visit (a new tab in WeChat, same WeChat account): WeChat alone signs in.
    again = in_wechat(browser, stack.base, wechat_user)
    again.goto(f"/app/?lang={lang}")
    sent_before = outbox_size(stack.outbox)
    exact(again.page, "button", WECHAT_BUTTON[lang]).click()
    again.page.wait_for_url("**/app/home**")
    assert my_id(stack, session_token(again)) == member_id
    assert outbox_size(stack.outbox) == sent_before  # no code was needed
    assert "POST wechat/bindings" not in " ".join(again.api_calls)
    assert again.page_errors == []
    again.context.close()


def test_given_a_bound_member_when_they_unbind_wechat_on_the_profile_then_wechat_asks_for_the_phone_again(stack, browser):
    phone = new_phone()
    assert purchase(stack, phone=phone, amount=1_000).status_code == 201
    wechat_user = f"web-{secrets.token_hex(4)}"
    tab = in_wechat(browser, stack.base, wechat_user)
    page = tab.page
    tab.goto("/app/?lang=en")
    exact(page, "button", "Sign in with WeChat").click()
    exact(page, "textbox", "Phone").fill(phone)
    sent_before = outbox_size(stack.outbox)
    exact(page, "button", "Send code").click()
    exact(page, "textbox", "Code").fill(wait_for_code(stack.outbox, phone, after=sent_before))
    exact(page, "button", "Sign in").click()
    page.wait_for_url("**/app/home**")

    page.get_by_role("navigation").get_by_role("link", name="Profile", exact=True).click()
    card = page.locator(".card").filter(has=page.get_by_role("heading", name="WeChat", exact=True))
    expect(card).to_contain_text("Your WeChat is linked")
    exact(page, "button", "Unbind WeChat").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Unbind", exact=True).click()
    expect(card.get_by_role("status")).to_have_text("WeChat is unbound.")
    expect(card).to_contain_text("No WeChat is linked")
    assert my_wechat(stack, session_token(tab)) == []
    assert axe_findings(page) == []
    tab.context.close()

    # WeChat no longer signs this member in: the phone is asked for again.
    again = in_wechat(browser, stack.base, wechat_user)
    again.goto("/app/?lang=en")
    with again.page.expect_response(lambda r: r.url.endswith("/v1/wechat/sessions")) as session:
        exact(again.page, "button", "Sign in with WeChat").click()
    assert session.value.json()["status"] == "phone_required"
    assert again.stored_session() is None
    again.context.close()


def to_the_phone_form(tab: Tab) -> None:
    """In WeChat, sign in with WeChat as a WeChat user nobody has bound: the page asks for the phone."""
    tab.goto("/app/?lang=en")
    with tab.page.expect_response(lambda r: r.url.endswith("/v1/wechat/sessions")) as session:
        exact(tab.page, "button", "Sign in with WeChat").click()
    assert session.value.json()["status"] == "phone_required"
    expect(tab.page.get_by_role("status").filter(has_text="not linked")).to_be_visible()


def test_given_the_wechat_account_bound_to_another_member_meanwhile_then_wechat_taken_is_shown_and_the_code_still_signs_in(stack, browser):
    wechat_user = f"web-{secrets.token_hex(4)}"
    tab = in_wechat(browser, stack.base, wechat_user)
    page = tab.page
    to_the_phone_form(tab)

    # Meanwhile the same WeChat account is bound to another member (another tab, another phone).
    other = signed_in_member(stack)
    ticket = requests.post(stack.url("/v1/wechat/sessions"), json={"code": f"{wechat_user}.other", "app": "official_account"}, timeout=TIMEOUT)
    forget_last_code_sent(stack, other.phone)
    assert requests.post(stack.url("/v1/auth/code"), json={"phone": other.phone}, timeout=TIMEOUT).status_code == 202
    bound = {"wechat_ticket": ticket.json()["wechat_ticket"], "phone": other.phone, "code": code_sent_to(stack, other.phone)}
    assert requests.post(stack.url("/v1/wechat/bindings"), json=bound, timeout=TIMEOUT).status_code == 200

    phone = new_phone()
    assert purchase(stack, phone=phone, amount=1_000).status_code == 201
    exact(page, "textbox", "Phone").fill(phone)
    sent_before = outbox_size(stack.outbox)
    exact(page, "button", "Send code").click()
    exact(page, "textbox", "Code").fill(wait_for_code(stack.outbox, phone, after=sent_before))
    exact(page, "button", "Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("This WeChat account is linked to another membership")
    assert tab.stored_session() is None

    # The code was not spent: signing in again is an ordinary sign-in by phone, with no WeChat account.
    exact(page, "button", "Sign in").click()
    page.wait_for_url("**/app/home**")
    assert my_wechat(stack, session_token(tab)) == []
    assert my_wechat(stack, other.token) == ["official_account"]
    tab.context.close()


def test_given_a_wechat_ticket_past_its_ten_minutes_then_the_page_says_so_and_sends_nothing(stack, browser):
    tab = in_wechat(browser, stack.base, f"web-{secrets.token_hex(4)}")
    page = tab.page
    page.clock.install()
    to_the_phone_form(tab)
    page.clock.fast_forward("10:01")
    exact(page, "textbox", "Phone").fill(new_phone())
    exact(page, "textbox", "Code").fill("123456")
    exact(page, "button", "Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Your WeChat sign-in has expired")
    assert "POST wechat/bindings" not in " ".join(tab.api_calls)
    exact(page, "button", "Sign in with WeChat").wait_for()  # to start again
    tab.context.close()


def test_given_a_return_from_wechat_this_tab_did_not_ask_for_then_its_code_is_not_used_and_nobody_is_signed_in(stack, browser):
    tab = in_wechat(browser, stack.base, f"web-{secrets.token_hex(4)}")
    page = tab.page

    # The state WeChat hands back is not the one this tab sent (a forged or swapped return).
    def swap_state(route) -> None:
        url = route.request.url
        route.continue_(url=url.replace("state=", "state=forged", 1) + "&user=mallory")

    page.unroute(AUTHORIZE)
    page.route(AUTHORIZE, swap_state)
    tab.goto("/app/?lang=en")
    exact(page, "button", "Sign in with WeChat").click()
    expect(page.get_by_role("alert")).to_contain_text("This WeChat sign-in was not started on this page")
    assert "POST wechat/sessions" not in " ".join(tab.api_calls)

    # A link with someone's code and any state: refused the same way, and the code is left unspent.
    code = f"eve-{secrets.token_hex(4)}.1"
    tab.goto(f"/app/?lang=en&code={code}&state=abc123")
    expect(page.get_by_role("alert")).to_contain_text("This WeChat sign-in was not started on this page")
    assert "POST wechat/sessions" not in " ".join(tab.api_calls)
    assert tab.stored_session() is None
    unspent = requests.post(stack.url("/v1/wechat/sessions"), json={"code": code, "app": "official_account"}, timeout=TIMEOUT)
    assert unspent.status_code == 200 and unspent.json()["status"] == "phone_required"

    # WeChat refusing the code (its state right): the app's problem in words, no session.
    page.evaluate("() => sessionStorage.setItem('huiyuan.wechat_state', JSON.stringify({state: 'ok123', at: Date.now()}))")
    tab.goto("/app/?lang=en&code=fail-40029&state=ok123")
    expect(page.get_by_role("alert")).to_contain_text("WeChat sign-in did not work")
    assert tab.stored_session() is None
    assert tab.page_errors == []
    tab.context.close()


def test_given_an_ordinary_browser_then_sign_in_offers_no_wechat_button_and_the_profile_no_wechat_section(stack, browser):
    tab = open_app_in_english(browser, stack.base)
    page = tab.page
    exact(page, "button", "Sign in").wait_for()
    page.wait_for_load_state("networkidle")
    assert exact(page, "button", "Sign in with WeChat").count() == 0
    assert "GET program" not in " ".join(tab.api_calls)  # nothing is even asked about WeChat
    tab.context.close()

    member = signed_in_member(stack)
    tab = signed_in_tab(browser, stack.base, member.token, path="/app/profile?lang=en")
    exact(tab.page, "button", "Save").wait_for()
    tab.page.wait_for_load_state("networkidle")
    assert tab.page.get_by_role("heading", name="WeChat", exact=True).count() == 0
    assert exact(tab.page, "button", "Unbind WeChat").count() == 0
    tab.context.close()
