"""Surveys (问卷): the operator's definition and the member's answers (usecases/surveys.py,
docs/surveys.md). Well-formed here (types, lengths, extra fields refused: 400); whether a
definition can be answered and whether answers fit the questions is the domain's (422)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictBool, StrictInt, StrictStr, StringConstraints, model_validator

from .fields import WHOLE_NUMBER, Body, DocumentedText, Identifier, _clean_name, clean_multiline

# Question and option ids: short, lower-case, stable keys of the results (no '#': domain/surveys.py).
ShortId = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]


Title = Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(_clean_name), DocumentedText]
QuestionText = Annotated[str, StringConstraints(min_length=1, max_length=300), AfterValidator(clean_multiline), DocumentedText]
Intro = Annotated[str, StringConstraints(min_length=1, max_length=1000), AfterValidator(clean_multiline), DocumentedText]
Label = Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(_clean_name), DocumentedText]
MAX_FREE_TEXT = 2000


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must include a UTC offset")
    return value


Moment = Annotated[datetime, AfterValidator(_aware)]


class Option(Body):
    option_id: ShortId
    label: Label


class _Question(Body):
    question_id: ShortId
    text: QuestionText
    required: StrictBool = True


class SingleChoice(_Question):
    kind: Literal["single_choice"]
    options: list[Option] = Field(min_length=2, max_length=10)


class MultipleChoice(_Question):
    kind: Literal["multiple_choice"]
    options: list[Option] = Field(min_length=2, max_length=10)
    min_picks: Annotated[StrictInt, Field(ge=0, le=10), WHOLE_NUMBER] = 0
    max_picks: Annotated[StrictInt, Field(ge=1, le=10), WHOLE_NUMBER] | None = None


class Rating(_Question):
    kind: Literal["rating"]
    scale: Literal["1-5", "0-10"] = "1-5"


class FreeText(_Question):
    kind: Literal["free_text"]
    max_length: Annotated[StrictInt, Field(ge=1, le=MAX_FREE_TEXT), WHOLE_NUMBER] = 500


Question = Annotated[SingleChoice | MultipleChoice | Rating | FreeText, Field(discriminator="kind")]


class Reward(Body):
    """Paid once per member with the answer: points, or a coupon for a catalogue reward."""

    points: Annotated[StrictInt, Field(ge=1, le=100_000), WHOLE_NUMBER] | None = None
    reward_id: Identifier | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Reward:
        if (self.points is None) == (self.reward_id is None):
            raise ValueError("give exactly one of points or reward_id")
        return self


class SurveyRequest(Body):
    title: Title
    intro: Intro | None = None
    questions: list[Question] = Field(min_length=1, max_length=20)
    target: Literal["everyone", "segment"] = "everyone"
    segment_id: Identifier | None = None
    opens_at: Moment
    closes_at: Moment
    reward: Reward | None = None

    @model_validator(mode="after")
    def _segment_named(self) -> SurveyRequest:
        if (self.target == "segment") != (self.segment_id is not None):
            raise ValueError("segment_id is given exactly when target is segment")
        return self


def _answer_value(value: object) -> object:
    if isinstance(value, str) and value.strip():
        return clean_multiline(value)
    return "" if isinstance(value, str) else value  # a blank answer is no answer


AnswerValue = Annotated[StrictStr | StrictInt | list[ShortId], AfterValidator(_answer_value)]


class SurveyAnswersRequest(Body):
    """`{"answers": {"<question_id>": "<option_id>" | ["<option_id>", ...] | <rating> | "<text>"}}`."""

    answers: dict[ShortId, Annotated[AnswerValue, Field()]] = Field(max_length=20)

    @model_validator(mode="after")
    def _text_bounded(self) -> SurveyAnswersRequest:
        for value in self.answers.values():
            if isinstance(value, str) and len(value) > MAX_FREE_TEXT:
                raise ValueError(f"an answer holds at most {MAX_FREE_TEXT} characters")
        return self
