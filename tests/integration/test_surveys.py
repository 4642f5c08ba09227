"""Surveys (问卷): operators create, publish and close; members answer once; results and rewards."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.store import audiences, keys
from chalicelib.store.models import BaseItem
from localstage.job import run
from tests.integration.conftest import bearer
from tests.support.books import stored_ledger, stored_member
from tests.support.rules import set_rules

QUESTIONS = [
    {
        "question_id": "visit",
        "kind": "single_choice",
        "text": "How often do you visit?",
        "options": [{"option_id": "weekly", "label": "每周"}, {"option_id": "monthly", "label": "每月"}],
    },
    {
        "question_id": "likes",
        "kind": "multiple_choice",
        "text": "What do you like?",
        "min_picks": 1,
        "max_picks": 2,
        "options": [{"option_id": "coffee", "label": "Coffee"}, {"option_id": "cake", "label": "Cake"}, {"option_id": "staff", "label": "Staff"}],
    },
    {"question_id": "score", "kind": "rating", "text": "Rate us", "scale": "1-5"},
    {"question_id": "note", "kind": "free_text", "text": "Anything else?", "required": False, "max_length": 200},
]
ANSWERS = {"visit": "weekly", "likes": ["cake", "coffee"], "score": 4, "note": "静安店的蛋糕很好吃"}


def _window(**shift: int) -> dict[str, str]:
    now = datetime.now(UTC)
    return {"opens_at": (now - timedelta(hours=1)).isoformat(), "closes_at": (now + timedelta(days=7, **shift)).isoformat()}


def definition(**extra: Any) -> dict[str, Any]:
    return {"title": "会员满意度调查", "intro": "Two minutes, 20 points.", "questions": QUESTIONS, **_window(), "reward": {"points": 20}, **extra}


def published(api, **extra: Any) -> str:
    made = api.post("/v1/admin/surveys", definition(**extra))
    assert made.status == 201, made.text
    survey_id = made.json()["survey_id"]
    done = api.post(f"/v1/admin/surveys/{survey_id}/publish", {})
    assert done.status == 200, done.text
    return survey_id


def _answer(api, token, survey_id, answers=None):
    return api.post(f"/v1/me/surveys/{survey_id}/responses", {"answers": answers if answers is not None else ANSWERS}, headers=bearer(token))


def _problem(reply, status, code):
    assert reply.status == status, reply.text
    assert reply.content_type.startswith("application/problem+json")
    assert reply.json()["code"] == code, reply.text
    return reply.json()


def _items_of(pk: str) -> list[BaseItem]:
    return list(BaseItem.query(pk))


def test_given_a_published_survey_when_a_member_answers_then_they_earn_the_reward_once_and_operators_see_the_results(api, members, caplog):
    survey_id = published(api)
    token, body = members.verified()
    member_id = body["member"]["member_id"]
    before = stored_member(member_id).balance

    listed = api.get("/v1/me/surveys", headers=bearer(token)).json()["items"]
    assert [(s["survey_id"], s["state"], s["answered"]) for s in listed] == [(survey_id, "open", False)]

    with caplog.at_level(logging.INFO):
        answered = _answer(api, token, survey_id)
    assert answered.status == 201, answered.text
    assert answered.json()["reward"]["points"] == 20
    assert stored_member(member_id).balance == before + 20
    entry = stored_ledger(member_id)[0]
    assert (entry.kind, int(entry.points), entry.ref) == ("bonus", 20, f"survey:{survey_id}")
    assert "静安店" not in caplog.text  # free text never reaches the logs

    again = _answer(api, token, survey_id)
    _problem(again, 409, "already_answered")
    assert stored_member(member_id).balance == before + 20  # nothing paid twice

    mine = api.get(f"/v1/me/surveys/{survey_id}", headers=bearer(token)).json()
    assert mine["answered"] is True and mine["response"]["answers"]["likes"] == ["coffee", "cake"]

    token2, _ = members.verified()
    assert _answer(api, token2, survey_id, {"visit": "monthly", "likes": ["staff"], "score": 5}).status == 201

    results = api.get(f"/v1/admin/surveys/{survey_id}").json()["results"]
    assert results["responses"] == 2
    visit, likes, score, note = results["questions"]
    assert {o["option_id"]: o["count"] for o in visit["options"]} == {"weekly": 1, "monthly": 1}
    assert {o["option_id"]: o["count"] for o in likes["options"]} == {"coffee": 1, "cake": 1, "staff": 1}
    assert score["distribution"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1} and score["mean"] == 4.5
    assert (note["answered"], note["skipped"]) == (1, 1)
    assert "text" not in str(note.get("texts", ""))

    texts = api.get(f"/v1/admin/surveys/{survey_id}/free-text").json()["items"]
    assert [t["text"] for t in texts] == [ANSWERS["note"]]
    assert "member_id" not in texts[0]
    actions = [i.action for i in _items_of(keys.audit_day_pk(_today())) if hasattr(i, "action")]
    assert {"survey.create", "survey.publish", "survey.free_text.read"} <= set(actions)
    assert all("静安店" not in str(i.attribute_values) for i in _items_of(keys.audit_day_pk(_today())))


def _today() -> str:
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()


def test_given_answers_that_do_not_fit_then_422_with_field_errors_and_nothing_changes(api, members):
    survey_id = published(api)
    token, body = members.verified()
    member_id = body["member"]["member_id"]
    before = stored_member(member_id).balance
    bad = {"visit": "daily", "likes": ["coffee", "cake", "staff"], "score": 9, "ghost": "x"}
    problem = _problem(_answer(api, token, survey_id, bad), 422, "invalid_answers")
    fields = {e["field"] for e in problem["errors"]}
    assert fields == {"answers.visit", "answers.likes", "answers.score", "answers.ghost"}
    missing = _problem(_answer(api, token, survey_id, {"note": "hi"}), 422, "invalid_answers")
    assert {e["field"] for e in missing["errors"]} == {"answers.visit", "answers.likes", "answers.score"}
    too_long = _problem(_answer(api, token, survey_id, {**ANSWERS, "note": "x" * 201}), 422, "invalid_answers")
    assert [e["field"] for e in too_long["errors"]] == ["answers.note"]
    _problem(api.post(f"/v1/me/surveys/{survey_id}/responses", {"answers": ANSWERS, "extra": 1}, headers=bearer(token)), 400, "validation_error")
    assert stored_member(member_id).balance == before
    assert api.get(f"/v1/admin/surveys/{survey_id}").json()["results"]["responses"] == 0
    assert _answer(api, token, survey_id).status == 201  # they can still answer properly


def test_given_definitions_no_one_could_answer_then_422_and_malformed_ones_400(api):
    def picks(**q: Any) -> dict[str, Any]:
        return definition(questions=[{**QUESTIONS[1], **q}])

    for body, field in [
        (picks(max_picks=5), "questions[0].max_picks"),
        (picks(min_picks=3, max_picks=2), "questions[0].min_picks"),
        (definition(questions=[QUESTIONS[0], QUESTIONS[0]]), "questions[1].question_id"),
        (definition(**{"closes_at": (datetime.now(UTC) - timedelta(days=1)).isoformat()}), "closes_at"),
        (definition(reward={"reward_id": "no-such-reward"}), "reward.reward_id"),
    ]:
        problem = _problem(api.post("/v1/admin/surveys", body), 422, "survey_unanswerable")
        assert field in [e["field"] for e in problem["errors"]], problem
    for body in [
        definition(questions=[]),
        definition(surprise=True),
        definition(questions=[{**QUESTIONS[0], "options": [{"option_id": "only", "label": "One"}]}]),
        definition(questions=[{**QUESTIONS[2], "scale": "1-7"}]),
        definition(target="segment"),
        definition(reward={"points": 5, "reward_id": "r"}),
    ]:
        _problem(api.post("/v1/admin/surveys", body), 400, "validation_error")
    assert api.get("/v1/admin/surveys").json()["items"] == []


def test_given_a_closed_or_not_yet_open_survey_then_answers_are_409_and_a_draft_is_not_found(api, members):
    token, _ = members.verified()
    closed_id = published(api)
    assert api.post(f"/v1/admin/surveys/{closed_id}/close", {}).json()["state"] == "closed"
    _problem(_answer(api, token, closed_id), 409, "survey_not_open")
    _problem(api.post(f"/v1/admin/surveys/{closed_id}/close", {}), 409, "invalid_state")
    now = datetime.now(UTC)
    later = published(api, opens_at=(now + timedelta(days=1)).isoformat(), closes_at=(now + timedelta(days=2)).isoformat())
    _problem(_answer(api, token, later), 409, "survey_not_open")
    draft = api.post("/v1/admin/surveys", definition()).json()["survey_id"]
    _problem(_answer(api, token, draft), 404, "not_found")
    assert api.get("/v1/me/surveys", headers=bearer(token)).json()["items"] == []


def test_given_a_segment_id_nobody_saved_then_the_survey_is_422_and_not_made(api, aws):
    reply = api.post("/v1/admin/surveys", definition(target="segment", segment_id="seg_typo", reward=None))
    body = _problem(reply, 422, "survey_unanswerable")
    assert [e["field"] for e in body["errors"]] == ["segment_id"]
    assert api.get("/v1/admin/surveys").json()["items"] == []


def test_given_a_segment_survey_then_only_its_audience_sees_and_answers_it(api, members, aws):
    import boto3 as _boto3

    from chalicelib.jobs.handlers import job_worker
    from chalicelib.jobs.runner import queue_url
    from localstage.job import drain_queue

    segment = api.post("/v1/admin/segments", {"name": "VIP", "definition": {"f_score": {"min": 4}}}).json()["segment_id"]  # no audience yet
    made = api.post("/v1/admin/surveys", definition(target="segment", segment_id=segment, reward=None)).json()
    _problem(api.post(f"/v1/admin/surveys/{made['survey_id']}/publish", {}), 409, "segment_not_ready")
    inside, inside_body = members.verified()
    outside, _ = members.verified()
    audiences.write(segment, [inside_body["member"]["member_id"], "m_not_a_member"], data_as_of=datetime.now(UTC), computed_at=datetime.now(UTC))
    publish = api.post(f"/v1/admin/surveys/{made['survey_id']}/publish", {})
    assert publish.status == 200 and publish.json()["audience"]["count"] == 2
    assert drain_queue(job_worker, queue_url(), _boto3.client("sqs")) == {"dead_lettered": 0}

    assert [s["survey_id"] for s in api.get("/v1/me/surveys", headers=bearer(inside)).json()["items"]] == [made["survey_id"]]
    assert api.get("/v1/me/surveys", headers=bearer(outside)).json()["items"] == []
    _problem(api.get(f"/v1/me/surveys/{made['survey_id']}", headers=bearer(outside)), 404, "not_found")
    _problem(_answer(api, outside, made["survey_id"]), 404, "not_found")
    assert _answer(api, inside, made["survey_id"]).status == 201

    # the job run again (make job): the same invitations, none twice
    again = run("survey-invitations", _today(), False)
    assert again["members_examined"] == 2


def test_given_a_coupon_reward_then_the_answer_brings_a_coupon(api, members):
    reward_id = api.get("/v1/rewards").json()["items"][0]["reward_id"]
    survey_id = published(api, reward={"reward_id": reward_id})
    token, _ = members.verified()
    answered = _answer(api, token, survey_id)
    assert answered.status == 201
    code = answered.json()["reward"]["coupon_code"]
    coupons = api.get("/v1/me/coupons", headers=bearer(token)).json()["items"]
    assert code in [c["code"] for c in coupons]


def test_given_free_text_answers_then_the_member_exports_them_and_erasure_removes_them(api, members, aws):
    survey_id = published(api)
    token, body = members.verified()
    member_id = body["member"]["member_id"]
    assert _answer(api, token, survey_id).status == 201
    export = api.get("/v1/me/export", headers=bearer(token)).json()
    assert ANSWERS["note"] in str(export["survey_response"])

    set_rules(aws, closure_grace_days=0)
    assert api.request("DELETE", "/v1/me", json_body={"reason": "privacy"}, headers=bearer(token)).status == 200
    run("erase-closed", (datetime.now(UTC) + timedelta(days=2)).date().isoformat(), False)
    everything = [i.attribute_values for i in BaseItem.scan()]
    assert not [i for i in everything if ANSWERS["note"] in str(i)]
    # the counts stay: they name nobody
    assert api.get(f"/v1/admin/surveys/{survey_id}").json()["results"]["responses"] == 1
    assert stored_member(member_id).erased


def test_given_a_survey_closed_while_an_answer_is_on_its_way_then_the_answer_is_409_and_nothing_is_paid(api, members):
    from chalicelib.store.models_surveys import Survey
    from tests.integration.test_faults import inject

    survey_id = published(api)
    token, body = members.verified()
    member_id = body["member"]["member_id"]
    before = stored_member(member_id).balance

    def close_first() -> None:
        # The operator's close lands after the answer read the survey open, before it commits.
        Survey(keys.SURVEYS_PK, keys.survey_sk(survey_id)).update(actions=[Survey.status.set("closed")])

    with inject("TransactWriteItems", close_first, times=1) as injected:
        reply = _answer(api, token, survey_id)
    assert injected[0] == 1
    _problem(reply, 409, "survey_not_open")
    assert stored_member(member_id).balance == before
    assert [e.ref for e in stored_ledger(member_id)].count(f"survey:{survey_id}") == 0
    assert api.get(f"/v1/admin/surveys/{survey_id}").json()["results"]["responses"] == 0
    assert not api.get(f"/v1/me/surveys/{survey_id}", headers=bearer(token)).json()["answered"]


def test_given_free_text_pages_then_no_cursor_key_or_field_links_a_text_to_its_writer(api, members):
    import base64

    survey_id = published(api)
    ids = []
    for _ in range(3):
        token, body = members.verified()
        ids.append(body["member"]["member_id"])
        assert _answer(api, token, survey_id).status == 201
    shown, cursor, cursors = [], None, []
    while True:
        page = api.get(f"/v1/admin/surveys/{survey_id}/free-text?limit=1" + (f"&cursor={cursor}" if cursor else "")).json()
        shown += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
        cursors.append(cursor)
    assert len(shown) == 3 and cursors
    revealed = " ".join([*cursors, *(base64.urlsafe_b64decode(c + "=" * (-len(c) % 4)).decode(errors="replace") for c in cursors), str(shown)])
    stored = [str(i.attribute_values) + i.pk + i.sk for i in BaseItem.query(f"SURVEYTEXT#{survey_id}")]
    assert len(stored) == 3
    for member_id in ids:
        assert member_id not in revealed and not [s for s in stored if member_id in s]


def test_given_a_segment_replaced_after_its_count_then_publishing_is_409_until_counted_and_then_invites_the_new_members_only(api, members, aws):
    """Given a segment survey drafted after the segment was counted, when the definition is
    replaced before publication, then publishing answers 409 segment_computing and invites nobody;
    once the new definition is counted, it invites that audience, not the replaced one's."""
    buyer, buyer_body = members.verified()
    newcomer, _ = members.verified()
    assert members.purchase("o-1", 10_000, member_id=buyer_body["member"]["member_id"]).status == 201
    assert api.post("/v1/admin/analytics/refreshes").status == 201
    segment = api.post("/v1/admin/segments", {"name": "买过的会员", "definition": {"last_purchase": {"within_days": 30}}}).json()["segment_id"]
    assert run("segment-audiences", None, False)["dead_lettered"] == 0
    made = api.post("/v1/admin/surveys", definition(target="segment", segment_id=segment, reward=None)).json()

    replaced = api.request("PUT", f"/v1/admin/segments/{segment}", json_body={"name": "没买过", "definition": {"last_purchase": {"never": True}}})
    assert replaced.status == 202, replaced.text
    _problem(api.post(f"/v1/admin/surveys/{made['survey_id']}/publish", {}), 409, "segment_computing")
    assert api.get(f"/v1/admin/surveys/{made['survey_id']}").json()["status"] == "draft"

    assert run("segment-audiences", None, False)["dead_lettered"] == 0
    publish = api.post(f"/v1/admin/surveys/{made['survey_id']}/publish", {})
    assert publish.status == 200 and publish.json()["audience"]["count"] == 1, publish.text
    assert run("survey-invitations", _today(), False)["dead_lettered"] == 0
    assert [s["survey_id"] for s in api.get("/v1/me/surveys", headers=bearer(newcomer)).json()["items"]] == [made["survey_id"]]
    assert api.get("/v1/me/surveys", headers=bearer(buyer)).json()["items"] == []
