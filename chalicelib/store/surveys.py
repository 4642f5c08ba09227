"""Surveys as the table keeps them (keys.py; usecases/surveys.py decides).

- `SURVEYS` / `SURVEY#<survey_id>` (Survey): every survey in one partition, newest first
  (surveys are few: a brand runs a handful a month).
- `SURVEYTALLY#<survey_id>` / `SHARD#<n>` (SurveyTally): the results, in `SURVEY_TALLY_SHARDS`
  shards put at publication; each answer adds to one, chosen at random, in its own transaction,
  so results are one query of the shards and no item is hot.
- `SURVEYTEXT#<survey_id>` / `TEXT#<text_id>` (SurveyTexts): free-text answers for operators, under
  a random id the member's response points at (`text_id`): nothing there names the writer.
- `MEMBER#<id>` / `SURVEY#INVITE#<survey_id>` (SurveyInvitation) and `SURVEY#RESPONSE#<survey_id>`
  (SurveyResponse): whether a member was invited to a segment survey, and their one answer
  (put only if absent: a second answer, or a concurrent one, fails its condition).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pynamodb.expressions.update import Action

from . import keys
from .members import as_dict
from .models import BaseItem, Member
from .models_surveys import Survey, SurveyInvitation, SurveyResponse, SurveyTally, SurveyTexts
from .paging import Page, query_page
from .reads import item_of, member_key, read_together
from .unit_of_work import UnitOfWork

SURVEY_ID_PREFIX = "sv_"


def new_survey_id(now: datetime) -> str:
    """Sorts oldest first (milliseconds), unique by its random tail."""
    return f"{SURVEY_ID_PREFIX}{int(now.timestamp() * 1000):013d}{secrets.token_hex(4)}"


def questions_of(survey: Survey) -> list[dict[str, Any]]:
    return list(json.loads(survey.questions))


def answers_of(response: SurveyResponse) -> dict[str, Any]:
    return dict(json.loads(response.answers))


def new_survey(definition: Mapping[str, Any], now: datetime) -> Survey:
    """A draft survey (not yet written: `add_survey`); `definition` as the request model dumps it."""
    survey_id = new_survey_id(now)
    reward = definition.get("reward") or {}
    return Survey(
        keys.SURVEYS_PK,
        keys.survey_sk(survey_id),
        survey_id=survey_id,
        title=definition["title"],
        intro=definition.get("intro"),
        questions=json.dumps(definition["questions"], ensure_ascii=False, separators=(",", ":")),
        target=definition["target"],
        segment_id=definition.get("segment_id"),
        opens_at=definition["opens_at"],
        closes_at=definition["closes_at"],
        reward_points=reward.get("points"),
        reward_id=reward.get("reward_id"),
        status="draft",
        created_at=now,
    )


def add_survey(uow: UnitOfWork, survey: Survey) -> None:
    """Put the new survey (part `survey`), only if its id is free."""
    uow.put("survey", survey, Survey.pk.does_not_exist())


def get_survey(survey_id: str) -> Survey | None:
    found = read_together([(keys.SURVEYS_PK, keys.survey_sk(survey_id))])
    return item_of(Survey, found.get((keys.SURVEYS_PK, keys.survey_sk(survey_id))))


def survey_page(limit: int, cursor: str | None) -> Page[Survey]:
    """Every survey, newest first: one query a page."""
    return query_page(Survey, keys.SURVEYS_PK, keys.SURVEY_PREFIX, limit, cursor, newest_first=True)


def published_surveys() -> list[Survey]:
    """The surveys published and not closed (what members may see): one query of the surveys'
    partition (a few hundred items in years; closed ones are filtered out by DynamoDB)."""
    return list(Survey.query(keys.SURVEYS_PK, Survey.sk.startswith(keys.SURVEY_PREFIX), filter_condition=Survey.status == "published"))


def publish(uow: UnitOfWork, survey: Survey, counters: dict[str, dict[str, int]], audience: Mapping[str, Any], now: datetime) -> None:
    """Draft -> published (part `survey`, fails unless still a draft), with the results' shards
    put at zero (parts `tally<n>`); `audience`: the invited audience's `audience_id`, `count`
    and `data_as_of`, or nothing (everyone)."""
    actions: list[Action] = [Survey.status.set("published"), Survey.published_at.set(now)]
    if audience:
        actions += [
            Survey.audience_id.set(audience["audience_id"]),
            Survey.audience_count.set(audience["count"]),
            Survey.audience_as_of.set(audience["data_as_of"]),
        ]
    uow.update("survey", survey, actions, Survey.status == "draft")
    for shard in range(keys.SURVEY_TALLY_SHARDS):
        tally = SurveyTally(keys.survey_tally_pk(survey.survey_id), keys.survey_tally_sk(shard), responses=0, counts=counters)
        uow.put(f"tally{shard}", tally, SurveyTally.pk.does_not_exist())


def close(uow: UnitOfWork, survey: Survey, now: datetime) -> None:
    """Published (or draft) -> closed (part `survey`, fails unless it was in that state)."""
    uow.update("survey", survey, [Survey.status.set("closed"), Survey.closed_at.set(now)], Survey.status == survey.status)


def for_member(survey_id: str, member_id: str) -> tuple[Survey | None, Member | None, SurveyInvitation | None, SurveyResponse | None]:
    """The survey, the member, their invitation and their response: one strongly consistent
    BatchGetItem."""
    wanted = [
        (keys.SURVEYS_PK, keys.survey_sk(survey_id)),
        member_key(member_id),
        (keys.member_pk(member_id), keys.survey_invitation_sk(survey_id)),
        (keys.member_pk(member_id), keys.survey_response_sk(survey_id)),
    ]
    found = read_together(wanted)
    return (
        item_of(Survey, found.get(wanted[0])),
        item_of(Member, found.get(wanted[1])),
        item_of(SurveyInvitation, found.get(wanted[2])),
        item_of(SurveyResponse, found.get(wanted[3])),
    )


def member_survey_items(member_id: str) -> tuple[set[str], dict[str, SurveyResponse]]:
    """The surveys the member was invited to and their responses, by survey id: one query."""
    invited: set[str] = set()
    responses: dict[str, SurveyResponse] = {}
    for item in BaseItem.query(keys.member_pk(member_id), BaseItem.sk.startswith(keys.SURVEY_PREFIX), consistent_read=True):
        if isinstance(item, SurveyInvitation):
            invited.add(item.survey_id)
        elif isinstance(item, SurveyResponse):
            responses[item.survey_id] = item
    return invited, responses


def add_response(
    uow: UnitOfWork,
    survey: Survey,
    member_id: str,
    kept: Mapping[str, Any],
    adds: Iterable[tuple[str, str]],
    texts: Mapping[str, str],
    reward: Mapping[str, Any],
    now: datetime,
) -> SurveyResponse:
    """The member's answer (part `response`: fails if they answered already), counted on a
    random shard (part `tally`), its free text for operators (part `texts`), on condition that
    the survey is still published (part `survey`)."""
    text_id = secrets.token_hex(16) if texts else None
    response = SurveyResponse(
        keys.member_pk(member_id),
        keys.survey_response_sk(survey.survey_id),
        survey_id=survey.survey_id,
        member_id=member_id,
        answers=json.dumps(dict(kept), ensure_ascii=False, separators=(",", ":")),
        reward_points=int(reward.get("points") or 0),
        coupon_code=reward.get("coupon_code"),
        answered_at=now,
        text_id=text_id,
    )
    uow.put("response", response, SurveyResponse.pk.does_not_exist())
    shard = secrets.randbelow(keys.SURVEY_TALLY_SHARDS)
    counts = SurveyTally.counts
    actions: list[Action] = [SurveyTally.responses.add(1)]
    actions += [counts[question][counter].set(counts[question][counter] + 1) for question, counter in adds]
    tally = SurveyTally(keys.survey_tally_pk(survey.survey_id), keys.survey_tally_sk(shard))
    uow.update("tally", tally, actions, SurveyTally.pk.exists())
    if text_id is not None:
        uow.put("texts", SurveyTexts(keys.survey_text_pk(survey.survey_id), keys.survey_text_sk(text_id), texts=dict(texts), answered_at=now))
    uow.condition_check("survey", Survey, keys.SURVEYS_PK, keys.survey_sk(survey.survey_id), Survey.status == "published")
    return response


def tally_totals(survey_id: str) -> tuple[int, dict[str, dict[str, int]]]:
    """The responses and every counter, summed over the shards: one query."""
    responses = 0
    totals: dict[str, dict[str, int]] = {}
    for shard in SurveyTally.query(keys.survey_tally_pk(survey_id), consistent_read=True):
        responses += int(shard.responses or 0)
        for question, counters in as_dict(shard.counts).items():
            mine = totals.setdefault(question, {})
            for counter, n in as_dict(counters).items():
                mine[counter] = mine.get(counter, 0) + int(n)
    return responses, totals


def texts_of(entry: SurveyTexts) -> dict[str, str]:
    return {str(k): str(v) for k, v in as_dict(entry.texts).items()}


def text_page(survey_id: str, limit: int, cursor: str | None) -> Page[SurveyTexts]:
    """A survey's free-text answers, a page (in random id order: neither the writer nor the order of answering to learn from)."""
    return query_page(SurveyTexts, keys.survey_text_pk(survey_id), keys.SURVEY_TEXT_PREFIX, limit, cursor)


def invite(survey_id: str, audience_id: str, member_ids: Iterable[str]) -> int:
    """Put an invitation for each member (BatchWriteItem; putting one again changes nothing)."""
    written = 0
    with SurveyInvitation.batch_write() as writer:
        for member_id in member_ids:
            key = keys.member_pk(member_id), keys.survey_invitation_sk(survey_id)
            writer.save(SurveyInvitation(*key, survey_id=survey_id, audience_id=audience_id))
            written += 1
    return written


def delete_texts(response: SurveyResponse) -> None:
    """The free text of a member's response kept for the operators (erasure): where the response
    points, or, for a response from before that pointer, under the member's id."""
    text_id = response.text_id or str(response.member_id)
    SurveyTexts(keys.survey_text_pk(str(response.survey_id)), keys.survey_text_sk(text_id)).delete()
