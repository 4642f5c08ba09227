"""The member web app's daily check-in card (Home) in Chromium against the local stack: shown
while the program offers it, one tap checks in, the balance and the streak follow."""

from __future__ import annotations

import pytest

from tests.e2e.factories import WELCOME_POINTS, ledger, signed_in_member
from tests.e2e.test_actions_concurrency import CHECK_IN_POINTS, action_rules  # noqa: F401  (the rules that turn the check-in on)
from tests.support.browser import axe_findings
from tests.support.web import signed_in_tab

pytestmark = pytest.mark.e2e


def test_given_the_check_in_on_when_a_member_taps_check_in_then_the_balance_and_streak_show_it_once(stack, browser, action_rules):  # noqa: F811
    member = signed_in_member(stack)
    tab = signed_in_tab(browser, stack.base, member.token)
    page = tab.page
    card = page.locator(".card", has=page.get_by_role("heading", name="Daily check-in", exact=True))
    card.wait_for()
    assert "Days in a row: 0" in card.inner_text()

    page.get_by_role("button", name="Check in", exact=True).click()

    status = card.get_by_role("status")
    status.filter(has_text=f"+{CHECK_IN_POINTS} points").wait_for()
    assert page.get_by_label("Points balance", exact=True).inner_text() == str(WELCOME_POINTS + CHECK_IN_POINTS)
    assert "Days in a row: 1" in card.inner_text()
    assert page.get_by_role("button", name="Check in", exact=True).count() == 0
    assert axe_findings(page) == []
    page.reload()
    card.wait_for()
    assert "Checked in today." in card.inner_text()
    assert [e["points"] for e in ledger(stack, member.token) if e["kind"] == "check_in"] == [CHECK_IN_POINTS]
    assert tab.page_errors == []
