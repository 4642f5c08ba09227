"""Program rules and the token signing key, from SSM Parameter Store (cached).

Operators change the rules in the console; every container picks them up
within `rules_cache_seconds`. A document that fails validation is never used:
the last good copy (or the defaults) stays in force and the error is logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from typing import TYPE_CHECKING, Any

from ..observability import logger
from ..settings import get_settings

if TYPE_CHECKING:
    from ..domain.rules import ProgramRules

_lock = threading.Lock()
_last_good: tuple[str, ProgramRules] | None = None


def _parameters() -> Any:
    # powertools' parameters package imports every provider (~45 ms): load it when first needed.
    from aws_lambda_powertools.utilities import parameters

    return parameters


def load_rules() -> ProgramRules:
    # The rules model (and pydantic) load here, not with the module: the member-token
    # authorizer reads only the signing key, and runs as a function of its own.
    from pydantic import ValidationError

    from ..domain.rules import DEFAULT_RULES, ProgramRules

    global _last_good
    parameters = _parameters()
    settings = get_settings()
    try:
        raw = parameters.get_parameter(settings.rules_parameter, max_age=settings.rules_cache_seconds)
    except parameters.exceptions.GetParameterError:
        logger.exception("program rules parameter unreadable; using last good rules")
        return _last_good[1] if _last_good else DEFAULT_RULES
    assert isinstance(raw, str)
    with _lock:
        if _last_good and _last_good[0] == raw:
            return _last_good[1]
    try:
        rules = ProgramRules.model_validate(json.loads(raw))
    except (ValueError, ValidationError):
        logger.exception("program rules parameter is invalid; using last good rules")
        return _last_good[1] if _last_good else DEFAULT_RULES
    with _lock:
        _last_good = (raw, rules)
    return rules


def signing_key() -> bytes:
    settings = get_settings()
    value = _parameters().get_parameter(settings.signing_key_parameter, decrypt=True, max_age=300)
    assert isinstance(value, str) and len(value) >= 32, "signing key missing or too short"
    return value.encode()


def origin_verify_secret() -> bytes | None:
    """The secret the web app's CloudFront distribution adds to its requests to the API (cached like
    the signing key: one read per container per 5 minutes, and only by a request that carries it).
    None where the stage has none (local) or it cannot be read: then no request is taken as the
    distribution's, and per-client limits count the TCP peer, as before."""
    name = get_settings().origin_verify_parameter
    if not name:
        return None
    parameters = _parameters()
    try:
        value = parameters.get_parameter(name, decrypt=True, max_age=300)
    except parameters.exceptions.GetParameterError:
        logger.exception("origin verify secret unreadable; the viewer address header is not believed")
        return None
    return value.encode() if isinstance(value, str) and len(value) >= 32 else None


def code_pepper() -> bytes:
    """Key for verification-code digests, derived so it never equals the token key."""
    return hmac.new(signing_key(), b"huiyuan:verification-code", hashlib.sha256).digest()


def fingerprint_key() -> bytes:
    """Key for request fingerprints (idempotency records): they outlive erasure, so a phone or a
    feedback text in a request must not be recoverable from them by hashing guesses."""
    return hmac.new(signing_key(), b"huiyuan:request-fingerprint", hashlib.sha256).digest()


def wechat_pay_credentials() -> dict[str, str]:
    """The merchant's WeChat Pay secret (docs/wechat-pay.md): mchid, merchant_serial_no,
    merchant_private_key, apiv3_key, platform_public_key_id, platform_public_key. Cached 5
    minutes per container; never logged."""
    value = _parameters().get_secret(get_settings().wechat_pay_secret, transform="json", max_age=300)
    assert isinstance(value, dict), "WeChat Pay secret is not a JSON object"
    return {str(k): str(v) for k, v in value.items()}


def clear_caches() -> None:
    """Forget cached parameters (tests; after a rules change in the same process)."""
    global _last_good
    _parameters().clear_caches()
    with _lock:
        _last_good = None


def wechat_ticket_key() -> bytes:
    """Key for WeChat tickets (usecases/wechat.py), derived so a ticket is never a member token."""
    return hmac.new(signing_key(), b"huiyuan:wechat-ticket", hashlib.sha256).digest()
