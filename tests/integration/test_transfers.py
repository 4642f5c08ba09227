"""Points transfer between members (转赠, POST /v1/me/transfers): both books in one transaction,
exactly once per Idempotency-Key, within the rules' limits, and nothing learnt about a phone."""

from __future__ import annotations

import pytest

from chalicelib.store import keys
from chalicelib.store.models import BaseItem, Lot
from tests.integration.conftest import bearer
from tests.support.books import balance_that_adds_up, stored_ledger, stored_member
from tests.support.outbox import messages
from tests.support.rules import set_rules

WELCOME = 100
NO_QUIET_HOURS = {"quiet_hours_start": "00:00:00", "quiet_hours_end": "00:00:00"}
OPEN = {"enabled": True, "min_points": 1, "max_points": 500, "max_points_per_day": 1000, "max_transfers_per_day": 5, "min_balance_kept": 0}


@pytest.fixture
def rules(aws):
    return set_rules(aws, transfers=OPEN, **NO_QUIET_HOURS)


def _member(members):
    phone = members.phone()
    token, body = members.verified(phone)
    return token, body["member"]["member_id"], phone


def _send(api, token, to_phone, points, key="k-1", **extra):
    return api.post("/v1/me/transfers", {"to_phone": to_phone, "points": points, **extra}, headers={**bearer(token), "Idempotency-Key": key})


def _problem(reply, status, code):
    assert reply.status == status, reply.text
    assert reply.content_type.startswith("application/problem+json")
    assert reply.json()["code"] == code
    return reply.json()


def _all_items():
    return sorted((i.pk, i.sk, getattr(i, "version", None)) for i in BaseItem.scan())


def test_given_two_members_when_one_transfers_30_points_then_both_books_show_it_and_the_receiver_is_told(api, members, rules, outbox_path):
    token, sender_id, _ = _member(members)
    _, receiver_id, receiver_phone = _member(members)

    reply = _send(api, token, receiver_phone, 30, note="生日快乐")

    assert reply.status == 201, reply.text
    body = reply.json()
    assert body["points"] == 30 and body["balance"] == WELCOME - 30
    assert body["to_phone"] == "…" + receiver_phone[-4:]
    assert balance_that_adds_up(sender_id) == WELCOME - 30
    assert balance_that_adds_up(receiver_id) == WELCOME + 30
    out = [e for e in stored_ledger(sender_id) if e.kind == "transfer_out"]
    received = [e for e in stored_ledger(receiver_id) if e.kind == "transfer_in"]
    assert [(e.points, e.ref) for e in out] == [(-30, body["transfer_id"])]
    assert [(e.points, e.ref) for e in received] == [(30, body["transfer_id"])]
    ledger = api.get("/v1/me/ledger", headers=bearer(token)).json()["items"]
    assert ledger[0]["kind"] == "transfer_out" and ledger[0]["points"] == -30
    notices = [m for m in messages(outbox_path) if m["kind"] == "points_received"]
    assert len(notices) == 1 and notices[0]["to"] == receiver_phone and "30" in notices[0]["body"]


def test_given_a_transfer_when_it_is_sent_again_with_the_same_key_then_it_is_replayed_and_moves_nothing_more(api, members, rules):
    token, sender_id, _ = _member(members)
    _, receiver_id, receiver_phone = _member(members)
    first = _send(api, token, receiver_phone, 40, key="gift-1")

    again = _send(api, token, receiver_phone, 40, key="gift-1")
    other = _send(api, token, receiver_phone, 41, key="gift-1")

    assert first.status == 201
    assert again.status == 200 and again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    _problem(other, 409, "idempotency_conflict")
    assert balance_that_adds_up(sender_id) == WELCOME - 40
    assert balance_that_adds_up(receiver_id) == WELCOME + 40


def test_given_a_transfer_without_an_idempotency_key_then_it_is_refused(api, members, rules):
    token, _, _ = _member(members)
    _, _, receiver_phone = _member(members)

    reply = api.post("/v1/me/transfers", {"to_phone": receiver_phone, "points": 5}, headers=bearer(token))

    _problem(reply, 400, "validation_error")


def test_given_a_member_when_they_transfer_to_their_own_phone_then_it_is_refused_and_nothing_changes(api, members, rules):
    token, sender_id, own_phone = _member(members)
    before = _all_items()

    _problem(_send(api, token, own_phone, 10), 422, "transfer_to_self")

    assert _all_items() == before
    assert balance_that_adds_up(sender_id) == WELCOME


