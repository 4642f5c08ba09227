"""Surveys, pure: what a definition needs to be answerable, whether answers fit, what they count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.domain import surveys

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CHOICE = {
    "question_id": "visit",
    "kind": "single_choice",
    "text": "?",
    "required": True,
    "options": [{"option_id": "a", "label": "A"}, {"option_id": "b", "label": "B"}],
}
PICKS = {
    "question_id": "likes",
    "kind": "multiple_choice",
    "text": "?",
    "required": True,
    "min_picks": 1,
    "max_picks": 2,
    "options": [{"option_id": "x", "label": "X"}, {"option_id": "y", "label": "Y"}, {"option_id": "z", "label": "Z"}],
}
RATE = {"question_id": "score", "kind": "rating", "text": "?", "required": False, "scale": "0-10"}
TEXT = {"question_id": "note", "kind": "free_text", "text": "?", "required": False, "max_length": 5}
QUESTIONS = [CHOICE, PICKS, RATE, TEXT]


def _fields(problems):
    return [p.field for p in problems]


def test_a_survey_is_open_only_inside_its_window_once_published():
    opens, closes = NOW - timedelta(hours=1), NOW + timedelta(hours=1)
    assert surveys.state_at("draft", opens, closes, NOW) == "draft"
    assert surveys.state_at("published", opens, closes, NOW) == "open"
    assert surveys.state_at("published", opens, closes, opens - timedelta(seconds=1)) == "scheduled"
    assert surveys.state_at("published", opens, closes, closes) == "closed"
    assert surveys.state_at("closed", opens, closes, NOW) == "closed"


def test_given_picks_beyond_the_options_duplicate_ids_or_a_past_window_then_the_definition_cannot_be_answered():
    bad = [CHOICE, CHOICE, {**PICKS, "max_picks": 4}, {**PICKS, "question_id": "p2", "min_picks": 3, "max_picks": 2}]
    problems = surveys.definition_problems(bad, NOW - timedelta(days=2), NOW - timedelta(days=1), NOW)
    assert _fields(problems) == ["questions[1].question_id", "questions[2].max_picks", "questions[3].min_picks", "closes_at"]
    assert surveys.definition_problems(QUESTIONS, NOW, NOW + timedelta(days=1), NOW) == []
    assert _fields(surveys.definition_problems(QUESTIONS, NOW, NOW, NOW)) == ["closes_at"]


def test_given_answers_that_fit_then_they_are_kept_with_picks_in_option_order():
    kept, problems = surveys.check_answers(QUESTIONS, {"visit": "b", "likes": ["z", "x"], "score": 0})
    assert problems == []
    assert kept == {"visit": "b", "likes": ["x", "z"], "score": 0}


def test_given_answers_that_do_not_fit_then_each_question_says_why():
    answers = {"visit": "c", "likes": ["x", "y", "z"], "score": 11, "note": "toolong", "ghost": 1}
    _, problems = surveys.check_answers(QUESTIONS, answers)
    assert sorted(_fields(problems)) == ["answers.ghost", "answers.likes", "answers.note", "answers.score", "answers.visit"]
    _, missing = surveys.check_answers(QUESTIONS, {"likes": []})
    assert _fields(missing) == ["answers.visit", "answers.likes"]
    _, typed = surveys.check_answers(QUESTIONS, {"visit": ["a"], "likes": "x", "score": True})
    assert _fields(typed) == ["answers.visit", "answers.likes", "answers.score"]
    _, twice = surveys.check_answers(QUESTIONS, {"visit": "a", "likes": ["x", "x"]})
    assert _fields(twice) == ["answers.likes"]


def test_a_response_adds_to_its_counters_and_results_sum_them():
    counters = surveys.counters_of(QUESTIONS)
    assert counters["score"] == {"#answered": 0, **{str(v): 0 for v in range(11)}}
    assert counters["note"] == {"#answered": 0}
    kept = {"visit": "a", "likes": ["x", "y"], "score": 7, "note": "好"}
    adds = surveys.counted(QUESTIONS, kept)
    for question, counter in adds:
        counters[question][counter] += 1
    assert surveys.free_texts(QUESTIONS, kept) == {"note": "好"}
    visit, likes, score, note = surveys.results(QUESTIONS, counters, responses=2)
    assert [o["count"] for o in visit["options"]] == [1, 0] and (visit["answered"], visit["skipped"]) == (1, 1)
    assert [o["count"] for o in likes["options"]] == [1, 1, 0] and likes["answered"] == 1
    assert score["distribution"]["7"] == 1 and score["mean"] == 7.0
    assert note == {"question_id": "note", "kind": "free_text", "text": "?", "answered": 1, "skipped": 1}
    empty = surveys.results([RATE], surveys.counters_of([RATE]), responses=0)
    assert empty[0]["mean"] is None
