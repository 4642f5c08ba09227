"""PynamoDB models of surveys (imported by models.py so their discriminators are registered).
Key formats are in `keys.py`; store/surveys.py reads and writes them."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute

from .models import BaseItem


class Survey(BaseItem, discriminator="Survey"):
    """`SURVEYS` / `SURVEY#<survey_id>`: a questionnaire, its window, target and reward.

    `status` goes draft -> published -> closed, each step conditioned on the one before; the
    questions never change once created (the results' counters are keyed by them)."""

    survey_id = UnicodeAttribute()
    title = UnicodeAttribute()
    intro = UnicodeAttribute(null=True)
    questions = UnicodeAttribute()  # JSON: the list of questions as the request model dumps it
    target = UnicodeAttribute()  # everyone | segment
    segment_id = UnicodeAttribute(null=True)
    audience_id = UnicodeAttribute(null=True)  # the segment's audience invited at publication
    audience_count = NumberAttribute(null=True)
    audience_as_of = UTCDateTimeAttribute(null=True)
    opens_at = UTCDateTimeAttribute()
    closes_at = UTCDateTimeAttribute()
    reward_points = NumberAttribute(null=True)
    reward_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="draft")
    created_at = UTCDateTimeAttribute()
    published_at = UTCDateTimeAttribute(null=True)
    closed_at = UTCDateTimeAttribute(null=True)


class SurveyTally(BaseItem, discriminator="SurveyTally"):
    """`SURVEYTALLY#<survey_id>` / `SHARD#<n>`: one shard of the results, put at publication
    with every counter at zero (domain/surveys.counters_of) and added to in the transaction of
    each answer, on a random shard: no hot item, and results are one query of the shards."""

    responses = NumberAttribute(default=0)
    counts = MapAttribute[str, Any](default=dict)  # question id -> counter -> n


class SurveyTexts(BaseItem, discriminator="SurveyTexts"):
    """`SURVEYTEXT#<survey_id>` / `TEXT#<text_id>`: a response's free-text answers, kept for the
    operators apart from the member under a random id (nothing in the key, a page's cursor or the
    item names the writer); the member's response points at it (`text_id`), so erasure deletes it
    with the response."""

    texts = MapAttribute[str, Any](default=dict)  # question id -> text
    answered_at = UTCDateTimeAttribute()


class SurveyInvitation(BaseItem, discriminator="SurveyInvitation"):
    """`MEMBER#<member_id>` / `SURVEY#INVITE#<survey_id>`: the member is in the audience of a
    segment survey (written by the `survey-invitations` job, a part of the audience a unit)."""

    survey_id = UnicodeAttribute()
    audience_id = UnicodeAttribute()


class SurveyResponse(BaseItem, discriminator="SurveyResponse"):
    """`MEMBER#<member_id>` / `SURVEY#RESPONSE#<survey_id>`: the member's one answer, put only
    if absent in the transaction that pays its reward and counts it: once per member."""

    survey_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    answers = UnicodeAttribute()  # JSON: question id -> the answer as kept
    reward_points = NumberAttribute(default=0)
    coupon_code = UnicodeAttribute(null=True)
    answered_at = UTCDateTimeAttribute()
    text_id = UnicodeAttribute(null=True)  # where its free text waits for the operators (SurveyTexts)
