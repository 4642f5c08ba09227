"""A stage whose SMS go through a template provider (docs/sms-providers.md): the provider's keys
are a secret of the stage, read only by the functions that send messages, through SSM's
Secrets Manager reference; a stage on SNS has no such secret."""

from __future__ import annotations

from tests.infra.conftest import resources
from tests.infra.test_iam import statements


def _secret_id(template):
    [(logical_id, secret)] = [(k, v) for k, v in resources(template, "AWS::SecretsManager::Secret").items() if k.startswith("SmsProviderCredentials")]
    return logical_id, secret


def test_given_a_template_provider_then_its_keys_are_a_secret_only_the_sending_functions_read(variant):
    template = variant["template"]
    logical_id, secret = _secret_id(template)
    assert secret["Properties"]["Name"] == "huiyuan/prod/sms-credentials"
    assert "SecretString" not in secret["Properties"]  # generated placeholder: no key in the template
    readers = {role for role, statement in statements(template) if statement.get("Sid") == "ReadSmsCredentials" and statement["Effect"] == "Allow"}
    for role in readers:
        [statement] = [s for r, s in statements(template) if r == role and s.get("Sid") == "ReadSmsCredentials"]
        assert statement["Action"] == "secretsmanager:GetSecretValue"
        assert statement["Resource"] == {"Ref": logical_id}
    senders = {role for role, statement in statements(template) if statement.get("Sid") == "SendSms"}
    assert readers == senders and senders  # exactly who sends messages, the authorizer and event functions not
    functions = resources(template, "AWS::Serverless::Function").values()
    environments = [f["Properties"].get("Environment", {}).get("Variables", {}) for f in functions]
    with_provider = [env for env in environments if env.get("SMS_PROVIDER") == "aliyun"]
    assert len(with_provider) == len(senders)
    assert {env["SMS_CREDENTIALS_PARAMETER"] for env in with_provider} == {"/aws/reference/secretsmanager/huiyuan/prod/sms-credentials"}


def test_given_sns_then_there_is_no_provider_secret(template):
    assert not [k for k in resources(template, "AWS::SecretsManager::Secret") if k.startswith("SmsProviderCredentials")]
