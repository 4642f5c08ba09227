"""What operators do: look members up, change their state and points, manage the
catalogue, merchant keys and the program rules. Every change writes an audit
entry (`audit.py`) in the transaction that makes it.

Member changes are conditioned on the member's version (retried on contention),
so the audit's before/after is exactly what changed. A manual adjustment is a
ledger entry (`adjust`) like any other balance change, idempotent per
`adjustment_id`, and never takes the balance below zero.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from pynamodb.attributes import Attribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from ..api.schemas.operators import AdjustmentRequest, MerchantKeyRequest, RewardCreateRequest, RewardUpdateRequest, RulesUpdateRequest
from ..api.schemas.views import ledger_entry_view, member_view, reward_view
from ..domain.clock import iso, today_in, utcnow
from ..domain.codes import key_digest
from ..domain.errors import FieldError, IdempotencyConflict, InsufficientPoints, InvalidState, MemberClosed, NotFound, ValidationFailed
from ..domain.membership import erase_after
from ..domain.points import NotEnoughPoints, earn, expiring_summary, lot_expires_on, month_key, spend
from ..domain.rules import ProgramRules
from ..observability import count, logger
from ..settings import get_settings
from ..store import keys
from ..store.ledger import add_lot_points, ledger_entry
from ..store.members import as_dict, get_member, member_id_for_phone, points_state, points_update
from ..store.models import ApiKey, BaseItem, Coupon, LedgerEntry, Member, Reward
from ..store.models_admin import Adjustment, ApiKeyRecord
from ..store.models_wallet import Wallet
from ..store.paging import decode_cursor, encode_cursor
from ..store.parameters import clear_caches, load_rules
from ..store.rules_parameter import read_rules_document, write_rules_document
from ..store.unit_of_work import Cancelled, Retryable, Transaction, with_retries
from .audit import Change, add_audit, record_audit
from .closure import after_closing, closing_actions, restoring_actions
from .common import fingerprint, phone_or_error, plain
from .merchants import forget_cached_keys


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]


def _page(items: list[dict[str, Any]], results: Any, limit: int) -> dict[str, Any]:
    last = results.last_evaluated_key
    return {"items": items, "next_cursor": encode_cursor(last["sk"]["S"]) if last and len(items) == limit else None}


def _start(pk: str, cursor: str | None, prefix: str) -> dict[str, Any] | None:
    return {"pk": {"S": pk}, "sk": {"S": decode_cursor(cursor, prefix)}} if cursor else None


# --- members: reading --------------------------------------------------------------------


def _member_or_404(member_id: str) -> Member:
    member = get_member(member_id)
    if member is None:
        raise NotFound(f"No member {member_id}")
    return member


def admin_member_view(member: Member, rules: ProgramRules) -> dict[str, Any]:
    """The member as the app shows it, plus what operators need (override, state dates)."""
    view = member_view(member, expiring_summary(points_state(member), rules.points_validity_months))
    view.update(
        {
            "tier": rules.effective_tier(member.tier, member.tier_override),
            "tier_override": member.tier_override,
            "gender": member.gender,
            "lifecycle": member.lifecycle,
            "last_activity_on": member.last_activity_on,
            "activated_at": iso(member.activated_at) if member.activated_at else None,
            "closed_at": iso(member.closed_at) if member.closed_at else None,
        }
    )
    return view


def find_members(*, phone: str | None, member_id: str | None) -> dict[str, Any]:
    """By phone (through the phone guard: never stale) or by id; a list of at most one."""
    rules = load_rules()
    if phone is not None:
        member_id = member_id_for_phone(phone_or_error(phone, rules))
    member = get_member(member_id) if member_id else None
    return {"items": [admin_member_view(member, rules)] if member else [], "next_cursor": None}


def member_profile(member_id: str) -> dict[str, Any]:
    return admin_member_view(_member_or_404(member_id), load_rules())


def member_ledger(member_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """Newest first, closed members included (members see their own at /v1/me/ledger)."""
    _member_or_404(member_id)
    pk = keys.member_pk(member_id)
    results = LedgerEntry.query(
        pk,
        LedgerEntry.sk.startswith(keys.LEDGER_PREFIX),
        limit=limit,
        last_evaluated_key=_start(pk, cursor, keys.LEDGER_PREFIX),
        consistent_read=True,
    )
    items = [ledger_entry_view(e) for e in results]
    return _page(items, results, limit)


def member_coupons(member_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    _member_or_404(member_id)
    pk = keys.member_pk(member_id)
    now = utcnow()
    results = Coupon.query(
        pk,
        Coupon.sk.startswith(keys.COUPON_PREFIX),
        limit=limit,
        last_evaluated_key=_start(pk, cursor, keys.COUPON_PREFIX),
        consistent_read=True,
    )
    items = [
        {
            "code": c.code,
            "kind": c.kind,
            "reward_id": c.reward_id,
            "status": "expired" if c.status == "issued" and c.expires_at <= now else c.status,
            "expires_at": iso(c.expires_at),
            "created_at": iso(c.created_at),
        }
        for c in results
    ]
    return _page(items, results, limit)


# --- members: state, tier override ----------------------------------------------------------


@dataclass(frozen=True)
class MemberWrite:
    """What an operator action decided for one member: the update, the audit's before and
    after, and, for closure, what else the transaction checks and what follows it."""

    actions: Sequence[Action]
    before: dict[str, Any]
    after: dict[str, Any]
    condition: Condition | None = None  # besides the member's version
    check: Callable[[Transaction], None] | None = None
    explain: Callable[[Cancelled], None] | None = None  # raise the caller's error for a failed check
    then: Callable[[Member, ProgramRules], None] | None = None  # after the commit, with the member as written


Decide = Callable[[Member, datetime, ProgramRules], MemberWrite]


def _change_member(member_id: str, action: str, actor: str, reason: str, decide: Decide) -> dict[str, Any]:
    """Read, decide, write the member (version-checked) with its audit entry; retried on contention."""
    rules = load_rules()

    def attempt() -> MemberWrite:
        now = utcnow()
        member = _member_or_404(member_id)
        write = decide(member, now, rules)
        tx = Transaction()
        if write.check:
            write.check(tx)
        tx.update("member", member, write.actions, write.condition)
        add_audit(tx, Change(actor, action, "member", member_id, write.before, write.after, reason=reason, member_id=member_id), rules, now)
        try:
            tx.commit()
        except Cancelled as exc:
            if write.explain:
                write.explain(exc)
            raise Retryable("member changed meanwhile") from exc
        return write

    write = with_retries(attempt)
    count("OperatorActions")
    logger.info("operator action", extra={"action": action, "member_id": member_id})
    member = _member_or_404(member_id)
    if write.then:
        write.then(member, rules)
    return admin_member_view(member, rules)


def _open_status(member: Member) -> str:
    """Where an unfrozen member goes back to: active once verified."""
    return "active" if member.activated_at else "pending"


def _freeze(member: Member, _: datetime, __: ProgramRules) -> MemberWrite:
    if member.status == "closed":
        raise MemberClosed("The membership is closed; restore it first")
    if member.status == "frozen":
        raise InvalidState("The membership is already frozen")
    return MemberWrite([Member.status.set("frozen")], {"status": member.status}, {"status": "frozen"})


def _unfreeze(member: Member, _: datetime, __: ProgramRules) -> MemberWrite:
    if member.status == "closed":
        raise MemberClosed("The membership is closed; restore it first")
    if member.status != "frozen":
        raise InvalidState(f"The membership is not frozen (it is {member.status})")
    status = _open_status(member)
    return MemberWrite([Member.status.set(status)], {"status": "frozen"}, {"status": status})


def _closing(reason: str, actor: str) -> Decide:
    """Closure as the member's own (usecases/closure.py): erased after the grace period,
    refused while the wallet holds stored value; here in the operator's audited transaction."""

    def decide(member: Member, now: datetime, rules: ProgramRules) -> MemberWrite:
        actions = closing_actions(member, now, rules, reason=reason, actor=actor)  # 409 already_closed
        pk = keys.member_pk(member.member_id)

        def check(tx: Transaction) -> None:
            tx.condition_check("wallet", Wallet, pk, keys.WALLET_SK, Wallet.pk.does_not_exist() | (Wallet.balance == 0))

        def explain(exc: Cancelled) -> None:
            if "wallet" in exc.failed:
                raise InvalidState("The wallet still holds stored value; it must be refunded before the membership can close") from exc

        erase_at = erase_after(now, rules.closure_grace_days)
        return MemberWrite(
            actions,
            {"status": member.status, "closed_at": None, "erase_after": None},
            {"status": "closed", "closed_at": iso(now), "erase_after": iso(erase_at)},
            check=check,
            explain=explain,
            then=after_closing,
        )

    return decide


