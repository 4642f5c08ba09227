"""Segments over HTTP (moto, the DuckDB engine after a real refresh): saved, previewed, their audience
written and read as campaigns read it, bulk tag changes through the jobs queue."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.store import audiences
from localstage.job import run
from tests.integration.conftest import Members
from tests.support.client import ApiClient

TAGS = [{"id": "vip", "name": "贵宾"}, {"id": "staff", "name": "员工"}]
BOUGHT_RECENTLY = {"name": "买过的会员", "definition": {"last_purchase": {"within_days": 30}, "lifecycle_stages": ["active"]}}


@pytest.fixture(autouse=True)
def declared_tags(api: ApiClient) -> None:
    rules = api.get("/v1/admin/rules").json()["rules"]
    saved = api.request("PUT", "/v1/admin/rules", json_body={"rules": {**rules, "member_tags": TAGS}, "reason": "tags for segments"})
    assert saved.status == 200, saved.text


def shop(api: ApiClient, members: Members) -> dict[str, str]:
    """A: two purchases, tagged vip; B: one purchase; C: none."""
    _, a = members.verified()
    _, b = members.verified()
    _, c = members.verified()
    ids = {"a": a["member"]["member_id"], "b": b["member"]["member_id"], "c": c["member"]["member_id"]}
    for order, amount, who in (("o-a1", 20_000, "a"), ("o-a2", 30_000, "a"), ("o-b1", 10_000, "b")):
        assert members.purchase(order, amount, member_id=ids[who]).status == 201
    tagged = api.post(f"/v1/admin/members/{ids['a']}/tags", {"add": ["vip"], "reason": "launch event"})
    assert tagged.status == 200, tagged.text
    return ids


def refresh(api: ApiClient) -> dict[str, Any]:
    done = api.post("/v1/admin/analytics/refreshes")
    assert done.status == 201, done.text
    return dict(done.json())


def counted(summary_of: str = "segment-audiences") -> dict[str, Any]:
    """What `make job JOB=segment-audiences` does: the queued counts done."""
    summary = run(summary_of, None, False)
    assert summary["dead_lettered"] == 0, summary
    return summary


def save(api: ApiClient, body: dict[str, Any]) -> dict[str, Any]:
    """A segment saved after a refresh (202, computing), then counted by its queued unit."""
    saved = api.post("/v1/admin/segments", body)
    assert saved.status == 202 and saved.json()["status"] == "computing", saved.text
    counted()
    return dict(api.get(f"/v1/admin/segments/{saved.json()['segment_id']}").json())


def audience_members(segment_id: str) -> list[str]:
    manifest = audiences.latest(segment_id)
    assert manifest is not None
    return sorted(audiences.members(manifest))


def test_before_any_refresh_a_segment_is_saved_but_preview_audience_and_tags_are_409_analytics_not_ready(api: ApiClient, members: Members) -> None:
    shop(api, members)
    created = api.post("/v1/admin/segments", BOUGHT_RECENTLY)
    assert created.status == 201, created.text
    segment = created.json()
    assert segment["audience"] is None and segment["segment_id"].startswith("seg_") and segment["status"] == "awaiting_analytics"
    for path, body in (("preview", None), ("audiences", None), ("tags", {"add": ["staff"], "reason": "x"})):
        reply = api.post(f"/v1/admin/segments/{segment['segment_id']}/{path}", body)
        assert reply.status == 409 and reply.json()["code"] == "analytics_not_ready", reply.text
    assert audiences.latest(segment["segment_id"]) is None


def test_a_refresh_writes_every_saved_segments_audience_and_the_preview_counts_from_the_same_build(api: ApiClient, members: Members) -> None:
    ids = shop(api, members)
    segment = api.post("/v1/admin/segments", BOUGHT_RECENTLY).json()
    built = refresh(api)

    assert audience_members(segment["segment_id"]) == sorted([ids["a"], ids["b"]])
    manifest = audiences.latest(segment["segment_id"])
    assert manifest is not None and manifest.count == 2
    assert manifest.data_as_of.isoformat(timespec="seconds").replace("+00:00", "Z")[:19] == built["data_as_of"][:19]

    preview = api.post(f"/v1/admin/segments/{segment['segment_id']}/preview")
    assert preview.status == 200, preview.text
    body = preview.json()
    assert (body["size"], body["empty"], body["data_as_of"]) == (2, False, built["data_as_of"])
    assert sorted(s["member_id"] for s in body["sample"]) == sorted([ids["a"], ids["b"]])
    assert set(body["sample"][0]) == {"member_id", "tier", "lifecycle_stage", "value_segment", "last_purchase_on"}  # no phone, no name

    shown = api.get(f"/v1/admin/segments/{segment['segment_id']}").json()
    assert shown["audience"]["size"] == 2 and shown["audience"]["audience_id"] == manifest.audience_id and shown["status"] == "ready"
    assert [s["segment_id"] for s in api.get("/v1/admin/segments").json()["items"]] == [segment["segment_id"]]


def test_saving_after_a_refresh_queues_the_count_and_the_preview_shows_it_once_the_unit_ran(api: ApiClient, members: Members) -> None:
    """Given a build, when an operator saves a segment, then the answer is 202 `computing` with no
    engine query inside the request; the preview says so (409 segment_computing) until the queued
    unit has counted it, then shows its size and sample."""
    ids = shop(api, members)
    refresh(api)
    vip = api.post("/v1/admin/segments", {"name": "VIP", "definition": {"tags": {"any_of": ["vip"]}}})
    assert vip.status == 202, vip.text
    assert (vip.json()["status"], vip.json()["audience"]) == ("computing", None)
    segment_id = vip.json()["segment_id"]
    waiting = api.post(f"/v1/admin/segments/{segment_id}/preview")
    assert waiting.status == 409 and waiting.json()["code"] == "segment_computing", waiting.text
    tags = api.post(f"/v1/admin/segments/{segment_id}/tags", {"add": ["staff"], "reason": "x"})
    assert tags.status == 409 and tags.json()["code"] == "segment_computing", tags.text

    counted()
    shown = api.get(f"/v1/admin/segments/{segment_id}").json()
    assert (shown["status"], shown["audience"]["size"]) == ("ready", 1) and audience_members(segment_id) == [ids["a"]]
    preview = api.post(f"/v1/admin/segments/{segment_id}/preview").json()
    assert (preview["size"], [m["member_id"] for m in preview["sample"]]) == (1, [ids["a"]])

    replacement = {"name": "没买过", "definition": {"last_purchase": {"never": True}}}
    never = api.request("PUT", f"/v1/admin/segments/{segment_id}", json_body=replacement)
    assert never.status == 202 and (never.json()["version"], never.json()["status"]) == (2, "computing"), never.text
    assert never.json()["audience"]["size"] == 1  # the previous count is still shown, marked computing
    assert api.post(f"/v1/admin/segments/{segment_id}/preview").json()["code"] == "segment_computing"
    counted()
    assert audience_members(segment_id) == [ids["c"]] and api.post(f"/v1/admin/segments/{segment_id}/preview").json()["size"] == 1

    again = api.post(f"/v1/admin/segments/{segment_id}/audiences")
    assert again.status == 202 and again.json()["status"] == "computing", again.text
    counted()
    latest = audiences.latest(segment_id)
    assert latest is not None and latest.segment_version == 2 and latest.audience_id != never.json()["audience"]["audience_id"]

    day = api.get("/v1/admin/audit?day=" + api.get("/v1/admin/analytics/kpis").json()["as_of"]).json()["items"]
    assert {"segment.create", "segment.update"} <= {e["action"] for e in day}


def test_a_count_queued_for_a_replaced_version_writes_nothing(api: ApiClient, members: Members) -> None:
    """Given a save and a replacement before any unit ran, when both units run (in either order),
    then only the current definition's count is written."""
    ids = shop(api, members)
    refresh(api)
    first = api.post("/v1/admin/segments", {"name": "VIP", "definition": {"tags": {"any_of": ["vip"]}}}).json()
    never = {"name": "没买过", "definition": {"last_purchase": {"never": True}}}
    replaced = api.request("PUT", f"/v1/admin/segments/{first['segment_id']}", json_body=never)
    assert replaced.status == 202, replaced.text
    assert audiences.latest(first["segment_id"]) is None  # nothing counted inside either request
    every_unit_delivered_twice("segment-audiences")
    assert audience_members(first["segment_id"]) == [ids["c"]]
    manifest = audiences.latest(first["segment_id"])
    assert manifest is not None and manifest.segment_version == 2


