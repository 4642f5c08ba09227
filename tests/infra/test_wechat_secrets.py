"""WeChat's app secrets in the stack (docs/wechat.md, "In the cloud"): a stage with WeChat apps
has one secret holding their AppSecrets, made with a placeholder (no secret in the template) and
read, through SSM's Secrets Manager reference, only by the functions that call WeChat (sign-in in
the API, subscription messages wherever messages are sent); a stage without WeChat has no such
secret and its functions are told WeChat is off."""

from __future__ import annotations

import json

from tests.infra.conftest import resources
from tests.infra.test_iam import as_list, statements


def _environments(template):
    return {k: f["Properties"].get("Environment", {}).get("Variables", {}) for k, f in resources(template, "AWS::Serverless::Function").items()}


def _role_of(template, function_id):
    return template["Resources"][function_id]["Properties"]["Role"]["Fn::GetAtt"][0]


def test_given_wechat_apps_then_their_secrets_are_read_only_by_the_functions_that_call_wechat(variant):
    template = variant["template"]
    [(secret_id, secret)] = [(k, v) for k, v in resources(template, "AWS::SecretsManager::Secret").items() if k.startswith("WeChatAppSecrets")]
    assert secret["Properties"]["Name"] == "huiyuan/prod/wechat-app-secrets"
    assert "SecretString" not in secret["Properties"]  # a generated placeholder: the brand puts its AppSecrets in
    readers = set()
    for role, statement in statements(template):
        if secret_id in json.dumps(statement.get("Resource")) and statement["Effect"] == "Allow":
            assert as_list(statement["Action"]) == ["secretsmanager:GetSecretValue"]
            readers.add(role)
    senders = {role for role, statement in statements(template) if statement.get("Sid") == "SendSms"}
    environments = _environments(template)
    api_role = _role_of(template, "APIHandler")
    assert api_role in readers  # code2Session, OAuth, getPhoneNumber
    assert readers == senders  # subscription messages go out wherever messages are sent, nowhere else
    assert _role_of(template, "MemberToken") not in readers and _role_of(template, "Reconcile") not in readers
    reference = "/aws/reference/secretsmanager/huiyuan/prod/wechat-app-secrets"
    reference_readers = {role for role, s in statements(template) if s.get("Sid") == "ReadWeChatAppSecretsReference"}
    assert reference_readers == readers
    for function_id, env in environments.items():
        if _role_of(template, function_id) in readers:
            assert env["WECHAT_SECRETS_PARAMETER"] == reference
            assert env["WECHAT_MINI_PROGRAM_APPID"] == "wx00000000000000a1"
            assert env["WECHAT_OFFICIAL_ACCOUNT_APPID"] == "wx00000000000000b2"
        else:
            assert "WECHAT_SECRETS_PARAMETER" not in env


def test_given_no_wechat_app_then_there_is_no_secret_and_wechat_is_off(template, stage):
    assert not stage.wechat_configured
    assert not [k for k in resources(template, "AWS::SecretsManager::Secret") if k.startswith("WeChatAppSecrets")]
    assert not [s for _, s in statements(template) if "WeChatApp" in str(s.get("Sid"))]
    api = _environments(template)["APIHandler"]
    assert api["WECHAT_MINI_PROGRAM_APPID"] == "off" and api["WECHAT_OFFICIAL_ACCOUNT_APPID"] == "off"
    assert "WECHAT_SECRETS_PARAMETER" not in api
