"""The member web app's Give points screen (转赠) in Chromium against the local stack: a member
gives another points through the screen (both balances and both histories show it), a double tap
or a retry after a lost answer gives once, and what the limits or the API refuse is shown and
changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.factories import TIMEOUT, WELCOME_POINTS, balance, bearer, ledger, new_idempotency_key, new_phone, signed_in_member
from tests.e2e.test_actions_concurrency import _put_rules
from tests.support.browser import SMALL_PHONE, axe_findings
from tests.support.web import open_app_in_english, open_tab, signed_in_tab

pytestmark = pytest.mark.e2e

LIMITS = {"enabled": True, "min_points": 1, "max_points": 50, "max_points_per_day": 60, "max_transfers_per_day": 10, "min_balance_kept": 10}


@pytest.fixture(scope="module")
def transfers_open(stack: Any) -> Iterator[None]:
    before = _put_rules(stack, {"transfers": LIMITS}, "web transfer tests")
    yield
    _put_rules(stack, {"transfers": before["transfers"]}, "web transfer tests over")


def exact(where, role: str, name: str):
    return where.get_by_role(role, name=name, exact=True)


def transfers_sent(tab) -> int:
    return sum(call.startswith("POST me/transfers") for call in tab.api_calls)


def give(stack, token: str, to_phone: str, points: int) -> None:
    """A transfer from another device (the API, not the screen)."""
    sent = requests.post(
        stack.url("/v1/me/transfers"),
        json={"to_phone": to_phone, "points": points},
        headers={**bearer(token), "Idempotency-Key": new_idempotency_key()},
        timeout=TIMEOUT,
    )
    assert sent.status_code == 201, sent.text


def given(stack, token: str) -> list[int]:
    return [e["points"] for e in ledger(stack, token) if e["kind"] == "transfer_out"]


def test_given_two_members_when_a_gives_b_points_on_the_screen_in_chinese_then_both_balances_and_histories_show_it(stack, browser, transfers_open):
    a, b = signed_in_member(stack), signed_in_member(stack)
    national = b.phone.removeprefix("+86")  # typed as members do: the app leaves the country to the API
    tab = open_tab(browser, stack.base)
    page = tab.page
    tab.goto("/app/?lang=zh-CN")
    tab.sign_in_as(a.token)

    # Home offers it next to the balance; the screen states the program's limits first.
    exact(page, "link", "积分转赠").click()
    page.wait_for_url("**/app/transfer")
    main = page.locator("main")
    expect(main).to_contain_text("每次转赠 1–50 积分")
    expect(main).to_contain_text("每天最多转赠 60 积分、10 次")
    expect(main).to_contain_text("转赠后积分余额至少保留 10")
    expect(main).to_contain_text("您有 100 积分。")
    expect(main).to_contain_text("今天还可转赠 60 积分、10 次")  # what is left of today: nothing sent yet
    assert axe_findings(page) == []

    exact(page, "textbox", "接收人手机号").fill(national)
    exact(page, "textbox", "转赠积分").fill("30")
    exact(page, "textbox", "留言").fill("生日快乐")
    exact(page, "button", "下一步").click()

    # The confirmation: the points and the phone, masked; nothing is sent before it is confirmed.
    dialog = page.get_by_role("dialog", name="确认转赠？")
    dialog.wait_for()
    masked = f"{national[:3]}****{national[-4:]}"
    expect(dialog).to_contain_text(f"将 30 积分转赠给 {masked}")
    assert national not in dialog.inner_text()
    assert transfers_sent(tab) == 0
    assert axe_findings(page) == []
    exact(dialog, "button", "确认转赠").click()

    expect(page.get_by_role("status")).to_have_text(f"已向 {masked} 转赠 30 积分，当前积分余额 70。")
    dialog.wait_for(state="hidden")
    expect(main).to_contain_text("您有 70 积分。")
    expect(main).to_contain_text("今天还可转赠 30 积分、9 次")  # the day's allowance drops with the transfer
    assert balance(stack, a.token) == WELCOME_POINTS - 30
    assert balance(stack, b.token) == WELCOME_POINTS + 30

    # Home and the history follow.
    nav = page.get_by_role("navigation")
    exact(nav, "link", "首页").click()
    expect(page.get_by_label("积分余额", exact=True)).to_have_text("70")
    exact(nav, "link", "积分明细").click()
    newest = page.get_by_role("table", name="积分记录").locator("tbody tr").first
    expect(newest).to_contain_text("积分转赠给他人")
    expect(newest).to_contain_text("\u221230")
    exact(page, "link", "积分转赠").wait_for()  # offered from the history too
    assert [e["points"] for e in ledger(stack, b.token) if e["kind"] == "transfer_in"] == [30]
    assert tab.page_errors == []
    tab.context.close()

    # The receiver reads it in their own history.
    tab = signed_in_tab(browser, stack.base, b.token, path="/app/history")
    newest = tab.page.get_by_role("table", name="Points history").locator("tbody tr").first
    expect(newest).to_contain_text("Points received from another member")
    expect(newest).to_contain_text("+30")
    tab.context.close()


def test_given_the_confirmation_when_the_member_double_clicks_confirm_then_the_points_move_once(stack, browser, transfers_open):
    a, b = signed_in_member(stack), signed_in_member(stack)
    tab = signed_in_tab(browser, stack.base, a.token, path="/app/transfer")
    page = tab.page
    exact(page, "textbox", "Receiver's phone").fill(b.phone)
    exact(page, "textbox", "Points to give").fill("20")
    exact(page, "button", "Continue").click()
    dialog = page.get_by_role("dialog", name="Give points?")
    expect(dialog).to_contain_text(f"Give 20 points to +86*******{b.phone[-4:]}?")

    exact(dialog, "button", "Confirm").dblclick()

    expect(page.get_by_role("status")).to_contain_text("Your balance is now 80 points.")
    assert transfers_sent(tab) == 1
    assert given(stack, a.token) == [-20]
    assert (balance(stack, a.token), balance(stack, b.token)) == (WELCOME_POINTS - 20, WELCOME_POINTS + 20)
    assert tab.page_errors == []
    tab.context.close()


def test_given_the_answer_is_lost_when_the_member_confirms_again_then_the_same_key_goes_and_the_points_move_once(stack, browser, transfers_open):
    a, b = signed_in_member(stack), signed_in_member(stack)
    tab = signed_in_tab(browser, stack.base, a.token, path="/app/transfer")
    page = tab.page
    keys: list[str] = []

    def lose_the_first_answer(route) -> None:
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) == 1:
            route.fetch()  # the API moves the points; the phone never hears back
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route("**/v1/me/transfers", lose_the_first_answer)
    exact(page, "textbox", "Receiver's phone").fill(b.phone)
    exact(page, "textbox", "Points to give").fill("25")
    exact(page, "button", "Continue").click()
    exact(page.get_by_role("dialog"), "button", "Confirm").click()
    expect(page.get_by_role("alert")).to_contain_text("The service cannot be reached")

    exact(page, "button", "Continue").click()
    exact(page.get_by_role("dialog"), "button", "Confirm").click()

    expect(page.get_by_role("status")).to_contain_text("Your balance is now 75 points.")
    assert len(keys) == 2 and keys[0] == keys[1]
    assert given(stack, a.token) == [-25]
    assert balance(stack, b.token) == WELCOME_POINTS + 25
    tab.context.close()


def test_given_amounts_above_the_limits_an_unknown_phone_and_a_frozen_member_then_each_is_shown_and_nothing_changes(stack, browser, transfers_open):
    a, b = signed_in_member(stack), signed_in_member(stack)
    give(stack, a.token, b.phone, 40)  # 40 of the day's 60 points already given, from another device
    tab = open_app_in_english(browser, stack.base, viewport=SMALL_PHONE)  # the smallest phone the app is made for
    tab.sign_in_as(a.token, path="/app/transfer")
    page = tab.page
    main = page.locator("main")
    expect(main).to_contain_text("You have 60 points.")
    expect(main).to_contain_text("Left for today: 20 points, 9 more transfers")  # the other device's 40 count
    phone_box, points_box = exact(page, "textbox", "Receiver's phone"), exact(page, "textbox", "Points to give")

    # Above the per-transfer limit: said at the field, nothing sent.
    phone_box.fill(b.phone)
    points_box.fill("51")
    exact(page, "button", "Continue").click()
    expect(page.get_by_role("alert")).to_have_text("At most 50 points per transfer.")
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert transfers_sent(tab) == 0

    # Above what is left of today: said at the field from today's figure, nothing sent.
    points_box.fill("30")
    exact(page, "button", "Continue").click()
    expect(page.get_by_role("alert")).to_have_text("You can give 20 more points today.")
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert transfers_sent(tab) == 0

    # The other device gives 15 more after the screen read today's figure: the API refuses what the
    # screen let through, the screen says so in words and with the API's detail, and reads today's
    # figure and the balance again.
    give(stack, a.token, b.phone, 15)
    points_box.fill("20")
    exact(page, "button", "Continue").click()
    exact(page.get_by_role("dialog"), "button", "Confirm").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Over the limits for giving points")
    expect(alert).to_contain_text("At most 60 points a day; 55 sent today")
    expect(main).to_contain_text("Left for today: 5 points, 8 more transfers")
    expect(main).to_contain_text("You have 45 points.")
    assert tab.no_horizontal_scroll() and axe_findings(page) == []

    # A phone that is no member's: the API's one answer, nothing more.
    phone_box.fill(new_phone())
    points_box.fill("5")
    exact(page, "button", "Continue").click()
    assert tab.no_horizontal_scroll() and axe_findings(page) == []  # the confirmation at 360 px
    exact(page.get_by_role("dialog"), "button", "Confirm").click()
    expect(alert).to_have_text("This phone number cannot receive points")

    # A frozen membership.
    frozen = requests.post(stack.url(f"/v1/admin/members/{a.member_id}/freeze"), json={"reason": "web transfer test"}, timeout=TIMEOUT)
    assert frozen.status_code == 200, frozen.text
    phone_box.fill(b.phone)
    exact(page, "button", "Continue").click()
    exact(page.get_by_role("dialog"), "button", "Confirm").click()
    expect(alert).to_contain_text("Your membership is frozen")

    expect(main).to_contain_text("You have 45 points.")
    assert given(stack, a.token) == [-15, -40]
    assert (balance(stack, a.token), balance(stack, b.token)) == (WELCOME_POINTS - 55, WELCOME_POINTS + 55)
    assert tab.page_errors == []
    tab.context.close()


@pytest.fixture
def transfers_closed(stack: Any) -> Iterator[None]:
    before = _put_rules(stack, {"transfers": {**LIMITS, "enabled": False}}, "web transfer tests: closed")
    yield
    _put_rules(stack, {"transfers": before["transfers"]}, "web transfer tests: as before")


def test_given_transfers_off_then_home_offers_no_give_points_and_the_screen_says_so(stack, browser, transfers_closed):
    a = signed_in_member(stack)
    tab = signed_in_tab(browser, stack.base, a.token)
    page = tab.page
    page.get_by_label("Points balance", exact=True).wait_for()
    assert exact(page, "link", "Give points").count() == 0
    tab.goto("/app/transfer")
    expect(page.locator("main")).to_contain_text("Giving points is not available in this program right now.")
    assert exact(page, "textbox", "Receiver's phone").count() == 0
    tab.context.close()
