"""Small pieces several use cases share."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from ..api.schemas.views import member_view, stamp_cards_view
from ..domain.clock import today_in
from ..domain.errors import ValidationFailed
from ..domain.lifecycle import after_activity, joined_on
from ..domain.phones import InvalidPhone, normalise_phone
from ..domain.points import expiring_summary
from ..domain.rules import ProgramRules
from ..domain.tiers import tier_progress
from ..store import members
from ..store.idempotency import Replay
from ..store.idempotency import plain as plain
from ..store.models import Member
from ..store.parameters import fingerprint_key

if TYPE_CHECKING:
    from pynamodb.expressions.update import Action


def phone_or_error(raw: str, rules: ProgramRules, field: str = "phone") -> str:
    try:
        return normalise_phone(raw, rules.default_region)
    except InvalidPhone as exc:
        raise ValidationFailed.single(field, str(exc)) from exc


def accepted_currency(rules: ProgramRules, currency: str) -> None:
    """A purchase's or a wallet movement's currency is one the program takes (422 otherwise)."""
    if currency not in rules.currencies:
        raise ValidationFailed.single("currency", f"must be one of {', '.join(rules.currencies)}")


def member_answer(member: Member, rules: ProgramRules, now: datetime) -> dict[str, Any]:
    """The API's Member object, from the member item alone (no other read): what expires (its
    lots) and the progress to the next tier (its per-month qualifying points)."""
    state = members.points_state(member)
    today = today_in(rules.zone, now)
    progress = tier_progress(rules, member.tier, state, today)
    view = member_view(member, expiring_summary(state, rules.points_validity_months), progress, today)
    view["stamp_cards"] = stamp_cards_view(rules, members.stamp_counts(member))
    view["stamps_pending"] = stamps_pending_view(member)
    return view


def activity_actions(member: Member, rules: ProgramRules, today: date, *, purchased: bool = False) -> list[Action]:
    """Record activity today (a purchase, a redemption, a sign-in): what the domain makes of it,
    as the member's writes."""
    after = after_activity(rules, joined_on(member.created_at, rules.zone), bool(member.has_purchased), today, purchased=purchased)
    return members.activity_actions(member, after)


def mark_new_member_activity(member: Member, rules: ProgramRules, today: date, *, purchased: bool) -> None:
    """The same, on a member not yet written (for its put)."""
    members.mark_activity(member, after_activity(rules, joined_on(member.created_at, rules.zone), False, today, purchased=purchased))


def fingerprint(payload: dict[str, Any]) -> str:
    """Stable digest of a request's meaning, to tell a replay from a conflict. Keyed (HMAC): the
    records keeping it outlive erasure, and a phone or a text must not be recoverable from it."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(fingerprint_key(), canonical.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Answer:
    """A use case's answer to a write: its status, its body, and whether it replays a write done
    before (the route then says so: `Idempotent-Replayed: true`)."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


def created(body: dict[str, Any]) -> Answer:
    return Answer(201, body)


def replayed(replay: Replay) -> Answer:
    """The one replay convention (openapi.yaml, "Idempotent writes"): 200 with the first answer's
    body, marked replayed; a retry of a write whose answer was lost gets that answer, 201."""
    return Answer(201, replay.body) if replay.own_write else Answer(200, replay.body, replayed=True)


def stamps_pending_view(member: Member) -> list[dict[str, Any]]:
    """Stamps held with pending points, per release day and card: they join the cards when the
    points are released (usecases/pending_points.release_held_stamps)."""
    held = members.pending_stamps(member)
    return [{"card_id": c, "stamps": n, "available_on": day} for day in sorted(held) for c, n in sorted(held[day].items()) if n]
