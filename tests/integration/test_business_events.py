"""Business events and webhooks through the app in-process and moto: the table's stream is read
by the local stage's pump (localstage/events.py) into the deployed handlers, events reach the
stage's EventBridge bus (observed through a rule to a queue), and deliveries reach a receiver on
loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from chalicelib.domain.clock import today_in, utcnow
from chalicelib.domain.webhooks import MAX_ATTEMPTS
from chalicelib.settings import get_settings
from chalicelib.usecases import webhooks
from localstage.events import EventPump
from tests.support.rules import SUITE_RULES


class Receiver:
    """A webhook endpoint on loopback that answers what the test says."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.answer = 200
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.received.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                if receiver.delay:
                    threading.Event().wait(receiver.delay)
                self.send_response(receiver.answer)
                if 300 <= receiver.answer < 400:
                    self.send_header("Location", f"http://127.0.0.1:{receiver.port}/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def pump(aws: Any) -> EventPump:
    return EventPump(aws)


@pytest.fixture
def bus_tap(aws: Any) -> Any:
    """Every event put on the stage's bus, read from a queue a rule sends them to."""
    sqs, bus = aws.client("sqs"), aws.client("events")
    url = sqs.create_queue(QueueName="bus-tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = get_settings().event_bus_name
    bus.put_rule(Name="tap", EventBusName=name, EventPattern=json.dumps({"source": ["huiyuan"]}))
    bus.put_targets(Rule="tap", EventBusName=name, Targets=[{"Id": "tap", "Arn": arn}])

    def read() -> list[dict[str, Any]]:
        found = []
        while True:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return found
            for m in got:
                found.append(json.loads(m["Body"])["detail"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    return read


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The receiver's check, as docs/integrations.md shows it."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, s) for s in headers["webhook-signature"].split())


def create(api: Any, url: str, types: list[str]) -> dict[str, Any]:
    reply = api.post("/v1/admin/webhooks", {"url": url, "event_types": types, "description": "CRM"})
    assert reply.status == 201, reply.text
    return reply.json()


def test_a_purchase_publishes_exactly_one_points_earned_event_with_its_ids(api, members, pump, bus_tap):
    _, body = members.verified()
    member_id = body["member"]["member_id"]
    pump.pump()
    bus_tap()  # the signup's events
    assert members.purchase("o-1", 10000, phone=body["member"]["phone"]).status == 201
    pump.pump()
    earned = [e for e in bus_tap() if e["type"] == "points.earned"]
    assert len(earned) == 1
    assert earned[0]["data"]["member_id"] == member_id and earned[0]["data"]["ref"] == "o-1" and earned[0]["data"]["points"] == 100
    # The same order again is a replay: no new write, no new event.
    assert members.purchase("o-1", 10000, phone=body["member"]["phone"]).status == 200
    pump.pump()
    assert [e for e in bus_tap() if e["type"] == "points.earned"] == []


def test_a_refused_request_publishes_nothing(api, members, pump, bus_tap):
    token, _ = members.verified()
    pump.pump()
    bus_tap()
    refused = api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers={"authorization": f"Bearer {token}", "Idempotency-Key": "k-1"})
    assert refused.status == 409, refused.text  # not enough points: the transaction is cancelled
    pump.pump()
    assert bus_tap() == []


def test_a_subscribed_endpoint_gets_a_signed_delivery_that_a_wrong_secret_does_not_verify(api, members, pump, receiver):
    hook = create(api, receiver.url, ["points.*"])
    assert hook["secret"].startswith("whsec_") and "secret" not in api.get(f"/v1/admin/webhooks/{hook['webhook_id']}").json()
    _, body = members.verified()
    members.purchase("o-1", 10000, phone=body["member"]["phone"])
    pump.pump()
    [delivery] = [r for r in receiver.received if json.loads(r["body"])["data"].get("ref") == "o-1"]
    event = json.loads(delivery["body"])
    assert delivery["headers"]["webhook-id"] == event["id"]
    assert verify(hook["secret"], delivery["headers"], delivery["body"])
    wrong = webhooks.rules_of.derive_secret(b"another key" * 4, hook["webhook_id"], 1)
    assert not verify(wrong, delivery["headers"], delivery["body"])
    status = api.get(f"/v1/admin/webhooks/{hook['webhook_id']}").json()["status"]
    assert status["last_success_at"] is not None and status["consecutive_failures"] == 0
    # Not subscribed: member events went nowhere.
    assert all(json.loads(r["body"])["type"].startswith("points.") for r in receiver.received)


def test_a_rotated_secret_signs_from_then_on_and_the_old_one_no_longer_verifies(api, members, pump, receiver):
    hook = create(api, receiver.url, ["points.earned"])
    rotated = api.post(f"/v1/admin/webhooks/{hook['webhook_id']}/secret")
    assert rotated.status == 200 and rotated.json()["secret"] != hook["secret"]
    _, body = members.verified()
    members.purchase("o-1", 10000, phone=body["member"]["phone"])
    pump.pump()
    [delivery] = [r for r in receiver.received if json.loads(r["body"])["data"].get("ref") == "o-1"]
    assert verify(rotated.json()["secret"], delivery["headers"], delivery["body"])
    assert not verify(hook["secret"], delivery["headers"], delivery["body"])


@pytest.mark.parametrize("failure", ["status 500", "redirect", "timeout"])
def test_a_failing_endpoint_is_retried_on_the_schedule_then_dead_lettered_then_replayed(api, members, pump, receiver, failure, monkeypatch):
    _, body = members.verified()
    pump.pump()  # the welcome bonus, before the endpoint exists
    hook = create(api, receiver.url, ["points.earned"])
    if failure == "status 500":
        receiver.answer = 500
    elif failure == "redirect":
        receiver.answer = 302
    else:
        monkeypatch.setattr("chalicelib.domain.webhooks.DELIVERY_TIMEOUT_SECONDS", 1)  # 10 s deployed: the same path, sooner
        receiver.delay = 1.5  # past the timeout
    members.purchase("o-1", 10000, phone=body["member"]["phone"])
    # The first attempt, from the queue as the worker gets it:
    pump.pump()
    status = api.get(f"/v1/admin/webhooks/{hook['webhook_id']}").json()["status"]
    assert status["consecutive_failures"] == 1 and status["last_failure"].startswith(failure.split()[0])
    if failure == "timeout":
        monkeypatch.setattr("chalicelib.domain.webhooks.DELIVERY_TIMEOUT_SECONDS", 10)  # back to the deployed value
        receiver.delay = 0
        receiver.answer = 500
    # The next attempts, each at its time (the retry message the worker queued, with its delay):
    [first] = [r for r in receiver.received if json.loads(r["body"])["data"].get("ref") == "o-1"]
    message = webhooks.delivery_message(hook["webhook_id"], json.loads(first["body"]), 2, utcnow())
    now = utcnow()
    for attempt in range(2, MAX_ATTEMPTS + 1):
        outcome = webhooks.deliver(message, now)
        assert outcome.outcome == ("dead_lettered" if attempt == MAX_ATTEMPTS else "retry"), (attempt, outcome)
        if outcome.next_message:
            message = outcome.next_message
            now = now + timedelta(hours=12)
    assert len({r["headers"]["webhook-id"] for r in receiver.received}) == 1  # the same event id every time
    seen = api.get(f"/v1/admin/webhooks/{hook['webhook_id']}").json()
    assert [d["event_id"] for d in seen["dead_letters"]] == [json.loads(first["body"])["id"]]
    assert seen["status"]["dead_letters"] == 1
    # Fixed: the operator replays, and the delivery goes through.
    receiver.answer, receiver.received = 200, []
    api.request("PATCH", f"/v1/admin/webhooks/{hook['webhook_id']}", json_body={"enabled": True})
    replay = api.post(f"/v1/admin/webhooks/{hook['webhook_id']}/replays")
    assert replay.status == 202 and replay.json()["replayed"] == 1
    pump.pump()
    assert [r["headers"]["webhook-id"] for r in receiver.received] == [json.loads(first["body"])["id"]]
    after = api.get(f"/v1/admin/webhooks/{hook['webhook_id']}").json()
    assert after["dead_letters"] == [] and after["status"]["consecutive_failures"] == 0


def test_a_disabled_endpoint_receives_nothing(api, members, pump, receiver):
    hook = create(api, receiver.url, ["*"])
    assert api.request("PATCH", f"/v1/admin/webhooks/{hook['webhook_id']}", json_body={"enabled": False}).json()["enabled"] is False
    _, body = members.verified()
    members.purchase("o-1", 10000, phone=body["member"]["phone"])
    pump.pump()
    assert receiver.received == []


def test_a_delivery_on_its_way_when_its_endpoint_is_disabled_is_kept_for_a_replay_once_enabled(api, members, pump, receiver):
    _, body = members.verified()
    pump.pump()  # the welcome bonus, before the endpoint exists
    hook = create(api, receiver.url, ["points.earned"])
    path = f"/v1/admin/webhooks/{hook['webhook_id']}"
    receiver.answer = 500
    members.purchase("o-1", 10000, phone=body["member"]["phone"])
    pump.pump()  # the first attempt fails: its retry is on its way
    [first] = receiver.received
    event = json.loads(first["body"])
    assert api.request("PATCH", path, json_body={"enabled": False}).json()["enabled"] is False
    receiver.received = []

    retry = webhooks.deliver(webhooks.delivery_message(hook["webhook_id"], event, 2, utcnow()))

    assert (retry.outcome, retry.failure) == ("dead_lettered", "endpoint disabled") and receiver.received == []
    assert [d["event_id"] for d in api.get(path).json()["dead_letters"]] == [event["id"]]
    # A replay while disabled would only hold them again: refused, nothing changes.
    refused = api.post(f"{path}/replays")
    assert refused.status == 409 and refused.json()["code"] == "invalid_state", refused.text
    assert [d["event_id"] for d in api.get(path).json()["dead_letters"]] == [event["id"]]
    # Enabled and replayed: delivered, with the same event id.
    receiver.answer = 200
    assert api.request("PATCH", path, json_body={"enabled": True}).json()["enabled"] is True
    assert api.post(f"{path}/replays").json()["replayed"] == 1
    pump.pump()
    assert [r["headers"]["webhook-id"] for r in receiver.received] == [event["id"]]
    assert api.get(path).json()["dead_letters"] == []


def test_a_retry_whose_time_is_hours_ahead_goes_back_to_the_queue_until_then(api, aws, receiver):
    """SQS delays a message at most 15 minutes: a later attempt comes back early and waits again."""
    hook = create(api, receiver.url, ["points.earned"])
    event = {"id": "evt_later", "type": "points.earned", "data": {}}
    now = utcnow()
    message = webhooks.delivery_message(hook["webhook_id"], event, 6, now + timedelta(hours=2))
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=get_settings().webhooks_queue_name)["QueueUrl"]
    sqs.purge_queue(QueueUrl=url)

    early = webhooks.deliver(message, now)

    assert (early.outcome, early.next_message) == ("waiting", message) and receiver.received == []
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesDelayed"]) == 1
    status = api.get(f"/v1/admin/webhooks/{hook['webhook_id']}").json()["status"]
    assert status["consecutive_failures"] == 0  # waiting is no attempt
    assert webhooks.deliver(message, now + timedelta(hours=2)).outcome == "delivered"
    assert [r["headers"]["webhook-id"] for r in receiver.received] == ["evt_later"]


@pytest.mark.parametrize(("failing_for", "disabled"), [(timedelta(days=3), True), (timedelta(days=2, hours=23), False)])
def test_an_endpoint_failing_for_3_days_is_disabled_when_its_next_delivery_is_dead_lettered(api, receiver, failing_for, disabled):
    hook = create(api, receiver.url, ["points.earned"])
    receiver.answer = 500
    now = utcnow()
    first = webhooks.delivery_message(hook["webhook_id"], {"id": "evt_1", "type": "points.earned", "data": {}}, 1, now - failing_for)
    assert webhooks.deliver(first, now - failing_for).outcome == "retry"  # failing since then, never a success

    last = webhooks.delivery_message(hook["webhook_id"], {"id": "evt_2", "type": "points.earned", "data": {}}, MAX_ATTEMPTS, now)
    assert webhooks.deliver(last, now).outcome == "dead_lettered"

    shown = api.get(f"/v1/admin/webhooks/{hook['webhook_id']}").json()
    assert (shown["enabled"], shown["disabled_reason"]) == ((False, "failing") if disabled else (True, None))


def test_a_receiver_that_drips_its_answer_is_a_timeout_within_the_one_deadline_of_the_whole_post(api, monkeypatch):
    """Each read waits less than the timeout, but the whole answer takes longer: it is a timeout,
    within the delivery's one deadline, so the worker's own Lambda timeout is never reached."""
    import socket
    import time

    monkeypatch.setattr("chalicelib.domain.webhooks.DELIVERY_TIMEOUT_SECONDS", 1)  # 10 s deployed
    listener = socket.create_server(("127.0.0.1", 0))

    def drip() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n")
            for _ in range(20):  # a byte every 0.25 s: 5 s in all
                time.sleep(0.25)
                try:
                    conn.sendall(b"x")
                except OSError:
                    return  # the worker gave up: what it should do

    threading.Thread(target=drip, daemon=True).start()
    hook = create(api, f"http://127.0.0.1:{listener.getsockname()[1]}/slow", ["points.earned"])
    event = {"id": "evt_drip", "type": "points.earned", "data": {}}
    began = time.monotonic()

    outcome = webhooks.deliver(webhooks.delivery_message(hook["webhook_id"], event, 1, utcnow()))

    assert (outcome.outcome, outcome.failure) == ("retry", "timeout")
    assert time.monotonic() - began < 2.5  # not the 5 s the answer would take
    listener.close()


def test_a_delivery_for_a_deleted_endpoint_is_dropped(api, receiver):
    hook = create(api, receiver.url, ["points.earned"])
    assert api.request("DELETE", f"/v1/admin/webhooks/{hook['webhook_id']}").status == 204
    event = {"id": "evt_gone", "type": "points.earned", "data": {}}
    assert webhooks.deliver(webhooks.delivery_message(hook["webhook_id"], event, 1, utcnow())).outcome == "skipped"
    assert receiver.received == []


def test_bad_endpoints_are_refused_and_operator_changes_are_audited(api):
    for url in ("ftp://x.example/", "http://crm.example.com/hooks", "not a url"):
        reply = api.post("/v1/admin/webhooks", {"url": url, "event_types": ["points.earned"]})
        assert reply.status == 400, (url, reply.text)
    unknown = api.post("/v1/admin/webhooks", {"url": "https://crm.example.com/h", "event_types": ["points.stolen"]})
    assert unknown.status == 400 and "points.stolen" in unknown.text
    assert api.get("/v1/admin/webhooks/wh_missing").status == 404
    hook = create(api, "https://crm.example.com/h", ["tier.changed"])
    assert api.get("/v1/admin/webhooks").json()["items"][0]["webhook_id"] == hook["webhook_id"]
    assert api.request("DELETE", f"/v1/admin/webhooks/{hook['webhook_id']}").status == 204
    assert api.get(f"/v1/admin/webhooks/{hook['webhook_id']}").status == 404
    day = today_in(SUITE_RULES.zone, utcnow()).isoformat()
    actions = [e["action"] for e in api.get(f"/v1/admin/audit?day={day}").json()["items"]]
    assert "webhook.create" in actions and "webhook.delete" in actions
    # Every other change an operator makes to an endpoint is audited too, with what changed.
    other = create(api, "https://crm.example.com/other", ["tier.changed"])
    path = f"/v1/admin/webhooks/{other['webhook_id']}"
    assert api.request("PATCH", path, json_body={"enabled": False}).status == 200
    assert api.post(f"{path}/secret").status == 200
    assert api.request("PATCH", path, json_body={"enabled": True}).status == 200
    assert api.post(f"{path}/replays").status == 202
    audited = [e for e in api.get(f"/v1/admin/audit?day={day}&limit=100").json()["items"] if e["target"]["id"] == other["webhook_id"]]
    expected = ["webhook.create", "webhook.update", "webhook.rotate_secret", "webhook.update", "webhook.replay"]
    assert [e["action"] for e in reversed(audited)] == expected
    assert other["secret"] not in json.dumps(audited)  # never the secret


def test_a_campaign_to_two_members_publishes_exactly_two_campaign_sent_events(api, members, aws, pump, bus_tap):
    from tests.integration.test_campaigns import _drain, _member, _no_quiet_hours, _segment

    _no_quiet_hours(aws)
    _, a = _member(members, sms_marketing=True)
    _, b = _member(members)  # no marketing consent: the points, no message
    _, control = _member(members, sms_marketing=True)
    _segment("seg_vip", [a["member_id"], b["member_id"]])
    pump.pump()
    bus_tap()
    created = api.post("/v1/admin/campaigns", {"name": "双十二", "segment_id": "seg_vip", "message": {"sms": "12.12 双倍积分"}, "points": 50})
    assert created.status == 201, created.text
    _drain()
    _drain()  # a redelivered unit reaches nobody twice
    pump.pump()

    published = bus_tap()
    sent = [e for e in published if e["type"] == "campaign.sent"]
    assert len(sent) == 2
    by_member = {e["data"]["member_id"]: e["data"] for e in sent}
    campaign_id = created.json()["campaign_id"]
    assert by_member[a["member_id"]] == {
        "campaign_id": campaign_id,
        "member_id": a["member_id"],
        "outcome": "sent",
        "points": 50,
        "message": {"channel": "sms", "deferred": False},
    }
    assert by_member[b["member_id"]] == {"campaign_id": campaign_id, "member_id": b["member_id"], "outcome": "granted", "points": 50}
    assert control["member_id"] not in by_member
    assert "双倍积分" not in json.dumps(published, ensure_ascii=False)  # the message's text is never published
    earned = [e for e in published if e["type"] == "points.earned" and e["data"]["ref"] == f"campaign:{campaign_id}"]
    assert len(earned) == 2


def test_a_transfer_publishes_one_points_transferred_event_per_member_with_the_same_ref(api, members, aws, pump, bus_tap):
    from tests.support.rules import set_rules

    set_rules(aws, transfers={"enabled": True, "min_points": 1, "max_points": 500, "max_points_per_day": 1000, "max_transfers_per_day": 5})
    token, sender = members.verified()
    _, receiver_body = members.verified()
    pump.pump()
    bus_tap()
    headers = {"authorization": f"Bearer {token}", "Idempotency-Key": "t-1"}
    sent = api.post("/v1/me/transfers", {"to_phone": receiver_body["member"]["phone"], "points": 30}, headers=headers)
    assert sent.status == 201, sent.text
    assert api.post("/v1/me/transfers", {"to_phone": receiver_body["member"]["phone"], "points": 30}, headers=headers).status == 200  # replay
    pump.pump()

    moved = [e["data"] for e in bus_tap() if e["type"] == "points.transferred"]
    assert sorted((d["member_id"], d["kind"], d["points"]) for d in moved) == sorted(
        [(sender["member"]["member_id"], "transfer_out", -30), (receiver_body["member"]["member_id"], "transfer_in", 30)]
    )
    assert {d["ref"] for d in moved} == {sent.json()["transfer_id"]}


def test_a_campaign_message_its_provider_refused_is_never_announced_as_sent(api, members, aws, pump, bus_tap):
    from botocore.awsrequest import AWSResponse

    from chalicelib.notify.sender import _client
    from tests.integration.test_campaigns import _drain, _member, _no_quiet_hours, _segment

    _no_quiet_hours(aws)
    _, a = _member(members, sms_marketing=True)
    _, b = _member(members, sms_marketing=True)
    _segment("seg_vip", [a["member_id"]])
    _segment("seg_all", [b["member_id"]])
    pump.pump()
    bus_tap()
    sns = _client("sns")

    def refuse(**_: Any) -> Any:
        return AWSResponse("http://injected", 400, {}, None), {"Error": {"Code": "InvalidParameter", "Message": "injected refusal"}}

    sns.meta.events.register("before-call.sns.Publish", refuse, unique_id="refuse")
    try:
        with_points = api.post("/v1/admin/campaigns", {"name": "points", "segment_id": "seg_vip", "message": {"sms": "双倍积分"}, "points": 50})
        assert with_points.status == 201, with_points.text
        _drain()
        message_only = api.post("/v1/admin/campaigns", {"name": "words", "segment_id": "seg_all", "message": {"sms": "你好"}})
        assert message_only.status == 201, message_only.text
        _drain()
    finally:
        sns.meta.events.unregister("before-call.sns.Publish", unique_id="refuse")
    _drain()  # a redelivered unit sends and announces nothing more
    pump.pump()

    sent = [e["data"] for e in bus_tap() if e["type"] == "campaign.sent"]
    # The points went through: one event says so, without a message; the refused message is not in it.
    assert sent == [{"campaign_id": with_points.json()["campaign_id"], "member_id": a["member_id"], "outcome": "granted", "points": 50}]
    for campaign in (with_points, message_only):
        results = api.get(f"/v1/admin/campaigns/{campaign.json()['campaign_id']}").json()["results"]
        assert results["sent"] == 0 and results["skipped"] == {"delivery_failed": 1}, results


def test_a_campaign_message_whose_worker_stopped_before_noting_it_is_announced_as_unknown_never_as_sent(
    api, members, aws, pump, bus_tap, monkeypatch
):
    from datetime import timedelta

    from chalicelib.jobs.runner import do_unit
    from tests.integration.test_campaigns import WorkerStopped, _member, _no_quiet_hours, _queued, _segment, _stop_after_the_channel_took, _sweep

    _no_quiet_hours(aws)
    a, b, c = (_member(members, sms_marketing=True)[1] for _ in range(3))
    _segment("seg_vip", [a["member_id"], b["member_id"], c["member_id"]])
    pump.pump()
    bus_tap()
    created = api.post("/v1/admin/campaigns", {"name": "双十二", "segment_id": "seg_vip", "message": {"sms": "12.12 双倍积分"}, "points": 50})
    assert created.status == 201, created.text
    campaign_id = created.json()["campaign_id"]
    [unit] = _queued()
    _stop_after_the_channel_took(monkeypatch, 2)  # b's SMS went, then the worker stopped
    with pytest.raises(WorkerStopped):
        do_unit(unit)
    # Redelivered after the visibility timeout (12 minutes deployed): the stopped worker's pending
    # record is past the age a live twin's could have, so nothing waits for it.
    from chalicelib.usecases import campaigns

    monkeypatch.setattr(campaigns, "TWIN_ALIVE_FOR", timedelta(0))
    do_unit(unit)  # c is reached, b is not sent to again
    pump.pump()
    first = bus_tap()
    assert sorted(e["data"]["member_id"] for e in first if e["type"] == "campaign.sent") == sorted([a["member_id"], c["member_id"]])
    assert not [e for e in first if e["type"] == "campaign.delivery_unknown"]  # not yet: its worker might still note it

    _sweep(monkeypatch, settle_after=timedelta(0))
    _sweep(monkeypatch)  # a second run settles nothing more
    pump.pump()
    settled = bus_tap()
    assert [e["type"] for e in settled if e["type"].startswith("campaign.")] == ["campaign.delivery_unknown"]
    [unknown] = [e for e in settled if e["type"] == "campaign.delivery_unknown"]
    assert unknown["data"] == {"campaign_id": campaign_id, "member_id": b["member_id"], "points": 50, "message": {"channel": "sms"}}
    assert "双倍积分" not in json.dumps(settled, ensure_ascii=False)


def test_campaign_hand_overs_the_table_was_too_busy_to_note_are_announced_sent_once_the_sweep_marks_them(
    api, members, aws, pump, bus_tap, monkeypatch
):
    from datetime import timedelta

    from tests.integration.test_campaigns import _drain, _member, _no_quiet_hours, _refuse_hand_over_marks, _segment, _sweep

    _no_quiet_hours(aws)
    _, a = _member(members, sms_marketing=True)
    _segment("seg_vip", [a["member_id"]])
    pump.pump()
    bus_tap()
    stop = _refuse_hand_over_marks()
    try:
        created = api.post("/v1/admin/campaigns", {"name": "once", "segment_id": "seg_vip", "message": {"sms": "你好"}})
        assert created.status == 201, created.text
        _drain()
    finally:
        stop()
    pump.pump()
    assert [e for e in bus_tap() if e["type"].startswith("campaign.")] == []  # sent, but not yet noted
    _sweep(monkeypatch, settle_after=timedelta(0))
    pump.pump()
    announced = [e for e in bus_tap() if e["type"].startswith("campaign.")]
    sent = {
        "campaign_id": created.json()["campaign_id"],
        "member_id": a["member_id"],
        "outcome": "sent",
        "points": 0,
        "message": {"channel": "sms", "deferred": False},
    }
    assert [(e["type"], e["data"]) for e in announced] == [("campaign.sent", sent)]