def test_an_empty_segment_is_size_0_not_an_error_and_its_audience_is_empty(api: ApiClient, members: Members) -> None:
    shop(api, members)
    refresh(api)
    gold = save(api, {"name": "金卡", "definition": {"tiers": ["gold"]}})
    assert gold["audience"]["size"] == 0
    preview = api.post(f"/v1/admin/segments/{gold['segment_id']}/preview").json()
    assert (preview["size"], preview["empty"], preview["sample"]) == (0, True, [])
    assert audience_members(gold["segment_id"]) == []
    tagged = api.post(f"/v1/admin/segments/{gold['segment_id']}/tags", {"add": ["vip"], "reason": "nobody"})
    assert tagged.status == 202 and (tagged.json()["members"], tagged.json()["status"]) == (0, "completed"), tagged.text


@pytest.mark.parametrize(
    ("definition", "status", "field"),
    [
        ({"tier": ["gold"]}, 400, "definition.tier"),
        ({"last_purchase": {"within_days": 30, "since": "2026-01-01"}}, 400, "definition.last_purchase.since"),
        ({"tags": {"any_of": ["ghost"]}}, 422, "tags"),
        ({"tiers": ["platinum"]}, 422, "tiers"),
    ],
)
def test_unknown_fields_and_undeclared_tags_are_refused_by_name_and_nothing_is_saved(
    api: ApiClient, definition: dict[str, Any], status: int, field: str
) -> None:
    reply = api.post("/v1/admin/segments", {"name": "x", "definition": definition})
    assert reply.status == status, reply.text
    assert field in [e["field"] for e in reply.json()["errors"]]
    assert api.get("/v1/admin/segments").json()["items"] == []
    unknown_top = api.post("/v1/admin/segments", {"name": "x", "definition": {}, "filter": "1=1"})
    assert unknown_top.status == 400 and unknown_top.json()["errors"][0]["field"] == "filter"


