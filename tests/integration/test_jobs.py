"""Scheduled jobs, run as the console and the queue would run them (moto SQS)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.points import add_months, lot_expires_on
from chalicelib.store import keys
from chalicelib.store.members import member_shard
from chalicelib.store.models import DeferredMessage, Member
from localstage.job import run
from tests.integration.conftest import MERCHANT, bearer
from tests.support.books import balance_that_adds_up, stored_member
from tests.support.outbox import messages

SHANGHAI = ZoneInfo("Asia/Shanghai")


def today() -> date:
    return datetime.now(SHANGHAI).date()


def born_today() -> str:
    """A birthday celebrated today (a 29 February one in a leap year)."""
    t = today()
    return "1992-02-29" if (t.month, t.day) == (2, 29) else t.replace(year=1990).isoformat()


def _sent(outbox: str, kind: str, to: str | None = None) -> list[dict]:
    return [m for m in messages(outbox) if m["kind"] == kind and (to is None or m["to"] == to)]


# --- birthday-bonus ------------------------------------------------------------------


def test_given_a_member_born_today_when_the_birthday_job_runs_then_200_points_and_a_greeting_once_a_year(api, members, outbox_path):
    token, body = members.verified(birthday=born_today(), consents={"sms_marketing": True})
    other_token, _ = members.verified(birthday="1990-01-01" if today().month != 1 else "1990-06-15")
    member_id = body["member"]["member_id"]

    first = run("birthday-bonus", today().isoformat(), False)
    assert first["members_affected"] == 1 and first["points_moved"] == 200 and first["messages_sent"] == 1
    assert api.get("/v1/me", headers=bearer(token)).json()["points"]["balance"] == 300
    assert api.get("/v1/me", headers=bearer(other_token)).json()["points"]["balance"] == 100
    greeting = _sent(outbox_path, "birthday_greeting")
    assert len(greeting) == 1 and "张伟" in greeting[0]["body"]

    again = run("birthday-bonus", today().isoformat(), False)
    assert again["members_affected"] == 0 and again["points_moved"] == 0
    assert again["messages_skipped"] == {"already_awarded": 1}
    assert balance_that_adds_up(member_id) == 300
    assert len(_sent(outbox_path, "birthday_greeting")) == 1


def test_given_a_birthday_without_marketing_consent_then_the_gift_comes_without_a_message(api, members, outbox_path):
    members.verified(birthday=born_today())
    result = run("birthday-bonus", today().isoformat(), False)
    assert result["points_moved"] == 200 and result["messages_sent"] == 0
    assert result["messages_skipped"] == {"no_consent": 1}
    assert _sent(outbox_path, "birthday_greeting") == []


def test_given_a_29_february_birthday_then_it_is_celebrated_on_28_february_in_other_years(api, members):
    _, body = members.verified(birthday="1992-02-29")
    # 28 February is not always inside the job's date window: ask the planner directly.
    from chalicelib.domain.rules import DEFAULT_RULES
    from chalicelib.jobs.specs import JOBS

    buckets = {u["bucket"] for u in JOBS["birthday-bonus"].plan(date(2026, 2, 28), DEFAULT_RULES, 8)}
    assert keys.birthday_bucket("02-29", keys.shard_of(body["member"]["member_id"], 8)) in buckets
    leap = {u["bucket"] for u in JOBS["birthday-bonus"].plan(date(2028, 2, 28), DEFAULT_RULES, 8)}
    assert not any("02-29" in b for b in leap)


def test_given_a_birthday_the_purchases_that_day_earn_double(api, members):
    _, body = members.verified(birthday=born_today())
    reply = members.purchase("o-bday", 10000, phone=body["member"]["phone"])
    assert reply.json()["points_earned"] == 200


def test_given_a_frozen_member_born_today_then_no_gift(api, members):
    _, body = members.verified(birthday=born_today())
    stored_member(body["member"]["member_id"]).update(actions=[Member.status.set("frozen")])
    result = run("birthday-bonus", today().isoformat(), False)
    assert result["points_moved"] == 0
    assert result["messages_skipped"] == {"status_frozen": 1}


# --- reengagement --------------------------------------------------------------------


def test_given_a_member_idle_for_30_days_then_one_message_on_their_channel_and_a_rerun_sends_nothing(api, members, outbox_path):
    _, idle = members.verified(consents={"sms_marketing": True})
    _, also_idle = members.verified(consents={"sms_marketing": True})
    as_of = (today() + timedelta(days=30)).isoformat()
    first = run("reengagement", as_of, False)
    assert first["messages_sent"] == 2  # both idle since today
    assert {m["to"] for m in _sent(outbox_path, "reengagement")} == {idle["member"]["phone"], also_idle["member"]["phone"]}
    again = run("reengagement", as_of, False)
    assert again["messages_sent"] == 0
    assert again["messages_skipped"] == {"already_sent": 2}


def test_given_an_idle_member_without_marketing_consent_then_no_message(api, members, outbox_path):
    members.verified()
    result = run("reengagement", (today() + timedelta(days=30)).isoformat(), False)
    assert result["messages_sent"] == 0 and result["messages_skipped"] == {"no_consent": 1}


def test_given_the_frequency_cap_is_reached_then_further_marketing_is_skipped(api, members, outbox_path):
    _, body = members.verified(consents={"sms_marketing": True})
    member = stored_member(body["member"]["member_id"])
    now = datetime.now(SHANGHAI)
    member.update(actions=[Member.marketing_sent.set([(now + timedelta(days=29)).isoformat(), (now + timedelta(days=29, hours=1)).isoformat()])])
    result = run("reengagement", (today() + timedelta(days=30)).isoformat(), False)
    assert result["messages_sent"] == 0 and result["messages_skipped"] == {"frequency_cap": 1}


def test_given_a_member_active_since_then_they_are_not_nudged(api, members):
    _token, body = members.verified(consents={"sms_marketing": True})
    stored_member(body["member"]["member_id"]).update(actions=[Member.last_activity_on.set((today() + timedelta(days=5)).isoformat())])
    result = run("reengagement", (today() + timedelta(days=30)).isoformat(), False)
    assert result["messages_sent"] == 0


def test_given_60_and_90_days_idle_then_the_lifecycle_stage_follows(api, members, outbox_path):
    token, body = members.verified(consents={"push": True})
    member_id = body["member"]["member_id"]
    # push is chosen first for a member with a device who consented to it (docs/push.md)
    assert api.post("/v1/me/devices", {"platform": "fcm", "token": "f" * 152}, headers=bearer(token)).status == 201
    assert stored_member(member_id).lifecycle == "new"
    # 60 and 90 days are past the job's future window: record the activity in the past instead.
    past = today() - timedelta(days=60)
    shard = keys.shard_of(member_id, 8)
    stored_member(member_id).update(
        actions=[
            Member.last_activity_on.set(past.isoformat()),
            Member.activity_bucket.set(keys.activity_bucket(past.isoformat(), shard)),
            Member.created_at.set(datetime.now(UTC) - timedelta(days=70)),
        ]
    )
    result = run("reengagement", today().isoformat(), False)
    assert result["messages_sent"] == 1
    assert [m["channel"] for m in messages(outbox_path) if m["kind"].startswith("reengagement")] == ["push"]
    assert stored_member(member_id).lifecycle == "at_risk"


# --- expire-points -------------------------------------------------------------------


def _backdate_points(member_id: str, month: str, points: int) -> str:
    """A lot earned long ago (a year of waiting, made in one write): returns its expiry date."""
    member = stored_member(member_id)
    lots = {**member.lots.as_dict(), month: points}
    expires = lot_expires_on(month, 12)
    member.update(actions=[Member.lots.set(lots), Member.balance.add(points)])
    from chalicelib.store.ledger import ledger_entry, open_lot
    from chalicelib.store.unit_of_work import UnitOfWork

    ledger_entry(member_id, "earn", points, int(member.balance), f"old-{month}", datetime.now(UTC) - timedelta(days=400), lot=month).save()
    lot = UnitOfWork()
    open_lot(lot, member_id, month, expires, held={})
    lot.commit()
    return expires.isoformat()


def test_given_a_lot_whose_date_has_come_then_what_is_left_expires_once_and_spent_points_are_untouched(api, members):
    token, body = members.verified()
    member_id = body["member"]["member_id"]
    month = (today().replace(day=1) - timedelta(days=380)).strftime("%Y-%m")
    expires = _backdate_points(member_id, month, 700)
    # the member spends 500: oldest first, so 200 are left of the old lot
    api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers={**bearer(token), "Idempotency-Key": "k"})
    assert stored_member(member_id).lots.as_dict()[month] == 200

    result = run("expire-points", expires, False)
    assert result["points_moved"] == 200 and result["members_affected"] == 1
    assert balance_that_adds_up(member_id) == 100
    me = api.get("/v1/me", headers=bearer(token)).json()
    assert all(e["expires_on"] != expires for e in me["points"]["expiring"])
    kinds = [(e["kind"], e["points"], e["ref"]) for e in api.get("/v1/me/ledger", headers=bearer(token)).json()["items"]]
    assert kinds[0] == ("expire", -200, f"lot:{month}")

    again = run("expire-points", expires, False)
    assert again["points_moved"] == 0
    assert balance_that_adds_up(member_id) == 100


def test_given_several_earnings_in_a_month_when_its_lot_expires_then_every_point_left_of_them_expires(api, members):
    # Only the month's first points write its Lot (the expiry index entry); later purchases in the
    # month add to what the member holds of that lot, and expire with it all the same.
    token, body = members.verified()  # the welcome bonus opens this month's lot
    member_id, phone = body["member"]["member_id"], body["member"]["phone"]
    assert members.purchase("o-1", 20000, phone=phone).status == 201
    assert members.purchase("o-2", 30000, phone=phone).status == 201
    assert api.post("/v1/me/redemptions", {"reward_id": "coffee"}, headers={**bearer(token), "Idempotency-Key": "k"}).status == 201
    month = f"{today():%Y-%m}"
    assert balance_that_adds_up(member_id) == 100 + 200 + 300 - 500
    lots = api.get("/v1/me/export", headers=bearer(token)).json()["points_lots"]
    assert [(lot["month"], lot["earned"]) for lot in lots] == [(month, 600)]

    expires = lot_expires_on(month, 12).isoformat()
    result = run("expire-points", expires, False)
    assert result["points_moved"] == 100 and result["members_affected"] == 1
    assert balance_that_adds_up(member_id) == 0
    ledger = api.get("/v1/me/ledger", headers=bearer(token)).json()["items"]
    assert (ledger[0]["kind"], ledger[0]["points"], ledger[0]["ref"]) == ("expire", -100, f"lot:{month}")


def test_given_a_lot_clawed_back_to_nothing_when_the_member_earns_again_that_month_then_the_new_points_expire_too(api, members):
    # A full refund takes the month out of what the member holds; the next purchase opens the lot again.
    phone = members.phone()
    first = members.purchase("o-1", 10000, phone=phone)  # enrols a pending member with 100 points
    member_id = first.json()["member_id"]
    assert api.post("/v1/purchases/o-1/refunds", {"refund_id": "r-1", "amount": 10000}, headers=MERCHANT).json()["balance"] == 0
    assert stored_member(member_id).lots.as_dict() == {}
    assert members.purchase("o-2", 20000, phone=phone).json()["balance"] == 200

    result = run("expire-points", lot_expires_on(f"{today():%Y-%m}", 12).isoformat(), False)
    assert result["points_moved"] == 200
    assert balance_that_adds_up(member_id) == 0


def test_given_points_expiring_in_30_days_then_one_reminder_deferred_past_quiet_hours_and_sent_by_send_deferred(api, members, outbox_path):
    _, body = members.verified(consents={"sms_marketing": True})
    member_id = body["member"]["member_id"]
    # a lot that expires on the first of next month, so its 30-day reminder date is about today
    first_of_next = (today().replace(day=1) + timedelta(days=32)).replace(day=1)
    year, mon = add_months(first_of_next.year, first_of_next.month, -13)
    expires = date.fromisoformat(_backdate_points(member_id, f"{year:04d}-{mon:02d}", 300))
    assert expires == first_of_next
    as_of = expires - timedelta(days=30)
    result = run("expire-points", as_of.isoformat(), False)
    # expire-points runs at 00:05: inside quiet hours, so the reminder waits
    assert result["messages_deferred"] == 1 and result["messages_sent"] == 0
    assert _sent(outbox_path, "expiry_reminder") == []
    (waiting,) = list(DeferredMessage.scan())
    # the member notes where it waits (written with it), so closing finds it in one read
    assert Member.get(keys.member_pk(member_id), keys.PROFILE).deferred.as_dict() == {waiting.sk: waiting.pk}
    again = run("expire-points", as_of.isoformat(), False)
    assert again["messages_deferred"] == 0 and again["messages_skipped"].get("already_reminded") == 1

    dispatched = run("send-deferred", as_of.isoformat(), False)
    assert dispatched["messages_sent"] == 1
    reminder = _sent(outbox_path, "expiry_reminder")
    assert len(reminder) == 1 and "300" in reminder[0]["body"]
    assert run("send-deferred", as_of.isoformat(), False)["messages_sent"] == 0


def test_given_a_reminder_held_past_quiet_hours_when_the_member_withdraws_sms_consent_then_send_deferred_drops_it(api, members, outbox_path):
    token, body = members.verified(consents={"sms_marketing": True})
    first_of_next = (today().replace(day=1) + timedelta(days=32)).replace(day=1)
    year, mon = add_months(first_of_next.year, first_of_next.month, -13)
    as_of = date.fromisoformat(_backdate_points(body["member"]["member_id"], f"{year:04d}-{mon:02d}", 300)) - timedelta(days=30)
    assert run("expire-points", as_of.isoformat(), False)["messages_deferred"] == 1
    withdrawn = api.request("PATCH", "/v1/me", json_body={"consents": {"sms_marketing": False}}, headers=bearer(token))
    assert withdrawn.status == 200, withdrawn.text

    would = run("send-deferred", as_of.isoformat(), True)  # a dry run says so too, and drops nothing
    assert would["messages_sent"] == 0 and would["messages_skipped"] == {"no_consent": 1}, would
    assert len(list(DeferredMessage.scan())) == 1

    dispatched = run("send-deferred", as_of.isoformat(), False)

    assert dispatched["messages_sent"] == 0 and dispatched["messages_skipped"] == {"no_consent": 1}, dispatched
    assert _sent(outbox_path, "expiry_reminder") == [] and list(DeferredMessage.scan()) == []


def _held_by_hand(member_id: str, channel: str, recipient: str, kind: str, body: str) -> None:
    """A message held back since 08:00 today (the job runs at 09:05), stored as the table keeps one."""
    held_since = datetime.combine(today(), time(8), tzinfo=SHANGHAI).astimezone(UTC)
    DeferredMessage(
        keys.send_bucket(held_since.strftime("%Y-%m-%dT%H"), member_shard(member_id)),
        keys.deferred_sk(member_id, kind, "stored-by-hand"),
        member_id=member_id,
        channel=channel,
        recipient=recipient,
        kind=kind,
        body=body,
        send_after=held_since,
    ).save()


def test_given_a_deferred_message_on_a_channel_nothing_sends_on_then_send_deferred_drops_it_and_says_so(aws, outbox_path):
    _held_by_hand("m-unknown-channel", "fax", "+8613800138000", "reengagement", "We miss you")

    dispatched = run("send-deferred", today().isoformat(), False)

    assert dispatched["messages_sent"] == 0 and dispatched["messages_skipped"] == {"unknown_channel": 1}
    assert _sent(outbox_path, "reengagement") == []


def test_given_a_held_wechat_message_whose_template_the_rules_no_longer_have_then_send_deferred_drops_it(aws, outbox_path):
    _held_by_hand("m-template-gone", "wechat", "o-openid-of-the-member", "points_received", "You received 5 points")  # no template for it

    dispatched = run("send-deferred", today().isoformat(), False)

    assert dispatched["messages_sent"] == 0 and dispatched["messages_skipped"] == {"no_template": 1}
    assert list(DeferredMessage.scan()) == []


def test_given_a_dry_run_then_nothing_is_written_or_sent(api, members, outbox_path):
    token, _body = members.verified(birthday=born_today(), consents={"sms_marketing": True})
    result = run("birthday-bonus", today().isoformat(), True)
    assert result["dry_run"] is True and result["points_moved"] == 200 and result["members_affected"] == 1
    assert api.get("/v1/me", headers=bearer(token)).json()["points"]["balance"] == 100
    assert _sent(outbox_path, "birthday_greeting") == []


# --- tier-review ---------------------------------------------------------------------


def test_given_a_gold_member_with_few_points_at_their_anniversary_then_they_drop_one_level_and_are_told(api, members, outbox_path):
    _, body = members.verified()
    member_id = body["member"]["member_id"]
    joined = datetime.now(UTC) - timedelta(days=365 * 2)
    joined_local = joined.astimezone(SHANGHAI).date()
    stored_member(member_id).update(
        actions=[
            Member.tier.set("gold"),
            Member.created_at.set(joined),
            Member.anniversary_bucket.set(keys.anniversary_bucket(joined_local.strftime("%m-%d"), keys.shard_of(member_id, 8))),
        ]
    )
    as_of = joined_local.replace(year=today().year)
    if as_of > today() + timedelta(days=31):
        as_of = as_of.replace(year=today().year - 1)
    result = run("tier-review", as_of.isoformat(), False)
    assert result["members_affected"] == 1
    assert stored_member(member_id).tier == "silver"  # one level at most
    assert result["messages_deferred"] == 1  # 01:00 is quiet
    again = run("tier-review", as_of.isoformat(), False)
    assert again["members_affected"] == 0
    assert stored_member(member_id).tier == "silver"


# --- bad requests --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("job", "as_of", "error"),
    [
        ("no-such-job", "2026-01-01", "unknown job"),
        ("birthday-bonus", "2026-13-01", "as_of must be a date"),
        ("birthday-bonus", "yesterday", "as_of must be a date"),
    ],
)
def test_given_a_bad_job_request_then_a_clear_error_and_nothing_runs(aws, job, as_of, error):
    result = run(job, as_of, False)
    assert error in result["error"]


@pytest.fixture
def deployed_stage(monkeypatch):
    from chalicelib.settings import get_settings

    monkeypatch.setenv("HUIYUAN_STAGE", "dev")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.mark.parametrize("days", [-401, 32, 365 * 3])
def test_given_a_deployed_stage_when_a_job_is_asked_for_a_date_far_from_today_then_it_is_refused(aws, deployed_stage, days):
    result = run("expire-points", (today() + timedelta(days=days)).isoformat(), False)
    assert "within 400 days before and 31 days after today" in result["error"]


def test_given_a_birthday_weeks_ahead_when_make_job_runs_for_a_later_date_then_the_gift_came_on_the_day_and_once(api, members, outbox_path):
    from localstage.job import run_through

    birthday = today() + timedelta(days=20)
    born = "1992-02-29" if (birthday.month, birthday.day) == (2, 29) else birthday.replace(year=1990).isoformat()
    token, _ = members.verified(birthday=born, consents={"sms_marketing": True})
    later = today() + timedelta(days=45 if (today() + timedelta(days=45)).strftime("%m-%d") != "02-29" else 46)
    members.verified(birthday=later.replace(year=1990).isoformat())  # after AS_OF: not yet

    result = run_through("birthday-bonus", today() + timedelta(days=40), False)
    assert [(day["as_of"], day["points_moved"]) for day in result["caught_up"]] == [(birthday.isoformat(), 200)]
    assert result["points_moved"] == 0
    assert api.get("/v1/me", headers=bearer(token)).json()["points"]["balance"] == 300
    assert len(_sent(outbox_path, "birthday_greeting")) == 1

    again = run_through("birthday-bonus", today() + timedelta(days=40), False)
    assert [day["points_moved"] for day in again["caught_up"]] == [0]
    assert api.get("/v1/me", headers=bearer(token)).json()["points"]["balance"] == 300


def test_given_the_local_stage_when_a_job_is_asked_for_any_date_then_it_runs_for_that_date(aws):
    for as_of in ("1999-01-01", (today() + timedelta(days=365 * 3)).isoformat(), "2999-01-01"):
        result = run("expire-points", as_of, False)
        assert "error" not in result and result["as_of"] == as_of


def test_given_dry_run_that_is_not_a_boolean_then_refused(aws):
    from chalicelib.jobs.handlers import SCHEDULED

    assert "dry_run" in SCHEDULED["birthday-bonus"]({"as_of": today().isoformat(), "dry_run": "no"}, None)["error"]


# --- at-least-once delivery, faults, members changing under the job ------------------


def _all_items() -> list[tuple[str, str]]:
    from chalicelib.store.models import BaseItem

    return sorted((i.pk, i.sk) for i in BaseItem.scan())


def test_given_a_dry_run_then_not_a_single_item_is_written(api, members):
    members.verified(birthday=born_today(), consents={"sms_marketing": True})
    before = _all_items()
    assert run("birthday-bonus", today().isoformat(), True)["points_moved"] == 200
    assert _all_items() == before


def test_given_a_unit_delivered_twice_then_nothing_is_awarded_twice(api, members):
    from chalicelib.jobs.runner import JobRequest, do_unit, start_job
    from chalicelib.jobs.specs import JOBS

    _, body = members.verified(birthday=born_today())
    member_id = body["member"]["member_id"]
    started = start_job(JobRequest("birthday-bonus", today(), False))
    shard = keys.shard_of(member_id, 8)
    unit = next(u for u in JOBS["birthday-bonus"].plan(today(), load_rules(), 8) if u["bucket"].endswith(f"#{shard}"))
    message = {**unit, "job": "birthday-bonus", "as_of": today().isoformat(), "dry_run": False, "run_id": started["run_id"]}
    assert do_unit(message)["points_moved"] == 200
    assert do_unit(message)["points_moved"] == 0  # redelivered
    assert balance_that_adds_up(member_id) == 300


def load_rules():
    from chalicelib.store.parameters import load_rules as load

    return load()


def test_given_two_workers_on_one_member_then_the_second_finds_it_done(api, members):
    from chalicelib.jobs.runner import context
    from chalicelib.usecases.birthday_gifts import give_birthday_gift

    _, body = members.verified(birthday=born_today())
    member_id = body["member"]["member_id"]
    ctx = context("birthday-bonus", today(), False)
    stale = stored_member(member_id)  # both workers read the member...
    first = give_birthday_gift(stored_member(member_id), ctx)
    second = give_birthday_gift(stale, ctx)  # ...the second writes late
    assert first.points == 200
    assert second.points == 0 and second.skipped == {"already_awarded": 1}
    assert balance_that_adds_up(member_id) == 300


def test_given_members_frozen_or_gone_between_enqueue_and_work_then_they_are_skipped(api, members, aws):
    import boto3

    from chalicelib.jobs.handlers import job_worker
    from chalicelib.jobs.runner import JobRequest, queue_url, start_job, summary
    from localstage.job import drain_queue

    _, frozen = members.verified(birthday=born_today())
    _, gone = members.verified(birthday=born_today())
    _, fine = members.verified(birthday=born_today())
    started = start_job(JobRequest("birthday-bonus", today(), False))
    stored_member(frozen["member"]["member_id"]).update(actions=[Member.status.set("frozen")])
    stored_member(gone["member"]["member_id"]).delete()
    drain_queue(job_worker, queue_url(), boto3.client("sqs"))
    result = summary("birthday-bonus", today().isoformat(), started["run_id"])
    assert result["points_moved"] == 200 and result["members_affected"] == 1
    assert result["members_examined"] == 2  # the closed-and-erased one left the index with its item
    assert result["messages_skipped"] == {"no_consent": 1, "status_frozen": 1}
    assert balance_that_adds_up(fine["member"]["member_id"]) == 300


def test_given_dynamodb_failing_for_one_member_mid_batch_then_the_others_finish_and_a_rerun_completes_without_doubles(api, members):
    from tests.integration.test_faults import inject, throttled

    ids = [members.verified(birthday=born_today())[1]["member"]["member_id"] for _ in range(3)]
    # every transaction fails for a while: the first member's fails, it is retried alone and dead-lettered
    with inject("TransactWriteItems", throttled, times=1_000):
        broken = run("birthday-bonus", today().isoformat(), False)
    assert broken["points_moved"] == 0
    assert broken["dead_lettered"] >= 1
    rerun = run("birthday-bonus", today().isoformat(), False)
    assert rerun["points_moved"] == 600
    assert [balance_that_adds_up(m) for m in ids] == [300, 300, 300]
    assert run("birthday-bonus", today().isoformat(), False)["points_moved"] == 0


def test_given_one_throttled_write_mid_batch_then_only_that_member_is_retried_and_everyone_gets_the_gift_once(api, members):
    from tests.integration.test_faults import inject, throttled

    ids = [members.verified(birthday=born_today())[1]["member"]["member_id"] for _ in range(3)]
    from chalicelib.usecases.member_changes import MEMBER_ATTEMPTS

    with inject("TransactWriteItems", throttled, times=MEMBER_ATTEMPTS):  # outlasts one member's retries
        result = run("birthday-bonus", today().isoformat(), False)
    assert result["retried_alone"] == 1
    assert result["points_moved"] == 600
    assert [balance_that_adds_up(m) for m in ids] == [300, 300, 300]