def test_given_an_unknown_phone_then_the_answer_is_word_for_word_that_for_a_member_who_cannot_receive(api, members, rules):
    token, _, _ = _member(members)
    _, frozen_id, frozen_phone = _member(members)
    _, closed_id, closed_phone = _member(members)
    pending_phone = members.signed_up()
    assert api.post(f"/v1/admin/members/{frozen_id}/freeze", {"reason": "check"}).status == 200
    assert api.post(f"/v1/admin/members/{closed_id}/close", {"reason": "asked"}).status == 200
    before = _all_items()

    answers = [_send(api, token, phone, 10, key=f"k-{i}") for i, phone in enumerate(["+8613900009999", frozen_phone, closed_phone, pending_phone])]

    bodies = [_problem(a, 422, "recipient_unavailable") for a in answers]
    assert all({k: b[k] for k in ("title", "detail", "code")} == {k: bodies[0][k] for k in ("title", "detail", "code")} for b in bodies)
    assert _all_items() == before


def test_given_limits_when_a_transfer_goes_beyond_one_then_it_is_refused_with_the_limit_named(api, members, aws):
    limits = {"max_points": 50, "max_points_per_day": 60, "max_transfers_per_day": 2}
    set_rules(aws, transfers={**OPEN, **limits}, **NO_QUIET_HOURS)
    token, sender_id, _ = _member(members)
    _, receiver_id, receiver_phone = _member(members)

    assert "1 to 50" in _problem(_send(api, token, receiver_phone, 51, key="a"), 422, "transfer_limit")["detail"]
    assert _send(api, token, receiver_phone, 50, key="b").status == 201
    assert "60 points a day" in _problem(_send(api, token, receiver_phone, 11, key="c"), 422, "transfer_limit")["detail"]
    assert _send(api, token, receiver_phone, 10, key="e").status == 201
    assert "2 transfers a day" in _problem(_send(api, token, receiver_phone, 1, key="f"), 422, "transfer_limit")["detail"]

    assert balance_that_adds_up(sender_id) == WELCOME - 60
    assert balance_that_adds_up(receiver_id) == WELCOME + 60


def test_given_a_balance_to_keep_when_a_transfer_would_go_below_it_then_it_is_refused(api, members, aws):
    set_rules(aws, transfers={**OPEN, "min_balance_kept": 20}, **NO_QUIET_HOURS)
    token, sender_id, _ = _member(members)
    _, _, receiver_phone = _member(members)

    assert "20 points must stay" in _problem(_send(api, token, receiver_phone, 81), 422, "transfer_limit")["detail"]
    assert _send(api, token, receiver_phone, 80, key="ok").status == 201
    assert balance_that_adds_up(sender_id) == 20


def test_given_more_points_than_the_balance_then_insufficient_points(api, members, rules):
    token, sender_id, _ = _member(members)
    _, _, receiver_phone = _member(members)

    _problem(_send(api, token, receiver_phone, WELCOME + 1), 409, "insufficient_points")

    assert balance_that_adds_up(sender_id) == WELCOME


def test_given_transfers_off_or_not_for_the_tier_then_the_sender_is_refused(api, members, aws):
    token, _, _ = _member(members)
    _, _, receiver_phone = _member(members)

    _problem(_send(api, token, receiver_phone, 5, key="off"), 422, "transfer_not_allowed")  # the default rules: off
    set_rules(aws, transfers={**OPEN, "sender_tiers": ["gold"]}, **NO_QUIET_HOURS)
    _problem(_send(api, token, receiver_phone, 5, key="tier"), 422, "transfer_not_allowed")


def test_given_a_frozen_sender_then_403_and_a_closed_sender_then_401(api, members, rules):
    token, sender_id, _ = _member(members)
    token2, closed_id, _ = _member(members)
    _, _, receiver_phone = _member(members)
    assert api.post(f"/v1/admin/members/{sender_id}/freeze", {"reason": "check"}).status == 200
    assert api.post(f"/v1/admin/members/{closed_id}/close", {"reason": "asked"}).status == 200

    _problem(_send(api, token, receiver_phone, 5), 403, "member_frozen")
    _problem(_send(api, token2, receiver_phone, 5), 401, "unauthorized")


def test_given_bad_bodies_then_400_naming_the_field(api, members, rules):
    token, _, _ = _member(members)
    _, _, receiver_phone = _member(members)

    for body, field in [
        ({"to_phone": receiver_phone, "points": 0}, "points"),
        ({"to_phone": receiver_phone, "points": "5"}, "points"),
        ({"to_phone": receiver_phone, "points": 1.5}, "points"),
        ({"to_phone": "not a phone", "points": 5}, "to_phone"),
        ({"to_phone": receiver_phone, "points": 5, "note": "\u202eevil"}, "note"),
        ({"to_phone": receiver_phone, "points": 5, "extra": 1}, "extra"),
    ]:
        reply = api.post("/v1/me/transfers", body, headers={**bearer(token), "Idempotency-Key": "bad"})
        problem = _problem(reply, 400, "validation_error")
        assert any(e["field"] == field for e in problem["errors"]), problem


