"""Business events: which item changes mean which events (domain/events.py), their schemas, and
the webhook signature and retry schedule (domain/webhooks.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from chalicelib.domain import webhooks
from chalicelib.domain.events import EVENT_TYPES, events_of_change, matches

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "events"
AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def schema_of(event_type: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{event_type}.json").read_text(encoding="utf-8"))


def valid(event: dict[str, Any]) -> dict[str, Any]:
    jsonschema.validate(event, schema_of(event["type"]), format_checker=jsonschema.FormatChecker())
    return event


def events(old: dict[str, Any] | None, new: dict[str, Any] | None, record: str = "rec-1") -> list[dict[str, Any]]:
    return [valid(e.as_dict()) for e in events_of_change(old, new, record_id=record, committed_at=AT)]


MEMBER = {
    "pk": "MEMBER#m1",
    "sk": "PROFILE",
    "type": "Member",
    "member_id": "m1",
    "phone": "+8613900000001",
    "name": "张伟",
    "email": "zw@example.com",
    "birthday": "1990-05-01",
    "status": "pending",
    "tier": "silver",
    "balance": 0,
    "version": 1,
}


def ledger(kind: str, points: int, **extra: Any) -> dict[str, Any]:
    return {
        "pk": "MEMBER#m1",
        "sk": "PROFILE#LEDGER#e1",
        "type": "LedgerEntry",
        "entry_id": "e1",
        "kind": kind,
        "points": points,
        "balance_after": 120,
        "ref": "order-1",
        "created_at": "2026-11-30T12:00:00.000000+0000",
        **extra,
    }


def test_every_event_type_has_a_schema_and_every_schema_an_event_type() -> None:
    assert {p.stem for p in SCHEMAS.glob("*.json")} == set(EVENT_TYPES)
    for event_type in EVENT_TYPES:
        jsonschema.Draft202012Validator.check_schema(schema_of(event_type))
    import yaml

    document = yaml.safe_load((SCHEMAS.parents[1] / "openapi.yaml").read_text(encoding="utf-8"))
    assert document["components"]["schemas"]["BusinessEvent"]["properties"]["type"]["enum"] == list(EVENT_TYPES)


def test_a_new_member_is_enrolled_without_personal_data() -> None:
    [event] = events(None, MEMBER)
    assert event["type"] == "member.enrolled"
    assert event["data"] == {"member_id": "m1", "status": "pending", "tier": "silver"}
    text = json.dumps(event, ensure_ascii=False)
    for personal in ("+8613900000001", "张伟", "zw@example.com", "1990-05-01"):
        assert personal not in text


def test_a_balance_change_alone_publishes_no_member_event() -> None:
    assert events(MEMBER, {**MEMBER, "balance": 120, "version": 2}) == []


def test_status_moves_tier_changes_and_profile_edits_name_what_changed_not_values() -> None:
    moved = events(MEMBER, {**MEMBER, "status": "active", "tier": "gold", "name": "李娜", "version": 2})
    assert [e["type"] for e in moved] == ["member.activated", "tier.changed", "member.profile_changed"]
    assert moved[1]["data"] == {"member_id": "m1", "from_tier": "silver", "to_tier": "gold"}
    assert moved[2]["data"] == {"member_id": "m1", "fields": ["name"]}
    assert "李娜" not in json.dumps(moved, ensure_ascii=False)
    active = {**MEMBER, "status": "active"}
    assert [e["type"] for e in events(active, {**active, "status": "frozen"})] == ["member.frozen"]
    assert [e["type"] for e in events({**active, "status": "frozen"}, active)] == ["member.unfrozen"]
    assert [e["type"] for e in events(active, {**active, "status": "closed"})] == ["member.closed"]
    closed = {**active, "status": "closed"}
    assert [e["type"] for e in events(closed, {**closed, "erased": True, "name": None, "email": None})] == ["member.erased"]


@pytest.mark.parametrize(
    ("kind", "points", "expected"),
    [
        ("earn", 120, "points.earned"),
        ("bonus", 50, "points.earned"),
        ("scan", 10, "points.earned"),
        ("redeem", -500, "points.redeemed"),
        ("expire", -30, "points.expired"),
        ("adjust", 200, "points.adjusted"),
        ("refund", -60, "points.refunded"),
        ("plan_started", 0, "plan.started"),
        ("plan_ended", 0, "plan.ended"),
        ("transfer_out", -30, "points.transferred"),
        ("transfer_in", 30, "points.transferred"),
    ],
)
def test_each_ledger_entry_is_one_points_event_with_its_amount(kind: str, points: int, expected: str) -> None:
    [event] = events(None, ledger(kind, points))
    assert event["type"] == expected
    assert event["data"]["points"] == points and event["data"]["member_id"] == "m1" and event["data"]["ref"] == "order-1"


def test_held_points_are_not_earned_until_released() -> None:
    [held] = events(None, ledger("earn_pending", 0, pending=120))
    [released] = events(None, ledger("points_available", 120, pending=-120))
    assert (held["type"], held["data"]["pending"]) == ("points.held", 120)
    assert released["type"] == "points.released"


def test_wallet_entries_and_coupons() -> None:
    entry = {
        "pk": "MEMBER#m1",
        "sk": "WALLET#ENTRY#w1",
        "type": "WalletEntry",
        "entry_id": "w1",
        "kind": "topup",
        "amount": 10000,
        "balance_after": 10000,
    }
    assert [e["type"] for e in events(None, entry)] == ["wallet.topped_up"]
    coupon = {
        "pk": "MEMBER#m1",
        "sk": "COUPON#SECRETCODE1",
        "type": "Coupon",
        "code": "SECRETCODE1",
        "member_id": "m1",
        "kind": "redemption",
        "reward_id": "coffee",
        "status": "issued",
        "expires_at": "2026-12-30T12:00:00.000000+0000",
    }
    [issued] = events(None, coupon)
    [used] = events(coupon, {**coupon, "status": "redeemed", "redemption_id": "r1", "redeemed_store": "s1"})
    assert (issued["type"], used["type"]) == ("coupon.issued", "coupon.used")
    assert "SECRETCODE1" not in json.dumps([issued, used])  # a bearer code is never published
    assert issued["data"]["coupon_ref"] == used["data"]["coupon_ref"]


def test_every_ledger_kind_the_code_writes_publishes_an_event() -> None:
    """Each `ledger_entry(..., "<kind>", ...)` in chalicelib names a kind the mapping knows."""
    import re

    from chalicelib.domain.events import LEDGER_EVENTS

    root = Path(__file__).resolve().parents[2] / "chalicelib"
    written = set()
    for path in root.rglob("*.py"):
        written |= set(re.findall(r'ledger_entry\([^,]+, "([a-z_]+)"', path.read_text(encoding="utf-8")))
        written |= set(re.findall(r'entries\.append\(\("([a-z_]+)"', path.read_text(encoding="utf-8")))
    assert written and written <= set(LEDGER_EVENTS), written - set(LEDGER_EVENTS)


def delivery(outcome: str, **extra: Any) -> dict[str, Any]:
    return {
        "pk": "MEMBER#m1",
        "sk": "CAMPAIGN#cmp_1",
        "type": "CampaignDelivery",
        "campaign_id": "cmp_1",
        "outcome": outcome,
        "points": 0,
        "coupon": 0,
        "at": "2026-11-30T12:00:00.000000+0000",
        **extra,
    }


def test_a_campaign_delivery_record_is_one_campaign_sent_event_naming_what_was_given_never_the_text() -> None:
    [sent] = events(None, delivery("sent", channel="sms", points=50, coupon=1, coupon_code="SECRETCODE2"))
    assert sent["type"] == "campaign.sent"
    assert sent["data"] == {
        "campaign_id": "cmp_1",
        "member_id": "m1",
        "outcome": "sent",
        "points": 50,
        "coupon_ref": sent["data"]["coupon_ref"],
        "message": {"channel": "sms", "deferred": False},
    }
    assert "SECRETCODE2" not in json.dumps(sent)
    [held] = events(None, delivery("deferred", channel="push"))
    assert held["data"]["message"] == {"channel": "push", "deferred": True}
    [granted] = events(None, delivery("granted", points=20))
    assert "message" not in granted["data"] and granted["data"]["points"] == 20
    # The control group and skipped members got nothing; a later update of the record publishes nothing.
    assert events(None, delivery("control")) == [] and events(None, delivery("skipped", reason="no_consent")) == []
    assert events(delivery("sent", channel="sms"), delivery("skipped", reason="delivery_failed")) == []


def test_a_message_handed_over_after_the_commit_is_announced_only_once_its_channel_took_it() -> None:
    waiting = delivery("sent", channel="sms", points=50, handover="pending")
    assert events(None, waiting) == []  # written before the send: nothing is known yet
    [sent] = events(waiting, {**waiting, "handover": "accepted"})
    assert sent["data"]["outcome"] == "sent" and sent["data"]["message"] == {"channel": "sms", "deferred": False}
    # Refused by the provider: the member got the points only, and no event says "sent".
    [granted] = events(waiting, delivery("granted", channel="sms", points=50, reason="delivery_failed", handover="refused"))
    assert granted["data"]["outcome"] == "granted" and granted["data"]["points"] == 50 and "message" not in granted["data"]
    message_only = delivery("sent", channel="sms", handover="pending")
    assert events(message_only, delivery("skipped", channel="sms", reason="delivery_failed", handover="refused")) == []
    # Once settled, later changes of the record (a coupon redeemed...) publish nothing more.
    accepted = {**waiting, "handover": "accepted"}
    assert events(accepted, {**accepted, "coupon_redeemed_at": "2026-12-01T12:00:00.000000+0000"}) == []


def test_a_message_whose_hand_over_is_not_known_is_announced_as_such_never_as_sent() -> None:
    waiting = delivery("sent", channel="sms", points=50, coupon=1, coupon_code="SECRETCODE3", handover="pending")
    settled = {**waiting, "outcome": "unconfirmed", "handover": "unknown"}
    [unknown] = events(waiting, settled)
    assert unknown["type"] == "campaign.delivery_unknown"
    assert unknown["data"] == {
        "campaign_id": "cmp_1",
        "member_id": "m1",
        "points": 50,
        "coupon_ref": unknown["data"]["coupon_ref"],
        "message": {"channel": "sms"},
    }
    assert "SECRETCODE3" not in json.dumps(unknown)
    # A message-only member is announced too (nothing else was given: not silently dropped).
    [bare] = events(delivery("sent", channel="push", handover="pending"), delivery("unconfirmed", channel="push", handover="unknown"))
    assert bare["type"] == "campaign.delivery_unknown" and bare["data"]["points"] == 0
    # Settled once: nothing more from later changes of the record.
    assert events(settled, {**settled, "coupon_redeemed_at": "2026-12-01T12:00:00.000000+0000"}) == []


def test_campaign_and_survey_coupons_validate_against_the_coupon_schemas() -> None:
    for kind in ("campaign", "survey"):
        coupon = {"pk": "MEMBER#m1", "sk": "COUPON#C1", "type": "Coupon", "code": "C1", "member_id": "m1", "kind": kind, "status": "issued"}
        assert [e["type"] for e in events(None, coupon)] == ["coupon.issued"]


def test_items_that_mean_nothing_to_other_systems_and_deletions_publish_nothing() -> None:
    assert events(None, {"pk": "PHONE#+86139", "sk": "GUARD", "type": "PhoneGuard", "member_id": "m1"}) == []
    assert events(None, {"pk": "ORDER#o1", "sk": "ORDER", "type": "Order", "member_id": "m1"}) == []
    assert events(MEMBER, None) == []


def test_a_retried_record_gives_the_same_event_ids_and_another_record_other_ids() -> None:
    first = events(None, ledger("earn", 1), record="rec-7")
    again = events(None, ledger("earn", 1), record="rec-7")
    other = events(None, ledger("earn", 1), record="rec-8")
    assert first == again
    assert first[0]["id"] != other[0]["id"]


def test_subscriptions_match_exact_types_families_and_everything() -> None:
    assert matches(["points.earned"], "points.earned")
    assert not matches(["points.earned"], "points.redeemed")
    assert matches(["points.*"], "points.redeemed")
    assert not matches(["points.*"], "plan.started")
    assert matches(["*"], "tier.changed")


def test_a_signature_verifies_with_the_secret_and_not_with_another_or_a_changed_body() -> None:
    secret = webhooks.derive_secret(b"k" * 48, "wh_1", 1)
    other = webhooks.derive_secret(b"k" * 48, "wh_1", 2)  # rotated
    body = b'{"id":"evt_1"}'
    header = webhooks.signature(secret, "evt_1", 1_700_000_000, body)
    assert header.startswith("v1,")
    assert webhooks.verify(secret, "evt_1", 1_700_000_000, body, header, now=1_700_000_010)
    assert not webhooks.verify(other, "evt_1", 1_700_000_000, body, header, now=1_700_000_010)
    assert not webhooks.verify(secret, "evt_1", 1_700_000_000, body + b" ", header, now=1_700_000_010)
    assert not webhooks.verify(secret, "evt_1", 1_700_000_000, body, header, now=1_700_000_000 + 3600)  # an old delivery replayed


def test_the_retry_schedule_backs_off_for_more_than_24_hours_then_dead_letters() -> None:
    delays = [webhooks.retry_delay(n) for n in range(1, webhooks.MAX_ATTEMPTS)]
    assert all(d is not None for d in delays)
    assert delays == sorted(delays)  # type: ignore[type-var]  # none is None (above)
    assert sum((d for d in delays if d), timedelta()) >= timedelta(hours=24)
    assert webhooks.retry_delay(webhooks.MAX_ATTEMPTS) is None


@pytest.mark.parametrize(
    ("url", "local", "refused"),
    [
        ("https://crm.example.com/hooks", False, False),
        ("http://crm.example.com/hooks", False, True),
        ("http://127.0.0.1:9000/hook", True, False),
        ("http://127.0.0.1:9000/hook", False, True),
        ("https://localhost/hook", False, True),
        ("http://crm.example.com/hooks", True, True),
        ("https://user:pw@crm.example.com/", False, True),
        ("ftp://crm.example.com/", False, True),
    ],
)
def test_which_urls_may_be_registered(url: str, local: bool, refused: bool) -> None:
    if refused:
        with pytest.raises(webhooks.TargetRefused):
            webhooks.check_url(url, local=local)
    else:
        webhooks.check_url(url, local=local)


def test_private_link_local_and_loopback_addresses_are_never_called_in_the_cloud() -> None:
    for address in ("10.0.0.5", "192.168.1.1", "169.254.169.254", "127.0.0.1", "::1", "fd00::1", "0.0.0.0"):
        assert not webhooks.address_allowed(address, local=False), address
    assert webhooks.address_allowed("127.0.0.1", local=True)
    assert webhooks.address_allowed("93.184.216.34", local=False)