def _restore(member: Member, now: datetime, _: ProgramRules) -> MemberWrite:
    """Back to the state before closing, within the grace period (409 invalid_state otherwise)."""
    actions = restoring_actions(member, now)
    return MemberWrite(
        actions,
        {
            "status": "closed",
            "closed_at": iso(member.closed_at) if member.closed_at else None,
            "erase_after": iso(member.erase_after) if member.erase_after else None,
        },
        {"status": member.status_before_close or "active", "closed_at": None, "erase_after": None},
        # Never race the erasure: its final write must not have happened.
        condition=Member.erased.does_not_exist() | (Member.erased == False),  # noqa: E712
    )


def change_member_state(member_id: str, change: str, actor: str, reason: str) -> dict[str, Any]:
    """freeze | unfreeze | close | restore, with a reason, audited."""
    decide = {"freeze": _freeze, "unfreeze": _unfreeze, "close": _closing(reason, actor), "restore": _restore}[change]
    return _change_member(member_id, f"member.{change}", actor, reason, decide)


def _known_tier(rules: ProgramRules, tier: str) -> None:
    if tier not in {t.id for t in rules.tiers}:
        raise ValidationFailed.single("tier", f"must be one of {', '.join(t.id for t in rules.tiers)}")


def set_tier_override(member_id: str, tier: str, actor: str, reason: str) -> dict[str, Any]:
    """A floor: the member is at least `tier` from now on (raised at once if below),
    while purchases can still lift them higher and the yearly review never drops them under it."""
    _known_tier(load_rules(), tier)

    def decide(member: Member, _: datetime, rules: ProgramRules) -> MemberWrite:
        if member.status == "closed":
            raise MemberClosed("The membership is closed")
        effective = rules.effective_tier(member.tier, tier)
        actions = [Member.tier_override.set(tier)]
        if effective != member.tier:
            actions.append(Member.tier.set(effective))
        return MemberWrite(actions, {"tier": member.tier, "tier_override": member.tier_override}, {"tier": effective, "tier_override": tier})

    return _change_member(member_id, "member.tier_override.set", actor, reason, decide)