def test_given_a_transfer_then_the_receiver_lot_expires_no_later_than_the_sender_oldest_lot(api, members, rules):
    token, sender_id, _ = _member(members)
    _, receiver_id, receiver_phone = _member(members)
    sender_lots = {lot.month: lot.expires_on for lot in Lot.query(keys.member_pk(sender_id), Lot.sk.startswith("LOT#"))}

    assert _send(api, token, receiver_phone, 10).status == 201

    receiver = stored_member(receiver_id)
    month = min(sender_lots)
    assert int(receiver.lots.as_dict()[month]) == WELCOME + 10  # both joined this month: one lot
    received = [e for e in stored_ledger(receiver_id) if e.kind == "transfer_in"]
    assert received[0].lot == month


def test_given_quiet_hours_all_day_then_the_receiver_notice_waits_and_is_not_sent_now(api, members, aws, outbox_path):
    set_rules(aws, transfers=OPEN, quiet_hours_start="00:00:00", quiet_hours_end="23:59:00")
    token, _, _ = _member(members)
    _, receiver_id, receiver_phone = _member(members)

    assert _send(api, token, receiver_phone, 10).status == 201

    assert not [m for m in messages(outbox_path) if m["kind"] == "points_received"]
    waiting = [i for i in BaseItem.scan() if type(i).__name__ == "DeferredMessage" and receiver_id in i.sk]
    assert len(waiting) == 1


def _allowance(api, token):
    reply = api.get("/v1/me/transfers/allowance", headers=bearer(token))
    assert reply.status == 200, reply.text
    return reply.json()


def test_given_3_of_5_transfers_sent_today_then_the_allowance_shows_2_left_and_a_new_program_day_resets_it(api, members, aws):
    # Kiritimati (UTC+14) and UTC-12 are 26 hours apart: their days always differ.
    set_rules(aws, transfers=OPEN, timezone="Pacific/Kiritimati", **NO_QUIET_HOURS)
    token, sender_id, _ = _member(members)
    _, _, receiver_phone = _member(members)
    fresh = _allowance(api, token)
    assert fresh["sent_today"] == {"points": 0, "transfers": 0} and fresh["left_today"] == {"points": 1000, "transfers": 5}
    assert fresh["may_send"] is True and fresh["most_points_now"] == WELCOME  # the balance is the limit
    for n in range(3):
        assert _send(api, token, receiver_phone, 10, key=f"k-{n}").status == 201

    after = _allowance(api, token)
    assert after["sent_today"] == {"points": 30, "transfers": 3}
    assert after["left_today"] == {"points": 970, "transfers": 2}
    assert after["most_points_now"] == WELCOME - 30
    assert after["day"] == fresh["day"] and after["resets_at"].endswith("+14:00")

    # Another program day (the rules' time zone moved): the day's totals start again, for the
    # allowance and for the limit check alike.
    set_rules(aws, transfers={**OPEN, "max_transfers_per_day": 3}, timezone="Etc/GMT+12", **NO_QUIET_HOURS)
    next_day = _allowance(api, token)
    assert next_day["day"] != after["day"] and next_day["resets_at"].endswith("-12:00")
    assert next_day["sent_today"] == {"points": 0, "transfers": 0} and next_day["left_today"] == {"points": 1000, "transfers": 3}
    assert _send(api, token, receiver_phone, 10, key="k-next").status == 201
    assert _allowance(api, token)["left_today"]["transfers"] == 2
    assert balance_that_adds_up(sender_id) == WELCOME - 40


def test_given_the_day_used_up_or_transfers_off_then_the_allowance_says_nothing_can_go(api, members, aws):
    set_rules(aws, transfers={**OPEN, "max_transfers_per_day": 1, "min_balance_kept": 20}, **NO_QUIET_HOURS)
    token, _, _ = _member(members)
    _, _, receiver_phone = _member(members)
    assert _allowance(api, token)["most_points_now"] == WELCOME - 20  # the balance less what must stay
    assert _send(api, token, receiver_phone, 5).status == 201
    used = _allowance(api, token)
    assert used["left_today"]["transfers"] == 0 and used["most_points_now"] == 0 and used["may_send"] is True
    set_rules(aws, transfers={**OPEN, "enabled": False}, **NO_QUIET_HOURS)
    closed = _allowance(api, token)
    assert closed["may_send"] is False and closed["most_points_now"] == 0
    assert api.get("/v1/me/transfers/allowance").status == 401
