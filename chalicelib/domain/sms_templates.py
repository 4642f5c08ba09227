"""SMS templates: what a template provider (Alibaba Cloud, Tencent Cloud) is asked to send.

Chinese SMS providers send only text a brand registered beforehand: a signature (签名, the
brand's name in 【】) and one template (模板) per kind of message, with variables. The service
therefore sends a template id and the values of its variables, never free text, through them.

The stage's mapping (setting `SMS_TEMPLATES`, JSON) names, per message kind, the registered
template and which of the kind's values fill its variables, in order:

    {"verification_code": {"id": "SMS_154950909", "params": ["code", "minutes"]}}

Alibaba's variables are named (`${code}`): they must be called as here. Tencent's are numbered
(`{1}`, `{2}`): `params` gives them in order. A kind the mapping leaves out is not sent by a
template provider (docs/sms-providers.md: a brand registers every kind it uses).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

# The values each kind of SMS offers a template, by name.
TEMPLATE_VALUES: dict[str, tuple[str, ...]] = {
    "verification_code": ("code", "minutes"),
    "welcome": ("points",),
    "phone_changed": (),
    "invite": ("points",),
    "referral_reward": ("points",),
    "membership_closed": (),
    "feedback_answer": (),
    "points_received": (),
    "tier_changed": (),
    "birthday_greeting": (),
    "expiry_reminder": (),
    "plan_lapsed": (),
    "plan_reminder": (),
    "reengagement": (),
    "campaign": (),
}

# Template values that are one-time secrets: they fill the provider's template, and appear
# nowhere we keep or show a message's values (the local outbox's `params`).
SECRET_VALUES = frozenset({"code"})
HIDDEN = "******"


def shown_values(values: dict[str, str]) -> dict[str, str]:
    """A template's values as a record may keep them: a one-time code hidden, the rest as sent."""
    return {name: HIDDEN if name in SECRET_VALUES else value for name, value in values.items()}


class TemplateMappingError(ValueError):
    """The stage's template mapping cannot be used: the function must not start with it."""


@dataclass(frozen=True)
class SmsTemplate:
    id: str
    params: tuple[str, ...] = ()


@dataclass(frozen=True)
class TemplateMessage:
    """One SMS as a template provider sends it."""

    template_id: str
    names: tuple[str, ...]
    values: tuple[str, ...]

    def as_dict(self) -> dict[str, str]:
        return dict(zip(self.names, self.values, strict=True))


def parse_templates(raw: str) -> dict[str, SmsTemplate]:
    """The mapping from its JSON text; refuses unknown kinds and values a kind does not offer."""
    if not raw.strip():
        return {}
    try:
        document = json.loads(raw)
    except ValueError:
        raise TemplateMappingError("SMS_TEMPLATES is not JSON") from None
    if not isinstance(document, dict):
        raise TemplateMappingError("SMS_TEMPLATES must be an object of message kinds")
    templates: dict[str, SmsTemplate] = {}
    for kind, entry in document.items():
        if kind not in TEMPLATE_VALUES:
            raise TemplateMappingError(f"SMS_TEMPLATES: unknown message kind {kind!r}")
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not entry["id"].strip():
            raise TemplateMappingError(f"SMS_TEMPLATES[{kind!r}] needs a template id")
        params = entry.get("params", [])
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            raise TemplateMappingError(f"SMS_TEMPLATES[{kind!r}].params must be a list of names")
        unknown = [p for p in params if p not in TEMPLATE_VALUES[kind]]
        if unknown:
            raise TemplateMappingError(f"SMS_TEMPLATES[{kind!r}]: {kind} offers {list(TEMPLATE_VALUES[kind])}, not {unknown}")
        templates[kind] = SmsTemplate(entry["id"].strip(), tuple(params))
    return templates


def template_message(templates: dict[str, SmsTemplate], kind: str, values: dict[str, str]) -> TemplateMessage | None:
    """The template and its variables' values for a message of `kind`; None when the brand
    registered no template for it, or the message lacks a value the template needs."""
    template = templates.get(kind)
    if template is None or any(name not in values for name in template.params):
        return None
    return TemplateMessage(template.id, template.params, tuple(str(values[name]) for name in template.params))
