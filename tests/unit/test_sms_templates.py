"""A template provider sends a registered template and its values, never free text
(domain/sms_templates.py): the stage's mapping is checked when first read, and a kind the brand
did not register is not sent."""

from __future__ import annotations

import json

import pytest

from chalicelib.domain.sms_templates import TemplateMappingError, parse_templates, shown_values, template_message

MAPPING = json.dumps({"verification_code": {"id": "SMS_1", "params": ["code", "minutes"]}, "phone_changed": {"id": "SMS_2"}})


def test_given_a_mapping_then_a_code_message_is_its_template_with_the_values_in_the_templates_order():
    message = template_message(parse_templates(MAPPING), "verification_code", {"minutes": "5", "code": "123456"})
    assert message is not None
    assert (message.template_id, message.values) == ("SMS_1", ("123456", "5"))  # Tencent's {1}, {2}
    assert message.as_dict() == {"code": "123456", "minutes": "5"}  # Alibaba's ${code}, ${minutes}


def test_given_a_template_without_variables_then_it_sends_none():
    message = template_message(parse_templates(MAPPING), "phone_changed", {})
    assert message is not None and message.values == ()


def test_given_a_kind_the_brand_did_not_register_then_there_is_nothing_to_send():
    assert template_message(parse_templates(MAPPING), "welcome", {"points": "100"}) is None
    assert template_message(parse_templates(""), "verification_code", {"code": "1", "minutes": "5"}) is None


def test_given_a_message_without_a_value_its_template_needs_then_there_is_nothing_to_send():
    assert template_message(parse_templates(MAPPING), "verification_code", {"code": "123456"}) is None


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("{not json", "not JSON"),
        ("[]", "object"),
        ('{"sign_in": {"id": "SMS_1"}}', "unknown message kind"),
        ('{"welcome": {"params": ["points"]}}', "template id"),
        ('{"welcome": {"id": "SMS_1", "params": "points"}}', "list of names"),
        ('{"welcome": {"id": "SMS_1", "params": ["name"]}}', "welcome offers ['points']"),
    ],
)
def test_given_a_mapping_that_cannot_be_used_then_it_is_refused_saying_why(raw, says):
    with pytest.raises(TemplateMappingError, match=says.replace("[", r"\[").replace("]", r"\]")):
        parse_templates(raw)


def test_given_a_template_provider_with_a_mapping_that_cannot_be_used_then_the_settings_refuse_to_start():
    from chalicelib.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match="unknown message kind"):
        Settings(sms_provider="aliyun", sms_templates='{"sign_in": {"id": "SMS_1"}}')
    with pytest.raises(SettingsError, match="SMS_PROVIDER"):
        Settings(sms_provider="twilio")
    assert Settings(sms_provider="sns", sms_templates="{not json").sms_provider == "sns"  # SNS sends free text


def test_a_messages_template_values_as_a_record_keeps_them_hide_a_one_time_code_and_keep_the_rest() -> None:
    assert shown_values({"code": "389529", "minutes": "5"}) == {"code": "******", "minutes": "5"}
    assert shown_values({"points": "300"}) == {"points": "300"}