def clear_tier_override(member_id: str, actor: str, reason: str) -> dict[str, Any]:
    """Remove the floor. The tier held stays until the yearly review, like any tier."""

    def decide(member: Member, _: datetime, __: ProgramRules) -> MemberWrite:
        if member.status == "closed":
            raise MemberClosed("The membership is closed")
        if member.tier_override is None:
            raise InvalidState("The member has no tier override")
        return MemberWrite(
            [Member.tier_override.remove()],
            {"tier": member.tier, "tier_override": member.tier_override},
            {"tier": member.tier, "tier_override": None},
        )

    return _change_member(member_id, "member.tier_override.clear", actor, reason, decide)


# --- members: points adjustments ------------------------------------------------------------


def adjust_points(member_id: str, request: AdjustmentRequest, actor: str) -> Outcome:
    """Credit or debit points by hand: an `adjust` ledger entry, once per adjustment_id.

    A credit is a new lot (it expires like earned points) and does not count
    toward tier qualification; a debit spends oldest lots first and is refused
    (409 insufficient_points) if the balance would go below zero.
    """
    rules = load_rules()
    digest = fingerprint({"member_id": member_id, "points": request.points, "reason": request.reason})
    pk = keys.member_pk(member_id)

    def replay(adjustment: Adjustment) -> Outcome:
        if adjustment.fingerprint != digest:
            raise IdempotencyConflict(f"Adjustment {request.adjustment_id} was already made with different points or reason")
        return Outcome(200, plain(as_dict(adjustment.response)))

    def attempt() -> Outcome:
        now = utcnow()
        wanted = [(pk, keys.PROFILE), (pk, keys.adjustment_sk(request.adjustment_id))]
        found = {(i.pk, i.sk): i for i in BaseItem.batch_get(wanted, consistent_read=True)}
        member, earlier = found.get(wanted[0]), found.get(wanted[1])
        if isinstance(earlier, Adjustment):
            return replay(earlier)
        if not isinstance(member, Member):
            raise NotFound(f"No member {member_id}")
        if member.status == "closed":
            raise MemberClosed("The membership is closed")
        state = points_state(member)
        month = month_key(today_in(rules.zone, now))
        if request.points > 0:
            new_state = earn(state, request.points, month, qualifying=False)
        else:
            try:
                new_state = spend(state, -request.points)
            except NotEnoughPoints:
                raise InsufficientPoints(f"The balance is {state.balance}; it cannot go below zero") from None
        entry = ledger_entry(member_id, "adjust", request.points, new_state.balance, request.adjustment_id, now)
        body = {
            "adjustment_id": request.adjustment_id,
            "member_id": member_id,
            "points": request.points,
            "balance": new_state.balance,
            "entry_id": entry.entry_id,
            "reason": request.reason,
            "created_at": iso(now),
        }
        tx = Transaction()
        tx.put(
            "adjustment",
            Adjustment(
                pk,
                keys.adjustment_sk(request.adjustment_id),
                adjustment_id=request.adjustment_id,
                member_id=member_id,
                fingerprint=digest,
                response=body,
                created_at=now,
            ),
            Adjustment.pk.does_not_exist(),
            return_old=True,
        )
        tx.update("member", member, points_update(new_state))
        tx.put("ledger", entry)
        if request.points > 0:
            add_lot_points(tx, member_id, month, request.points, lot_expires_on(month, rules.points_validity_months))
        change = Change(
            actor,
            "points.adjust",
            "member",
            member_id,
            {"balance": state.balance},
            {"balance": new_state.balance, "points": request.points},
            reason=request.reason,
            member_id=member_id,
            ref=request.adjustment_id,
        )
        add_audit(tx, change, rules, now)
        try:
            tx.commit()
        except Cancelled as exc:
            old = exc.failed.get("adjustment")
            if old:
                adjustment = BaseItem.from_raw_data(old)
                assert isinstance(adjustment, Adjustment)
                return replay(adjustment)
            raise Retryable("member changed meanwhile") from exc
        return Outcome(201, body)

    outcome = with_retries(attempt)
    if outcome.status == 201:
        count("OperatorActions")
        logger.info("points adjusted", extra={"member_id": member_id, "points": request.points})
    return outcome


