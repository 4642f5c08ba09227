"""Feedback: a member writes in, an operator answers once, the member is told and reads the answer."""

from __future__ import annotations

import logging

import pytest

from chalicelib.store import keys
from chalicelib.store.models import BaseItem, Member
from tests.integration.conftest import bearer
from tests.support.outbox import messages

COMPLAINT = {"category": "service", "text": "静安店的咖啡太凉了。\nThe coffee was cold."}


def _give(api, token, body=None, **headers):
    return api.post("/v1/me/feedback", body or COMPLAINT, headers={**bearer(token), **headers})


def _mine(api, token, query=""):
    reply = api.get(f"/v1/me/feedback{query}", headers=bearer(token))
    assert reply.status == 200, reply.text
    return reply.json()


def _queue(api, query="?status=open"):
    reply = api.get(f"/v1/admin/feedback{query}")
    assert reply.status == 200, reply.text
    return reply.json()


def _answer(api, feedback_id, text="抱歉！We have spoken to the store team.", **headers):
    return api.post(f"/v1/admin/feedback/{feedback_id}/answer", {"text": text}, headers=headers)


def _problem(reply, status, code):
    assert reply.status == status, reply.text
    assert reply.content_type.startswith("application/problem+json")
    assert reply.json()["code"] == code
    return reply.json()


def _invalid(reply, field):
    problem = _problem(reply, 400, "validation_error")
    assert field in [e["field"] for e in problem["errors"]], problem
    return problem


def _items():
    return sorted((i.pk, i.sk) for i in BaseItem.scan())


def test_given_a_member_writes_in_then_operators_see_it_answer_it_and_the_member_reads_the_answer(api, members, outbox_path):
    token, body = members.verified()
    member_id, phone = body["member"]["member_id"], body["member"]["phone"]

    given = _give(api, token)
    assert given.status == 201
    feedback = given.json()
    assert {k: feedback[k] for k in ("category", "text", "order_id", "status", "answer")} == {
        **COMPLAINT,
        "order_id": None,
        "status": "open",
        "answer": None,
    }
    assert _mine(api, token)["items"] == [feedback]

    queued = _queue(api)["items"]
    assert [(f["feedback_id"], f["member_id"], f["text"], f["status"]) for f in queued] == [
        (feedback["feedback_id"], member_id, COMPLAINT["text"], "open")
    ]

    answered = _answer(api, feedback["feedback_id"])
    assert answered.status == 200
    assert answered.json()["status"] == "answered" and answered.json()["answer"]["text"] == "抱歉！We have spoken to the store team."
    told = [m for m in messages(outbox_path) if m["to"] == phone and m["kind"] == "feedback_answer"]
    assert len(told) == 1 and told[0]["channel"] == "sms"

    mine = _mine(api, token)["items"][0]
    assert mine["status"] == "answered"
    assert mine["answer"]["text"] == "抱歉！We have spoken to the store team." and mine["answer"]["answered_at"]
    assert _queue(api)["items"] == []
    assert [f["feedback_id"] for f in _queue(api, "?status=answered")["items"]] == [feedback["feedback_id"]]


def test_given_an_answer_then_the_audit_trail_names_the_operator_without_the_answer_text(api, members):
    token, body = members.verified()
    feedback_id = _give(api, token).json()["feedback_id"]
    _answer(api, feedback_id, "Sorry about that", **{"X-Operator": "li.na"})
    audit = api.get(f"/v1/admin/audit?member_id={body['member']['member_id']}").json()["items"]
    entry = next(e for e in audit if e["action"] == "feedback.answer")
    assert entry["actor"] == "local-operator:li.na"
    assert entry["target"] == {"type": "feedback", "id": feedback_id}
    assert "Sorry about that" not in str(entry)


def test_given_the_same_answer_again_then_200_and_no_second_message_but_another_answer_is_409(api, members, outbox_path):
    token, _body = members.verified()
    feedback_id = _give(api, token).json()["feedback_id"]
    first = _answer(api, feedback_id, "Thanks!")
    again = _answer(api, feedback_id, "Thanks!")
    assert (again.status, again.json()) == (200, first.json())
    _problem(_answer(api, feedback_id, "Something else"), 409, "invalid_state")
    assert len([m for m in messages(outbox_path) if m["kind"] == "feedback_answer"]) == 1
    assert _mine(api, token)["items"][0]["answer"]["text"] == "Thanks!"


def test_given_an_unknown_or_impossible_feedback_id_then_404(api):
    _problem(_answer(api, "fb_0000000000000deadbeef"), 404, "not_found")
    _problem(_answer(api, "nope"), 404, "not_found")


@pytest.mark.parametrize(("body", "field"), [({}, "text"), ({"text": "  "}, "text"), ({"text": "x" * 2001}, "text"), ({"text": "ok", "x": 1}, "x")])
def test_given_a_bad_answer_then_400_and_the_feedback_stays_open(api, members, body, field):
    token, _ = members.verified()
    feedback_id = _give(api, token).json()["feedback_id"]
    _invalid(api.post(f"/v1/admin/feedback/{feedback_id}/answer", body), field)
    assert _mine(api, token)["items"][0]["status"] == "open"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "hi"}, "category"),
        ({"category": "weather", "text": "hi"}, "category"),
        ({"category": "store"}, "text"),
        ({"category": "store", "text": ""}, "text"),
        ({"category": "store", "text": " \n "}, "text"),
        ({"category": "store", "text": "x" * 2001}, "text"),
        ({"category": "store", "text": "bell\x07"}, "text"),
        ({"category": "store", "text": 42}, "text"),
        ({"category": "store", "text": "hi", "order_id": "has space"}, "order_id"),
        ({"category": "store", "text": "hi", "order_id": "o-nobody"}, "order_id"),
        ({"category": "store", "text": "hi", "rating": 5}, "rating"),
    ],
)
def test_given_bad_feedback_then_400_naming_the_field_and_nothing_is_stored(api, members, body, field):
    token, _ = members.verified()
    before = _items()
    _invalid(_give(api, token, body), field)
    assert _items() == before