def test_a_segment_deleted_is_gone_and_audited(api: ApiClient) -> None:
    created = api.post("/v1/admin/segments", BOUGHT_RECENTLY).json()
    deleted = api.request("DELETE", f"/v1/admin/segments/{created['segment_id']}", json_body={"reason": "campaign over"})
    assert deleted.status == 200 and deleted.json()["deleted"] is True, deleted.text
    assert api.get(f"/v1/admin/segments/{created['segment_id']}").status == 404
    assert api.post(f"/v1/admin/segments/{created['segment_id']}/preview").status == 404
    assert api.get("/v1/admin/segments/nope").status == 404


def every_unit_delivered_twice(job: str) -> None:
    from chalicelib.jobs.handlers import job_worker
    from chalicelib.jobs.runner import queue_url
    from localstage.job import drain_queue

    def twice(event: dict[str, Any], context: Any) -> Any:
        job_worker(event, context)
        return job_worker(event, context)

    drain_queue(twice, queue_url(), boto3.client("sqs"))


def test_bulk_tags_reach_every_member_of_the_audience_once_each_audited_even_when_every_unit_is_delivered_twice(
    api: ApiClient, members: Members
) -> None:
    ids = shop(api, members)
    refresh(api)
    segment = save(api, BOUGHT_RECENTLY)
    started = api.post(f"/v1/admin/segments/{segment['segment_id']}/tags", {"add": ["staff"], "remove": ["vip"], "reason": "门店员工名单"})
    assert started.status == 202, started.text
    change = started.json()
    assert (change["status"], change["members"], change["units"]) == ("running", 2, {"planned": 1, "done": 0})

    every_unit_delivered_twice("segment-tags")

    progress = api.get(f"/v1/admin/segments/{segment['segment_id']}/tags/{change['run_id']}").json()
    assert (progress["status"], progress["members_changed"], progress["units"]) == ("completed", 2, {"planned": 1, "done": 1}), progress
    for who in ("a", "b"):
        assert api.get(f"/v1/admin/members/{ids[who]}").json()["operator_tags"] == ["staff"]
        audit = [e for e in api.get(f"/v1/admin/audit?member_id={ids[who]}").json()["items"] if e["action"] == "member.tags"]
        bulk = [e for e in audit if (e["ref"] or "").startswith("segment:")]
        assert len(bulk) == 1 and bulk[0]["reason"] == "门店员工名单", audit
    assert api.get(f"/v1/admin/members/{ids['c']}").json()["operator_tags"] == []  # not in the segment