# --- rewards ----------------------------------------------------------------------------------


def list_rewards(limit: int, cursor: str | None) -> dict[str, Any]:
    """The whole catalogue, retired rewards included."""
    prefix = keys.reward_sk("")
    results = Reward.query(
        keys.REWARD_PK, Reward.sk.startswith(prefix), limit=limit, last_evaluated_key=_start(keys.REWARD_PK, cursor, prefix), consistent_read=True
    )
    return _page([reward_view(r) for r in results], results, limit)


def create_reward(request: RewardCreateRequest, actor: str) -> Outcome:
    """Add a reward under the operator's reward_id. Creating the same reward again is a
    replay (200, the reward as it is now); another definition under that id is 409."""
    rules = load_rules()
    reward = Reward(
        keys.REWARD_PK,
        keys.reward_sk(request.reward_id),
        reward_id=request.reward_id,
        name=request.name,
        points_cost=request.points_cost,
        stock=request.stock,
        active=True,
        coupon_valid_days=request.coupon_valid_days,
    )
    definition = (request.name, request.points_cost, request.coupon_valid_days, True)

    def attempt() -> Outcome:
        now = utcnow()
        tx = Transaction()
        tx.put("reward", reward, Reward.pk.does_not_exist(), return_old=True)
        change = Change(actor, "reward.create", "reward", request.reward_id, None, reward_view(reward), reason=request.reason)
        add_audit(tx, change, rules, now)
        try:
            tx.commit()
        except Cancelled as exc:
            old = exc.failed.get("reward")
            if not old:
                raise Retryable("audit id taken meanwhile") from exc
            existing = BaseItem.from_raw_data(old)
            assert isinstance(existing, Reward)
            existing_days = None if existing.coupon_valid_days is None else int(existing.coupon_valid_days)
            if (existing.name, int(existing.points_cost), existing_days, bool(existing.active)) != definition:
                raise IdempotencyConflict(f"A reward {request.reward_id} already exists; change it with PATCH") from exc
            return Outcome(200, reward_view(existing))
        return Outcome(201, reward_view(reward))

    outcome = with_retries(attempt)
    if outcome.status == 201:
        count("OperatorActions")
        logger.info("reward created", extra={"reward_id": request.reward_id})
    return outcome


_REWARD_ATTRIBUTES: Mapping[str, Attribute[Any]] = {
    "name": Reward.name,
    "points_cost": Reward.points_cost,
    "stock": Reward.stock,
    "active": Reward.active,
    "coupon_valid_days": Reward.coupon_valid_days,
}


