"""The program rules document (SSM, store/rules_parameter.py): what is in force, and replacing it
whole, validated, then audited."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from ...api.schemas.operators import RulesUpdateRequest
from ...domain.clock import utcnow
from ...domain.errors import FieldError, ValidationFailed
from ...domain.rules import ProgramRules
from ...observability import count, logger
from ...settings import get_settings
from ...store.parameters import clear_caches, load_rules
from ...store.rewards import get_reward
from ...store.rules_parameter import read_rules_document, write_rules_document
from ..audit import Change, record_audit


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


def _unknown_stamp_rewards(rules: ProgramRules) -> list[FieldError]:
    """A stamp card's reward must be in the catalogue (and not retired) when the card is saved."""
    errors = []
    for n, card in enumerate(rules.stamp_cards):
        reward = get_reward(card.reward_id, strongly=True)
        if reward is None or not reward.active:
            errors.append(FieldError(f"rules.stamp_cards.{n}.reward_id", f"no reward {card.reward_id!r} in the catalogue"))
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
    else:
        errors += _unknown_stamp_rewards(rules)
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
