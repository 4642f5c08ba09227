"""SMS through the stage's provider: Amazon SNS (free text) or a Chinese template provider,
Alibaba Cloud SMS (`aliyun`) or Tencent Cloud SMS (`tencent`), through their official SDKs.

A template provider sends the brand's registered signature and template for the message's kind
with the template's variables (domain/sms_templates.py), never the free text. Only the chosen
provider's SDK is imported, on the first SMS: a cold start of a request that sends none pays
nothing. The provider's keys come from a SecureString parameter (in the cloud a Secrets Manager
secret read through SSM's /aws/reference/secretsmanager/ path), read once per container and
never logged; neither are phone numbers or the variables' values (codes).

Every refusal is an `SmsNotSent` with a reason the caller and the metrics tell apart:
`throttled` (the provider's per-number or per-account limits), `template_refused` (the
template or signature is not approved: the brand must fix its registration; alarm-worthy),
`no_template` (the stage maps no template to the kind), `refused` (anything else: bad keys,
a network fault, a timeout: the SDKs wait at most `TIMEOUT_SECONDS`).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from ..domain.sms_templates import SmsTemplate, TemplateMessage, parse_templates, template_message
from ..observability import count, logger
from ..settings import get_settings

TIMEOUT_SECONDS = 3

# The providers' answers that mean "too many messages" (per number per minute/hour/day, or the
# account's own limits) and "this template/signature may not be sent".
ALIYUN_THROTTLED = frozenset({"isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL", "isv.AMOUNT_NOT_ENOUGH", "Throttling.User"})
ALIYUN_TEMPLATE_REFUSED = frozenset(
    {"isv.SMS_TEMPLATE_ILLEGAL", "isv.SMS_SIGNATURE_ILLEGAL", "isv.TEMPLATE_MISSING_PARAMETERS", "isv.SMS_SIGN_ILLEGAL", "isv.SMS_CONTENT_ILLEGAL"}
)
TENCENT_THROTTLED_PREFIXES = ("LimitExceeded.", "RequestLimitExceeded")
TENCENT_TEMPLATE_REFUSED = frozenset(
    {
        "FailedOperation.TemplateIncorrectOrUnapproved",
        "FailedOperation.SignatureIncorrectOrUnapproved",
        "FailedOperation.MissingTemplateToModify",
        "InvalidParameterValue.TemplateParameterFormatError",
        "InvalidParameterValue.TemplateParameterLengthLimit",
    }
)


class SmsNotSent(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # throttled | template_refused | no_template | refused


@cache
def templates() -> dict[str, SmsTemplate]:
    return parse_templates(get_settings().sms_templates)


@cache
def _credentials() -> dict[str, str]:
    """The provider's keys, read once per container."""
    import boto3

    parameter = boto3.client("ssm").get_parameter(Name=get_settings().sms_credentials_parameter, WithDecryption=True)
    value = json.loads(parameter["Parameter"]["Value"])
    if not isinstance(value, dict):
        raise ValueError("the SMS credentials are not a JSON object")
    return {str(k): str(v) for k, v in value.items()}


def receipt_token() -> str:
    """The secret token the provider's delivery-receipt callback URL carries (`receipt_token` in
    the credentials secret); "" when the brand set none (receipts are then not taken)."""
    try:
        return _credentials().get("receipt_token", "")
    except Exception:  # no secret readable: no receipts (the reason is logged, never the value)
        logger.warning("SMS credentials unreadable: receipts are not taken", extra={"provider": get_settings().sms_provider})
        return ""


def forget_credentials() -> None:
    """For tests and key rotation: the next SMS reads the keys and the templates again."""
    _credentials.cache_clear()
    templates.cache_clear()
    _aliyun_client.cache_clear()
    _tencent_client.cache_clear()


def send_template_sms(phone: str, kind: str, values: dict[str, str]) -> str:
    """Send by the stage's template provider; returns the provider's message id (for receipts)."""
    settings = get_settings()
    message = template_message(templates(), kind, values)
    if message is None:
        count("SmsWithoutTemplate")
        logger.warning("no SMS template for this kind: not sent", extra={"kind": kind, "provider": settings.sms_provider})
        raise SmsNotSent("no_template")
    try:
        if settings.sms_provider == "aliyun":
            return _send_aliyun(phone, message)
        return _send_tencent(phone, message)
    except SmsNotSent as refused:
        if refused.reason == "template_refused":
            count("SmsTemplateRefused")  # the brand's registration needs fixing: alarmed on
        elif refused.reason == "throttled":
            count("SmsThrottled")
        logger.warning("SMS refused", extra={"kind": kind, "provider": settings.sms_provider, "reason": refused.reason})
        raise