def test_bulk_tags_through_the_job_cli_path_and_an_undeclared_tag_changes_nothing(api: ApiClient, members: Members) -> None:
    ids = shop(api, members)
    refresh(api)
    vip = save(api, {"name": "VIP", "definition": {"tags": {"all_of": ["vip"]}}})
    refused = api.post(f"/v1/admin/segments/{vip['segment_id']}/tags", {"add": ["ghost"], "reason": "x"})
    assert refused.status == 400 and refused.json()["errors"][0]["field"] == "add", refused.text

    started = api.post(f"/v1/admin/segments/{vip['segment_id']}/tags", {"add": ["staff"], "reason": "x"}).json()
    summary = run("segment-tags", None, False)  # what `make job JOB=segment-tags` does
    assert summary["dead_lettered"] == 0, summary
    progress = api.get(f"/v1/admin/segments/{vip['segment_id']}/tags/{started['run_id']}").json()
    assert (progress["status"], progress["members_changed"]) == ("completed", 1)
    assert api.get(f"/v1/admin/members/{ids['a']}").json()["operator_tags"] == ["staff", "vip"]
    assert api.get(f"/v1/admin/members/{ids['b']}").json()["operator_tags"] == []


def test_a_worker_that_crashes_mid_part_is_redelivered_and_changes_and_audits_each_member_once(api: ApiClient, members: Members) -> None:
    from botocore.awsrequest import AWSResponse

    from chalicelib.store.models import BaseItem
    from chalicelib.store.unit_of_work import connection

    ids = shop(api, members)
    refresh(api)
    segment = save(api, BOUGHT_RECENTLY)
    change = api.post(f"/v1/admin/segments/{segment['segment_id']}/tags", {"add": ["staff"], "reason": "门店员工名单"}).json()

    # The second member's transaction fails as a crash would (an error no retry absorbs): the first
    # member is done, the unit fails, SQS delivers it again.
    calls = [0]

    def crash_on_the_second_member(**_: Any) -> Any:
        calls[0] += 1
        if calls[0] == 2:
            return AWSResponse("http://injected", 400, {}, None), {"Error": {"Code": "ValidationException", "Message": "injected crash"}}
        return None

    clients = {id(c): c for c in [connection().client, *(m._get_connection().connection.client for m in [BaseItem, *BaseItem.__subclasses__()])]}
    for client in clients.values():
        client.meta.events.register("before-call.dynamodb.TransactWriteItems", crash_on_the_second_member, unique_id="crash")
    try:
        summary = run("segment-tags", None, False)
    finally:
        for client in clients.values():
            client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", unique_id="crash")
    assert summary["dead_lettered"] == 0 and calls[0] >= 3, (summary, calls)

    progress = api.get(f"/v1/admin/segments/{segment['segment_id']}/tags/{change['run_id']}").json()
    # The delivery that completed found the first member done already: counted apart, not changed again.
    assert (progress["status"], progress["members_changed"], progress["members_skipped"]) == ("completed", 1, {"already_done": 1}), progress
    for who in ("a", "b"):
        assert api.get(f"/v1/admin/members/{ids[who]}").json()["operator_tags"] == sorted({"staff", "vip"} if who == "a" else {"staff"})
        audit = [e for e in api.get(f"/v1/admin/audit?member_id={ids[who]}").json()["items"] if (e["ref"] or "").startswith("segment:")]
        assert len(audit) == 1, audit


