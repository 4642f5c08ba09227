"""Operators' tags on members (/v1/admin/members/{id}/tags): declared in the rules, added and
removed with a reason, shown to operators, audited, never shown to the member, gone at erasure
(test_closure.py)."""

from __future__ import annotations

import pytest

from tests.integration.conftest import bearer

WHY = "客服工单 #88: VIP from the launch event"
TAGS = [
    {"id": "vip", "name": "贵宾"},
    {"id": "high_value", "name": "高价值"},
    {"id": "staff", "name": "员工"},
    {"id": "store-sh01", "name": "上海一店"},
]


@pytest.fixture(autouse=True)
def declared_tags(api):
    """The brand declares its tags in the rules, as an operator would."""
    declare_tags(api, TAGS)


def declare_tags(api, tags: list[dict]) -> None:
    rules = api.get("/v1/admin/rules").json()["rules"]
    saved = api.request("PUT", "/v1/admin/rules", json_body={"rules": {**rules, "member_tags": tags}, "reason": "tags for the launch"})
    assert saved.status == 200, saved.text


def _tags(api, member_id: str, *, add=(), remove=(), reason: str | None = WHY):
    body = {"add": list(add), "remove": list(remove)} | ({"reason": reason} if reason is not None else {})
    return api.post(f"/v1/admin/members/{member_id}/tags", body)


def _operator_tags(api, member_id: str) -> list[str]:
    reply = api.get(f"/v1/admin/members/{member_id}")
    assert reply.status == 200, reply.text
    return reply.json()["operator_tags"]


def _audit(api, member_id: str) -> list[dict]:
    return [e for e in api.get(f"/v1/admin/audit?member_id={member_id}").json()["items"] if e["action"] == "member.tags"]


def test_given_a_member_when_an_operator_adds_and_removes_tags_then_operators_see_them_and_each_change_is_audited(api, members):
    token, body = members.verified()
    member_id = body["member"]["member_id"]

    added = _tags(api, member_id, add=["vip", "high_value", "store-sh01"])
    assert added.status == 200, added.text
    assert added.json()["operator_tags"] == ["high_value", "store-sh01", "vip"]
    removed = _tags(api, member_id, add=["staff"], remove=["vip", "never-had"])
    assert removed.json()["operator_tags"] == ["high_value", "staff", "store-sh01"]
    assert _operator_tags(api, member_id) == ["high_value", "staff", "store-sh01"]

    newest, first = _audit(api, member_id)
    assert first["before"] == {"operator_tags": []} and first["after"] == {"operator_tags": ["high_value", "store-sh01", "vip"]}
    assert newest["after"] == {"operator_tags": ["high_value", "staff", "store-sh01"]} and newest["reason"] == WHY
    # The member's own profile tags are theirs; the operators' labels are not shown to them.
    me = api.get("/v1/me", headers=bearer(token)).json()
    assert "operator_tags" not in me and me["tags"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"add": ["not-declared"], "reason": WHY}, "add"),
        ({"add": ["VIP"], "reason": WHY}, "add"),
        ({"add": ["has space"], "reason": WHY}, "add"),
        ({"add": ["x" * 33], "reason": WHY}, "add"),
        ({"add": ["vip"], "remove": ["vip"], "reason": WHY}, "body"),
        ({"add": [], "remove": [], "reason": WHY}, "body"),
        ({"add": ["vip"]}, "reason"),
        ({"add": "vip", "reason": WHY}, "add"),
    ],
)
def test_given_an_invalid_tag_change_then_400_and_the_tags_are_unchanged(api, members, body, field):
    _, member = members.verified()
    member_id = member["member"]["member_id"]
    _tags(api, member_id, add=["staff"])
    reply = api.post(f"/v1/admin/members/{member_id}/tags", body)
    assert reply.status == 400 and reply.content_type.startswith("application/problem+json"), reply.text
    assert any(e["field"] == field or e["field"].startswith(f"{field}.") for e in reply.json()["errors"]), reply.json()
    assert _operator_tags(api, member_id) == ["staff"]
    assert len(_audit(api, member_id)) == 1


def test_given_a_tag_no_longer_declared_then_members_can_still_lose_it_but_not_gain_it(api, members):
    _, member = members.verified()
    member_id = member["member"]["member_id"]
    _tags(api, member_id, add=["staff", "vip"])
    declare_tags(api, [t for t in TAGS if t["id"] != "staff"])
    assert _tags(api, member_id, add=["staff"]).status == 400
    assert _tags(api, member_id, remove=["staff"]).json()["operator_tags"] == ["vip"]


def test_given_a_rules_document_declaring_a_tag_twice_then_400(api):
    rules = api.get("/v1/admin/rules").json()["rules"]
    reply = api.request("PUT", "/v1/admin/rules", json_body={"rules": {**rules, "member_tags": TAGS + TAGS[:1]}, "reason": "x"})
    assert reply.status == 400 and "unique" in reply.text


def test_given_fifty_tags_then_a_fifty_first_is_refused_and_nothing_changes(api, members):
    declare_tags(api, [{"id": f"t{i}", "name": f"Tag {i}"} for i in range(51)])
    _, member = members.verified()
    member_id = member["member"]["member_id"]
    assert _tags(api, member_id, add=[f"t{i}" for i in range(50)]).status == 200
    reply = _tags(api, member_id, add=["t50"])
    assert reply.status == 400 and "at most 50" in reply.text
    assert len(_operator_tags(api, member_id)) == 50 and len(_audit(api, member_id)) == 1


def test_given_an_unknown_or_closed_member_then_404_or_409_and_no_audit(api, members):
    assert _tags(api, "mbr_0000000000000000", add=["vip"]).status == 404
    token, member = members.verified()
    member_id = member["member"]["member_id"]
    assert api.request("DELETE", "/v1/me", json_body={"reason": "moving"}, headers=bearer(token)).status == 200
    reply = _tags(api, member_id, add=["vip"])
    assert (reply.status, reply.json()["code"]) == (409, "member_closed")
    assert _audit(api, member_id) == []