def update_reward(reward_id: str, request: RewardUpdateRequest, actor: str) -> dict[str, Any]:
    """Change the fields given. The write is conditioned on the stock read, so the audit's
    `before` is exact even while members redeem (a redemption in between means a retry)."""
    rules = load_rules()
    changes = request.changes()

    def attempt() -> dict[str, Any]:
        now = utcnow()
        try:
            reward = Reward.get(keys.REWARD_PK, keys.reward_sk(reward_id), consistent_read=True)
        except DoesNotExist:
            raise NotFound(f"No reward {reward_id}") from None
        current = reward_view(reward)
        actions: list[Action] = []
        for field, value in changes.items():
            attribute = _REWARD_ATTRIBUTES[field]
            actions.append(attribute.remove() if value is None else attribute.set(value))
        condition: Condition = Reward.pk.exists()
        condition &= Reward.stock.does_not_exist() if reward.stock is None else Reward.stock == reward.stock
        tx = Transaction()
        tx.update("reward", reward, actions, condition)
        after = {**current, **changes}
        action = "reward.retire" if changes.get("active") is False else "reward.update"
        add_audit(tx, Change(actor, action, "reward", reward_id, {f: current[f] for f in changes}, changes, reason=request.reason), rules, now)
        try:
            tx.commit()
        except Cancelled as exc:
            raise Retryable("reward changed meanwhile") from exc
        return after

    view = with_retries(attempt)
    count("OperatorActions")
    logger.info("reward updated", extra={"reward_id": reward_id, "fields": sorted(changes)})
    return view


# --- merchant keys ----------------------------------------------------------------------------


def merchant_key_view(record: ApiKeyRecord) -> dict[str, Any]:
    return {
        "key_id": record.key_id,
        "store_id": record.store_id,
        "scope": record.scope or "store",
        "status": record.status,
        "created_at": iso(record.created_at),
        "revoked_at": iso(record.revoked_at) if record.revoked_at else None,
    }


def issue_merchant_key(request: MerchantKeyRequest, actor: str) -> dict[str, Any]:
    """A new key for a store (or, `scope: brand`, for every store): returned once, stored only as its SHA-256."""
    rules = load_rules()

    def attempt() -> dict[str, Any]:
        now = utcnow()
        api_key = secrets.token_urlsafe(32)
        digest = key_digest(api_key)
        key_id = f"key_{secrets.token_hex(8)}"
        record = ApiKeyRecord(
            keys.APIKEYS_PK,
            keys.apikey_record_sk(key_id),
            key_id=key_id,
            store_id=request.store_id,
            scope=request.scope,
            digest=digest,
            status="active",
            created_at=now,
            issued_by=actor,
        )
        tx = Transaction()
        tx.put(
            "key",
            ApiKey(
                keys.apikey_pk(digest), keys.APIKEY_SK, key_id=key_id, store_id=request.store_id, scope=request.scope, status="active", created_at=now
            ),
            ApiKey.pk.does_not_exist(),
        )
        tx.put("record", record, ApiKeyRecord.pk.does_not_exist())
        after = {"store_id": request.store_id, "scope": request.scope, "status": "active"}
        add_audit(tx, Change(actor, "merchant_key.issue", "merchant_key", key_id, None, after, reason=request.reason), rules, now)
        try:
            tx.commit()
        except Cancelled as exc:
            raise Retryable("key id collision") from exc
        return {**merchant_key_view(record), "api_key": api_key}

    issued = with_retries(attempt)
    count("OperatorActions")
    logger.info("merchant key issued", extra={"key_id": issued["key_id"], "store_id": request.store_id, "scope": request.scope})
    return issued


def list_merchant_keys(limit: int, cursor: str | None) -> dict[str, Any]:
    prefix = keys.apikey_record_sk("")
    results = ApiKeyRecord.query(
        keys.APIKEYS_PK,
        ApiKeyRecord.sk.startswith(prefix),
        limit=limit,
        last_evaluated_key=_start(keys.APIKEYS_PK, cursor, prefix),
        consistent_read=True,
    )
    return _page([merchant_key_view(r) for r in results], results, limit)