def break_the_analytics_engine() -> bytes:
    """The latest build's tables are no longer readable (a damaged build: every query of the
    engine fails). Returns the pointer to the good build, to put back."""
    import json
    import secrets

    from chalicelib.settings import get_settings
    from chalicelib.store.analytics_engine import LATEST_KEY
    from chalicelib.store.analytics_sql import DERIVED_TABLES

    s3, bucket = boto3.client("s3"), get_settings().analytics_bucket
    good = bytes(s3.get_object(Bucket=bucket, Key=LATEST_KEY)["Body"].read())
    broken = {**json.loads(good), "export_id": f"damaged-{secrets.token_hex(4)}"}
    for table in DERIVED_TABLES:
        s3.put_object(Bucket=bucket, Key=f"derived/{broken['export_id']}/{table}/part-00000.parquet", Body=b"not parquet")
    s3.put_object(Bucket=bucket, Key=LATEST_KEY, Body=json.dumps(broken).encode())
    return good


def mend_the_analytics_engine(good: bytes) -> None:
    from chalicelib.settings import get_settings
    from chalicelib.store.analytics_engine import LATEST_KEY

    boto3.client("s3").put_object(Bucket=get_settings().analytics_bucket, Key=LATEST_KEY, Body=good)


def test_a_count_that_fails_every_delivery_leaves_the_segment_failed_with_why_and_counting_again_or_replacing_starts_over(
    api: ApiClient, members: Members
) -> None:
    """Given the analytics engine failing, when a segment's queued count fails every delivery
    (SQS then dead-letters it), then the segment is `failed` with the reason, not `computing`
    forever, and the preview, bulk tags and a campaign answer 409 segment_failed; counting it again
    or replacing it makes it `computing`, and once the engine answers it is `ready`."""
    ids = shop(api, members)
    refresh(api)
    good = break_the_analytics_engine()
    saved = api.post("/v1/admin/segments", BOUGHT_RECENTLY)
    assert saved.status == 202, saved.text
    segment_id = saved.json()["segment_id"]

    summary = run("segment-audiences", None, False)
    assert summary["dead_lettered"] == 1, summary  # every delivery failed: SQS's redrive takes it
    shown = api.get(f"/v1/admin/segments/{segment_id}").json()
    assert shown["status"] == "failed" and shown["audience"] is None, shown
    reason = shown["failure"]["reason"]
    assert "failed on every delivery" in reason and not any(member_id in reason for member_id in ids.values())
    for reply in (
        api.post(f"/v1/admin/segments/{segment_id}/preview"),
        api.post(f"/v1/admin/segments/{segment_id}/tags", {"add": ["staff"], "reason": "x"}),
        api.post("/v1/admin/campaigns", {"name": "x", "segment_id": segment_id, "points": 5}),
    ):
        assert reply.status == 409 and reply.json()["code"] == "segment_failed", reply.text
        assert f"/v1/admin/segments/{segment_id}/audiences" in reply.json()["detail"]
    assert api.get("/v1/admin/campaigns").json()["items"] == []

    again = api.post(f"/v1/admin/segments/{segment_id}/audiences")
    assert again.status == 202, again.text
    assert api.get(f"/v1/admin/segments/{segment_id}").json()["status"] == "computing"  # a new count, not the failed one
    assert run("segment-audiences", None, False)["dead_lettered"] == 1  # the engine still fails
    assert api.get(f"/v1/admin/segments/{segment_id}").json()["status"] == "failed"

    mend_the_analytics_engine(good)
    replaced = api.request("PUT", f"/v1/admin/segments/{segment_id}", json_body={"name": "没买过", "definition": {"last_purchase": {"never": True}}})
    assert replaced.status == 202 and replaced.json()["status"] == "computing" and replaced.json()["failure"] is None, replaced.text
    counted()
    shown = api.get(f"/v1/admin/segments/{segment_id}").json()
    assert (shown["status"], shown["failure"], shown["audience"]["size"]) == ("ready", None, 1), shown
    assert audience_members(segment_id) == [ids["c"]]
    assert api.post(f"/v1/admin/segments/{segment_id}/preview").status == 200
