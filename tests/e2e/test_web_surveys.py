"""The member web app's surveys (问卷) in Chromium against the local stack: Home links the open
survey, the survey page answers all four question kinds, checks before sending, thanks the member
with the reward, and shows the answered state afterwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.e2e.factories import TIMEOUT, WELCOME_POINTS, signed_in_member
from tests.support.browser import axe_findings
from tests.support.web import signed_in_tab

pytestmark = pytest.mark.e2e

TITLE = "Member satisfaction"


def _publish(stack) -> str:
    now = datetime.now(UTC)
    body = {
        "title": TITLE,
        "intro": "Two minutes.",
        "questions": [
            {
                "question_id": "visit",
                "kind": "single_choice",
                "text": "How often do you visit?",
                "options": [{"option_id": "weekly", "label": "Every week"}, {"option_id": "monthly", "label": "Every month"}],
            },
            {
                "question_id": "likes",
                "kind": "multiple_choice",
                "text": "What do you like?",
                "max_picks": 2,
                "options": [
                    {"option_id": "coffee", "label": "Coffee"},
                    {"option_id": "cake", "label": "Cake"},
                    {"option_id": "staff", "label": "Staff"},
                ],
            },
            {"question_id": "score", "kind": "rating", "text": "Rate us", "scale": "1-5"},
            {"question_id": "note", "kind": "free_text", "text": "Anything else?", "required": False},
        ],
        "opens_at": (now - timedelta(minutes=5)).isoformat(),
        "closes_at": (now + timedelta(days=1)).isoformat(),
        "reward": {"points": 25},
    }
    made = requests.post(stack.url("/v1/admin/surveys"), json=body, timeout=TIMEOUT)
    assert made.status_code == 201, made.text
    survey_id = made.json()["survey_id"]
    assert requests.post(stack.url(f"/v1/admin/surveys/{survey_id}/publish"), json={}, timeout=TIMEOUT).status_code == 200
    return survey_id


def test_given_an_open_survey_when_the_member_answers_it_in_the_app_then_they_are_thanked_with_the_points_once(stack, browser):
    _publish(stack)
    member = signed_in_member(stack)
    tab = signed_in_tab(browser, stack.base, member.token)
    page = tab.page
    page.get_by_role("link", name=f"Answer: {TITLE}", exact=True).click()
    page.get_by_role("button", name="Send answers", exact=True).click()
    # nothing answered: every required question says so, nothing is sent
    assert page.get_by_role("alert").filter(has_text="Please answer this question.").count() == 3

    page.get_by_role("radio", name="Every week", exact=True).check()
    page.get_by_role("checkbox", name="Coffee", exact=True).check()
    page.get_by_role("checkbox", name="Cake", exact=True).check()
    page.get_by_role("checkbox", name="Staff", exact=True).check()
    page.get_by_role("radio", name="4", exact=True).check()
    page.get_by_role("textbox", name="Anything else?", exact=True).fill("More seats, please")
    page.get_by_role("button", name="Send answers", exact=True).click()
    page.get_by_role("alert").filter(has_text="Pick 1 to 2.").wait_for()
    page.get_by_role("checkbox", name="Staff", exact=True).uncheck()
    page.get_by_role("button", name="Send answers", exact=True).click()

    page.get_by_role("status").filter(has_text="Thank you for your answers! You earned 25 points.").wait_for()
    assert axe_findings(page) == []
    page.reload()
    page.get_by_role("status").filter(has_text="You have already answered this survey.").wait_for()
    page.get_by_role("link", name="Back to Home", exact=True).click()
    assert page.get_by_label("Points balance", exact=True).inner_text() == str(WELCOME_POINTS + 25)
    assert page.get_by_role("link", name=f"Answer: {TITLE}", exact=True).count() == 0
    assert tab.page_errors == []