def revoke_merchant_key(key_id: str, actor: str, reason: str | None) -> dict[str, Any]:
    """Revoke at once in this container; other warm containers may accept the key for up to
    `merchants.CACHE_SECONDS` more. Revoking a revoked key changes nothing (200)."""
    rules = load_rules()
    key_item_gone = False

    def attempt() -> dict[str, Any]:
        nonlocal key_item_gone
        now = utcnow()
        try:
            record = ApiKeyRecord.get(keys.APIKEYS_PK, keys.apikey_record_sk(key_id), consistent_read=True)
        except DoesNotExist:
            raise NotFound(f"No merchant key {key_id}") from None
        if record.status == "revoked":
            return merchant_key_view(record)
        tx = Transaction()
        if not key_item_gone:
            tx.update("key", ApiKey(keys.apikey_pk(record.digest), keys.APIKEY_SK), [ApiKey.status.set("revoked")], ApiKey.pk.exists())
        tx.update("record", record, [ApiKeyRecord.status.set("revoked"), ApiKeyRecord.revoked_at.set(now)], ApiKeyRecord.status == "active")
        before, after = {"status": "active"}, {"status": "revoked"}
        add_audit(tx, Change(actor, "merchant_key.revoke", "merchant_key", key_id, before, after, reason=reason), rules, now)
        try:
            tx.commit()
        except Cancelled as exc:
            if "key" in exc.failed and "record" not in exc.failed:
                key_item_gone = True  # nothing can authenticate with it: revoke the record alone
            raise Retryable("key changed meanwhile") from exc
        record.status, record.revoked_at = "revoked", now
        logger.info("merchant key revoked", extra={"key_id": key_id, "store_id": record.store_id})
        count("OperatorActions")
        return merchant_key_view(record)

    view = with_retries(attempt)
    forget_cached_keys()  # this container stops accepting it now
    return view


# --- program rules ----------------------------------------------------------------------------


def _stored_rules() -> tuple[dict[str, Any] | None, int | None]:
    """The stored document as JSON (normalised when valid) and its version."""
    text, version = read_rules_document()
    if text is None:
        return None, None
    try:
        return ProgramRules.model_validate_json(text).model_dump(mode="json"), version
    except ValidationError:
        try:
            raw = json.loads(text)
        except ValueError:
            return {}, version
        return raw if isinstance(raw, dict) else {}, version


def current_rules() -> dict[str, Any]:
    """The rules in force and the stored parameter's version.

    A stored document that fails validation is never in force: then the last
    good rules are shown, with `stored_document_valid: false`.
    """
    text, version = read_rules_document()
    valid = True
    try:
        rules = ProgramRules.model_validate_json(text) if text is not None else load_rules()
    except ValidationError:
        valid = False
        rules = load_rules()
    return {"rules": rules.model_dump(mode="json"), "version": version, "stored_document_valid": valid}


def _rules_errors(exc: ValidationError) -> list[FieldError]:
    errors = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in ("rules", *err["loc"]))
        errors.append(FieldError(loc, err["msg"]))
    return errors


def update_rules(request: RulesUpdateRequest, actor: str) -> dict[str, Any]:
    """Validate the whole document, then save it to SSM and audit the change.

    PUT replaces the document: every field must be given (GET it, change it, PUT
    it back), so nothing silently falls back to a default. An invalid document
    is refused (400) and the rules in force stay as they are. The audit entry
    (changed fields, before -> after) is written right after SSM accepts the
    document; SSM's own history and CloudTrail also keep every version.
    """
    missing = [name for name in ProgramRules.model_fields if name not in request.rules]
    errors = [FieldError(f"rules.{name}", "required: PUT takes the whole document (GET it, change it, PUT it back)") for name in missing]
    try:
        rules = ProgramRules.model_validate(request.rules)
    except ValidationError as exc:
        errors += _rules_errors(exc)
    if errors:
        raise ValidationFailed(errors)
    before_doc, _ = _stored_rules()
    after_doc = rules.model_dump(mode="json")
    changed = sorted(k for k in after_doc if (before_doc or {}).get(k) != after_doc[k])
    version = write_rules_document(rules.model_dump_json())
    clear_caches()  # this container uses the new rules at once; others within rules_cache_seconds
    now = utcnow()
    change = Change(
        actor,
        "rules.update",
        "rules",
        get_settings().rules_parameter,
        {k: (before_doc or {}).get(k) for k in changed},
        {k: after_doc[k] for k in changed},
        reason=request.reason,
        ref=f"version:{version}",
    )
    try:
        record_audit(change, rules, now)
    except Exception:
        logger.exception("rules saved but the audit entry failed", extra={"version": version})
        raise
    count("OperatorActions")
    logger.info("program rules updated", extra={"version": version, "fields": changed})
    return {"rules": after_doc, "version": version, "stored_document_valid": True}