def test_given_malformed_json_then_400(api, members):
    token, _ = members.verified()
    _problem(api.request("POST", "/v1/me/feedback", body=b"{", headers=bearer(token)), 400, "validation_error")


def test_given_the_longest_text_and_one_of_the_members_own_orders_then_it_is_accepted(api, members):
    token, body = members.verified()
    members.purchase("o-1", 1000, phone=body["member"]["phone"])
    reply = _give(api, token, {"category": "product", "text": "长" * 2000, "order_id": "o-1"})
    assert reply.status == 201
    assert (reply.json()["order_id"], len(reply.json()["text"])) == ("o-1", 2000)


def test_given_another_members_order_then_it_cannot_be_named(api, members):
    token, _ = members.verified()
    _, other = members.verified()
    members.purchase("o-theirs", 1000, phone=other["member"]["phone"])
    _invalid(_give(api, token, {"category": "product", "text": "hi", "order_id": "o-theirs"}), "order_id")


def test_given_an_idempotency_key_then_a_retry_answers_the_same_and_stores_nothing_more(api, members):
    token, _ = members.verified()
    first = _give(api, token, **{"Idempotency-Key": "fb-1"})
    again = _give(api, token, **{"Idempotency-Key": "fb-1"})
    assert (first.status, again.status, again.headers.get("Idempotent-Replayed")) == (201, 200, "true")
    assert again.json() == first.json()
    assert len(_mine(api, token)["items"]) == 1 and len(_queue(api)["items"]) == 1
    _problem(_give(api, token, {"category": "app", "text": "other"}, **{"Idempotency-Key": "fb-1"}), 409, "idempotency_conflict")
    _invalid(_give(api, token, **{"Idempotency-Key": "k" * 129}), "Idempotency-Key")
    assert len(_mine(api, token)["items"]) == 1


def test_given_several_pieces_of_feedback_then_members_page_newest_first_and_operators_oldest_first(api, members):
    token, _ = members.verified()
    other_token, _ = members.verified()
    ids = [_give(api, token, {"category": "other", "text": f"note {n}"}).json()["feedback_id"] for n in range(3)]
    _give(api, other_token, {"category": "app", "text": "not yours"})

    seen, cursor = [], None
    while True:
        page = _mine(api, token, "?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        seen += [f["feedback_id"] for f in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))

    first = _queue(api, "?limit=2")
    rest = _queue(api, f"?limit=2&cursor={first['next_cursor']}")
    assert [f["feedback_id"] for f in first["items"] + rest["items"]][:3] == ids


@pytest.mark.parametrize("query", ["?status=closed", "?limit=0", "?cursor=bm9wZQ"])
def test_given_bad_operator_list_parameters_then_400(api, query):
    _problem(api.get(f"/v1/admin/feedback{query}"), 400, "validation_error")


def test_given_the_local_stage_then_operator_feedback_responses_say_they_are_open(api):
    assert api.get("/v1/admin/feedback").headers["X-Huiyuan-Admin"] == "local-open"
    assert _answer(api, "nope").headers["X-Huiyuan-Admin"] == "local-open"


def test_given_no_token_or_a_closed_member_then_401(api, members):
    _problem(api.post("/v1/me/feedback", COMPLAINT), 401, "unauthorized")
    token, body = members.verified()
    Member.get(keys.member_pk(body["member"]["member_id"]), keys.PROFILE).update(actions=[Member.status.set("closed")])
    _problem(_give(api, token), 401, "unauthorized")
    _problem(api.get("/v1/me/feedback", headers=bearer(token)), 401, "unauthorized")


def test_given_an_answer_to_a_member_who_closed_then_it_is_recorded_and_no_message_goes_out(api, members, outbox_path):
    token, body = members.verified()
    feedback_id = _give(api, token).json()["feedback_id"]
    Member.get(keys.member_pk(body["member"]["member_id"]), keys.PROFILE).update(actions=[Member.status.set("closed")])
    assert _answer(api, feedback_id).status == 200
    assert [m for m in messages(outbox_path) if m["kind"] == "feedback_answer"] == []


def test_given_feedback_and_its_answer_then_neither_text_reaches_the_logs(api, members, capfd, caplog):
    caplog.set_level(logging.DEBUG, logger="huiyuan")
    token, _ = members.verified()
    secret_text, secret_answer = "我的手机 13912345678 丢了", "请联系 li.na@example.cn"
    feedback_id = _give(api, token, {"category": "other", "text": secret_text}).json()["feedback_id"]
    _answer(api, feedback_id, secret_answer)
    out, err = capfd.readouterr()
    logged = out + err + caplog.text
    assert "feedback received" in logged and "feedback answered" in logged
    assert secret_text not in logged and "13912345678" not in logged and secret_answer not in logged
