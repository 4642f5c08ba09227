"""Surveys (问卷), pure: whether a definition can be answered, whether answers fit it, what an
answer adds to the results, and the state a survey is in at a moment (usecases/surveys.py,
docs/surveys.md).

A definition and answers are plain dicts here (as the request models dump them and the store
keeps them): questions are `{"question_id", "kind", "text", "required", ...}` with, by kind,
`options` ([{"option_id", "label"}]) and `min_picks`/`max_picks` (multiple choice), `scale`
("1-5" or "0-10": rating), `max_length` (free text).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from .errors import FieldError

SINGLE, MULTIPLE, RATING, FREE_TEXT = "single_choice", "multiple_choice", "rating", "free_text"
SCALES: dict[str, tuple[int, int]] = {"1-5": (1, 5), "0-10": (0, 10)}
# The counter every answered question adds to (no option id holds '#'); a free-text answer adds
# only this: its words are kept apart (personal data).
ANSWERED = "#answered"

DRAFT, PUBLISHED, CLOSED = "draft", "published", "closed"


def state_at(status: str, opens_at: datetime, closes_at: datetime, now: datetime) -> str:
    """What a member sees: `draft` (not published), `scheduled` (published, not yet open),
    `open`, or `closed` (closed by an operator or past its window)."""
    if status == DRAFT:
        return "draft"
    if status == CLOSED or now >= closes_at:
        return "closed"
    if now < opens_at:
        return "scheduled"
    return "open"


def definition_problems(questions: Sequence[Mapping[str, Any]], opens_at: datetime, closes_at: datetime, now: datetime) -> list[FieldError]:
    """Why a definition that is well-formed cannot be answered (empty if it can): ids given
    twice, picks no member could make, a window that is over or never opens."""
    problems: list[FieldError] = []
    seen: set[str] = set()
    for index, question in enumerate(questions):
        where = f"questions[{index}]"
        if question["question_id"] in seen:
            problems.append(FieldError(f"{where}.question_id", "is used by another question"))
        seen.add(question["question_id"])
        if question["kind"] not in (SINGLE, MULTIPLE):
            continue
        options = question["options"]
        option_ids = [o["option_id"] for o in options]
        if len(set(option_ids)) != len(option_ids):
            problems.append(FieldError(f"{where}.options", "option ids must differ"))
        if question["kind"] == MULTIPLE:
            low, high = _picks(question)
            if high > len(options):
                problems.append(FieldError(f"{where}.max_picks", f"is more than the {len(options)} options"))
            if low > high:
                problems.append(FieldError(f"{where}.min_picks", "is more than max_picks"))
    if closes_at <= opens_at:
        problems.append(FieldError("closes_at", "must be after opens_at"))
    elif closes_at <= now:
        problems.append(FieldError("closes_at", "is in the past: nobody could answer"))
    return problems


def _picks(question: Mapping[str, Any]) -> tuple[int, int]:
    low = int(question.get("min_picks") or 0)
    if question.get("required") and low == 0:
        low = 1
    high = question.get("max_picks")
    return low, int(high) if high is not None else len(question["options"])


def check_answers(questions: Sequence[Mapping[str, Any]], answers: Mapping[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
    """The answers as kept (only questions answered; picks in the options' order) and what is
    wrong with them, field by field (`answers.<question_id>`)."""
    problems: list[FieldError] = []
    known = {q["question_id"] for q in questions}
    problems += [FieldError(f"answers.{qid}", "no such question in this survey") for qid in answers if qid not in known]
    kept: dict[str, Any] = {}
    for question in questions:
        qid = question["question_id"]
        field = f"answers.{qid}"
        value = answers.get(qid)
        if value is None or value == [] or value == "":
            if question.get("required"):
                problems.append(FieldError(field, "an answer is required"))
            continue
        problem, keep = _check_one(question, value)
        if problem:
            problems.append(FieldError(field, problem))
        else:
            kept[qid] = keep
    return kept, problems


def _check_one(question: Mapping[str, Any], value: Any) -> tuple[str | None, Any]:
    kind = question["kind"]
    if kind == SINGLE:
        options = [o["option_id"] for o in question["options"]]
        if not isinstance(value, str):
            return "one option id (text)", None
        return (None, value) if value in options else (f"one of {', '.join(options)}", None)
    if kind == MULTIPLE:
        options = [o["option_id"] for o in question["options"]]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return "a list of option ids", None
        if len(set(value)) != len(value):
            return "an option picked twice", None
        unknown = [v for v in value if v not in options]
        if unknown:
            return f"not an option: {', '.join(unknown[:3])}", None
        low, high = _picks(question)
        if not low <= len(value) <= high:
            return f"pick {low} to {high} options" if low != high else f"pick {low} options", None
        return None, [o for o in options if o in value]
    if kind == RATING:
        low, high = SCALES[question["scale"]]
        if isinstance(value, bool) or not isinstance(value, int):
            return f"a whole number from {low} to {high}", None
        return (None, value) if low <= value <= high else (f"a whole number from {low} to {high}", None)
    if not isinstance(value, str):
        return "text", None
    if len(value) > int(question["max_length"]):
        return f"at most {question['max_length']} characters", None
    return None, value


def counters_of(questions: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Every counter a survey's results keep, at zero: per question, one per option (choices),
    one per scale value (ratings), `answered` (free text)."""
    counters: dict[str, dict[str, int]] = {}
    for question in questions:
        kind = question["kind"]
        if kind in (SINGLE, MULTIPLE):
            keys: Iterable[str] = (o["option_id"] for o in question["options"])
        elif kind == RATING:
            low, high = SCALES[question["scale"]]
            keys = (str(v) for v in range(low, high + 1))
        else:
            keys = ()
        counters[question["question_id"]] = dict.fromkeys((ANSWERED, *keys), 0)
    return counters


def counted(questions: Sequence[Mapping[str, Any]], kept: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The counters (question id, counter) one response adds 1 to."""
    adds: list[tuple[str, str]] = []
    for question in questions:
        qid = question["question_id"]
        if qid not in kept:
            continue
        value = kept[qid]
        adds.append((qid, ANSWERED))
        if question["kind"] == MULTIPLE:
            adds += [(qid, option) for option in value]
        elif question["kind"] != FREE_TEXT:
            adds.append((qid, str(value)))
    return adds


def free_texts(questions: Sequence[Mapping[str, Any]], kept: Mapping[str, Any]) -> dict[str, str]:
    """The free-text answers of a response (personal data: kept and erased apart)."""
    return {q["question_id"]: kept[q["question_id"]] for q in questions if q["kind"] == FREE_TEXT and q["question_id"] in kept}


def option_count(option: Mapping[str, Any], counts: Mapping[str, int]) -> dict[str, Any]:
    return {"option_id": option["option_id"], "label": option["label"], "count": int(counts.get(option["option_id"], 0))}


def results(questions: Sequence[Mapping[str, Any]], totals: Mapping[str, Mapping[str, int]], responses: int) -> list[dict[str, Any]]:
    """The results as operators read them, question by question, from the summed counters."""
    out: list[dict[str, Any]] = []
    for question in questions:
        qid, kind = question["question_id"], question["kind"]
        counts = totals.get(qid, {})
        answered = int(counts.get(ANSWERED, 0))
        view: dict[str, Any] = {"question_id": qid, "kind": kind, "text": question["text"]}
        view |= {"answered": answered, "skipped": max(0, responses - answered)}
        if kind in (SINGLE, MULTIPLE):
            view["options"] = [option_count(o, counts) for o in question["options"]]
        elif kind == RATING:
            low, high = SCALES[question["scale"]]
            distribution = {str(v): int(counts.get(str(v), 0)) for v in range(low, high + 1)}
            rated = sum(distribution.values())
            view |= {"scale": question["scale"], "distribution": distribution}
            view["mean"] = round(sum(int(v) * n for v, n in distribution.items()) / rated, 2) if rated else None
        out.append(view)
    return out
