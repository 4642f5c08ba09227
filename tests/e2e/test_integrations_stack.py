"""A brand's other systems against the running local stack (`make run`'s), over HTTP as
docs/integrations.md shows them: a CRM's webhook receives a purchase's signed event, an old
system's members come in through a pre-signed upload and `make job JOB=member-import`, the ledger
goes out as a CSV through `make job JOB=bulk-exports`, and an app registers a device for push."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.e2e.factories import TIMEOUT, bearer, new_phone, signed_in_member
from tests.integration.test_business_events import Receiver, verify
from tests.support.outbox import last_code
from tests.support.stack import run_module

pytestmark = pytest.mark.e2e

MERCHANT = {"x-api-key": "local-dev-key"}


def _job(stack: Any, job: str) -> dict[str, Any]:
    """`make job JOB=<job>` for today (program time), against the running stack."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    done = run_module("localstage.job", job, today, "--state-dir", str(stack.state_dir), timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout[done.stdout.index("{\n") :]))


def test_given_a_crm_webhook_when_a_member_buys_then_it_receives_the_signed_points_earned_event_within_seconds(stack):
    member = signed_in_member(stack)
    receiver = Receiver()
    hook = requests.post(stack.url("/v1/admin/webhooks"), json={"url": receiver.url, "event_types": ["points.earned"]}, timeout=TIMEOUT)
    assert hook.status_code == 201, hook.text
    webhook = hook.json()
    try:
        order_id = f"crm-{uuid.uuid4().hex[:8]}"
        purchase = {"order_id": order_id, "amount": 8800, "currency": "CNY", "phone": member.phone}
        bought = requests.post(stack.url("/v1/purchases"), json=purchase, headers=MERCHANT, timeout=TIMEOUT)
        assert bought.status_code == 201, bought.text

        deadline = time.monotonic() + 60  # the stream is polled every 0.5 s; a loaded machine is slower
        ours: list[dict[str, Any]] = []
        while not ours and time.monotonic() < deadline:
            time.sleep(0.2)
            ours = [r for r in list(receiver.received) if json.loads(r["body"])["data"].get("ref") == order_id]
        [delivery] = ours  # once: the event's one delivery
        event = json.loads(delivery["body"])
        assert (event["type"], event["data"]["member_id"], event["data"]["points"]) == ("points.earned", member.member_id, 88)
        assert verify(webhook["secret"], delivery["headers"], delivery["body"])  # as the receiver checks it
        assert member.phone not in delivery["body"].decode()  # ids, not personal data
        status = requests.get(stack.url(f"/v1/admin/webhooks/{webhook['webhook_id']}"), timeout=TIMEOUT).json()["status"]
        assert status["last_success_at"] is not None and status["consecutive_failures"] == 0
    finally:
        assert requests.delete(stack.url(f"/v1/admin/webhooks/{webhook['webhook_id']}"), timeout=TIMEOUT).status_code == 204
        receiver.close()


def test_given_an_old_systems_csv_when_imported_through_the_upload_and_make_job_then_members_arrive_pending_with_their_balances(stack):
    good, other, bad = new_phone(), new_phone(), "12345"
    body = (
        "phone,name,birthday,tier,points,points_expire_on,stored_value,external_id\n"
        f"{good},李娜,1990-05-01,,1200,,5000,old-1\n"
        f"{bad},错号,,,10,,,old-2\n"
        f"{other},王强,,,300,,,old-3\n"
    )
    created = requests.post(stack.url("/v1/admin/imports"), json={"format": "csv"}, timeout=TIMEOUT)
    assert created.status_code == 201, created.text
    import_id = created.json()["import_id"]
    uploaded = requests.put(created.json()["upload"]["url"], data=body.encode(), timeout=TIMEOUT)
    assert uploaded.status_code == 200, uploaded.text
    started = requests.post(stack.url(f"/v1/admin/imports/{import_id}/start"), json={}, timeout=TIMEOUT)
    assert started.status_code == 202, started.text

    _job(stack, "member-import")

    shown = requests.get(stack.url(f"/v1/admin/imports/{import_id}"), timeout=TIMEOUT).json()
    assert shown["status"] == "done", shown
    assert {k: shown["progress"][k] for k in ("imported", "failed")} == {"imported": 2, "failed": 1}
    failed = list(csv.reader(io.StringIO(requests.get(shown["result"]["url"], timeout=TIMEOUT).content.decode("utf-8-sig"))))
    assert failed[0] == ["line", "reason"] and [row[0] for row in failed[1:]] == ["3"]  # the line, never its values
    assert "12345" not in str(failed)
    # The member proves the phone the first time they sign in: active, with what they brought (no welcome points).
    assert requests.post(stack.url("/v1/auth/code"), json={"phone": good}, timeout=TIMEOUT).status_code == 202
    verified = requests.post(stack.url("/v1/auth/verify"), json={"phone": good, "code": last_code(stack.outbox, good)}, timeout=TIMEOUT)
    assert verified.status_code == 200, verified.text
    me = verified.json()["member"]
    assert (me["status"], me["points"]["balance"]) == ("active", 1200)
    wallet = requests.get(stack.url("/v1/me/wallet"), headers=bearer(verified.json()["access_token"]), timeout=TIMEOUT).json()
    assert wallet["balance"] == 5000


def test_given_ledger_entries_when_an_operator_exports_the_ledger_through_make_job_then_the_download_is_a_csv_of_them(stack):
    member = signed_in_member(stack)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    created = requests.post(stack.url("/v1/admin/exports"), json={"of": "ledger", "from": today, "to": today}, timeout=TIMEOUT)
    assert created.status_code in (201, 202), created.text
    export_id = created.json()["export_id"]

    _job(stack, "bulk-exports")

    shown = requests.get(stack.url(f"/v1/admin/exports/{export_id}"), timeout=TIMEOUT).json()
    assert shown["status"] == "done", shown
    rows = list(csv.DictReader(io.StringIO(requests.get(shown["download"]["url"], timeout=TIMEOUT).content.decode("utf-8-sig"))))
    assert any(r["member_id"] == member.member_id and int(r["points"]) == 100 for r in rows)  # the welcome points


def test_given_an_app_when_it_registers_its_device_twice_and_signs_out_then_one_device_then_none(stack):
    member = signed_in_member(stack)
    device = {"platform": "fcm", "token": uuid.uuid4().hex * 4, "app_version": "3.2.1"}

    def register() -> requests.Response:
        return requests.post(stack.url("/v1/me/devices"), json=device, headers=bearer(member.token), timeout=TIMEOUT)

    first, again = register(), register()
    assert (first.status_code, again.status_code) == (201, 200), (first.text, again.text)
    assert first.json()["device_id"] == again.json()["device_id"]
    gone = requests.delete(stack.url(f"/v1/me/devices/{first.json()['device_id']}"), headers=bearer(member.token), timeout=TIMEOUT)
    assert gone.status_code == 204, gone.text
    assert register().status_code == 201  # gone: registering it again makes it anew