def _aliyun_phone(phone: str) -> str:
    """Alibaba takes mainland numbers without the country code, others as digits with it."""
    return phone.removeprefix("+86") if phone.startswith("+86") else phone.lstrip("+")


@cache
def _aliyun_client() -> Any:
    from alibabacloud_dysmsapi20170525.client import Client
    from alibabacloud_tea_openapi.utils_models import Config

    settings = get_settings()
    keys = _credentials()
    endpoint = settings.sms_endpoint or "dysmsapi.aliyuncs.com"
    config = Config(
        access_key_id=keys["access_key_id"],
        access_key_secret=keys["access_key_secret"],
        endpoint=endpoint,
        protocol="http" if settings.is_local else "https",
        connect_timeout=TIMEOUT_SECONDS * 1000,
        read_timeout=TIMEOUT_SECONDS * 1000,
    )
    return Client(config)


def _send_aliyun(phone: str, message: TemplateMessage) -> str:
    from alibabacloud_dysmsapi20170525.models import SendSmsRequest
    from alibabacloud_tea_openapi.exceptions import AlibabaCloudException

    try:
        request = SendSmsRequest(
            phone_numbers=_aliyun_phone(phone),
            sign_name=get_settings().sms_sign_name,
            template_code=message.template_id,
            template_param=json.dumps(message.as_dict(), ensure_ascii=False) if message.names else None,
        )
        body = _aliyun_client().send_sms(request).body
    except AlibabaCloudException as exc:
        raise SmsNotSent(_aliyun_reason(str(getattr(exc, "code", "")))) from None
    except Exception as exc:  # the SDK's transport errors (timeouts, refused connections) are plain exceptions
        logger.warning("SMS provider unreachable", extra={"provider": "aliyun", "error": type(exc).__name__})
        raise SmsNotSent("refused") from None
    if body.code != "OK":
        raise SmsNotSent(_aliyun_reason(body.code or ""))
    return str(body.biz_id or "")


def _aliyun_reason(code: str) -> str:
    if code in ALIYUN_THROTTLED:
        return "throttled"
    return "template_refused" if code in ALIYUN_TEMPLATE_REFUSED else "refused"


@cache
def _tencent_client() -> Any:
    from tencentcloud.common.credential import Credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.sms.v20210111.sms_client import SmsClient

    settings = get_settings()
    keys = _credentials()
    http = HttpProfile(endpoint=settings.sms_endpoint or "sms.tencentcloudapi.com", reqTimeout=TIMEOUT_SECONDS)
    http.scheme = "http" if settings.is_local else "https"
    return SmsClient(Credential(keys["secret_id"], keys["secret_key"]), settings.sms_region, ClientProfile(httpProfile=http))


def _send_tencent(phone: str, message: TemplateMessage) -> str:
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
    from tencentcloud.sms.v20210111.models import SendSmsRequest

    settings = get_settings()
    request = SendSmsRequest()
    request.PhoneNumberSet = [phone]
    request.SmsSdkAppId = settings.sms_app_id
    request.SignName = settings.sms_sign_name
    request.TemplateId = message.template_id
    request.TemplateParamSet = list(message.values)
    try:
        answer = _tencent_client().SendSms(request)
    except TencentCloudSDKException as exc:
        raise SmsNotSent(_tencent_reason(str(exc.get_code() or ""))) from None
    except Exception as exc:
        logger.warning("SMS provider unreachable", extra={"provider": "tencent", "error": type(exc).__name__})
        raise SmsNotSent("refused") from None
    statuses = answer.SendStatusSet or []
    if not statuses or statuses[0].Code != "Ok":
        raise SmsNotSent(_tencent_reason(statuses[0].Code if statuses else ""))
    return str(statuses[0].SerialNo or "")


def _tencent_reason(code: str) -> str:
    if code.startswith(TENCENT_THROTTLED_PREFIXES):
        return "throttled"
    return "template_refused" if code in TENCENT_TEMPLATE_REFUSED else "refused"
