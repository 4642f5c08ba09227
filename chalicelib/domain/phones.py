"""Phone numbers: parsed and normalised to E.164 with `phonenumbers`."""

from __future__ import annotations


class InvalidPhone(ValueError):
    pass


def normalise_phone(raw: str, default_region: str) -> str:
    """Return the E.164 form of `raw`, a number in E.164 or national form.

    Raises InvalidPhone for anything that is not a valid, dialable number.
    """
    import phonenumbers  # imported on first use: ~30 ms of cold start

    if not isinstance(raw, str) or not raw.strip() or len(raw) > 32:
        raise InvalidPhone("not a phone number")
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone("not a phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhone("not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def phone_ending(phone: str) -> str:
    """What the operator audit keeps of a phone: its last four digits, never the number."""
    return "…" + phone[-4:]
