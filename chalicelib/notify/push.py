"""Push notifications through Amazon SNS mobile push: one platform application per provider (APNs,
FCM) and stage, one platform endpoint per device, one Publish per endpoint.

The device token lives in the SNS endpoint only (the table keeps its SHA-256 and the endpoint's
ARN). Tokens, ARNs' owners and message bodies never reach the logs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from ..observability import count, logger
from ..settings import get_settings

# What SNS answers for an endpoint that will never deliver again: the provider reported the
# token invalid (EndpointDisabled), or the endpoint is gone or malformed.
GONE_CODES = frozenset(
    {"EndpointDisabled", "EndpointDisabledException", "InvalidParameter", "InvalidParameterException", "NotFound", "NotFoundException"}
)


# What the stack sets for a provider a stage has no credentials for (an empty variable would mean the default).
PUSH_OFF = "off"


class PushUnavailable(Exception):
    """The platform application is not configured (or SNS refused the endpoint)."""


@dataclass(frozen=True)
class Published:
    accepted: tuple[str, ...]
    gone: tuple[str, ...]


@cache
def _sns() -> Any:
    import boto3

    return boto3.client("sns")


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


@cache
def application_arn(platform: str) -> str:
    """The stage's platform application for `platform` (apns | fcm): the setting when it is an ARN
    (the stack sets them), else the application of that name (the local stage's, made by
    bootstrap); `off` (the stack, for a provider without credentials): not configured."""
    configured = get_settings().push_apns_application if platform == "apns" else get_settings().push_fcm_application
    if not configured or configured == PUSH_OFF:
        raise PushUnavailable(f"no {platform} platform application is configured")
    if configured.startswith("arn:"):
        return configured
    for page in _sns().get_paginator("list_platform_applications").paginate():
        for application in page.get("PlatformApplications", []):
            if application["PlatformApplicationArn"].endswith(f"/{configured}"):
                return str(application["PlatformApplicationArn"])
    raise PushUnavailable(f"no {platform} platform application named {configured}")


def create_endpoint(platform: str, token: str) -> str:
    """The device's platform endpoint (CreatePlatformEndpoint is idempotent for the same token),
    enabled again if the provider had disabled it."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        arn = str(_sns().create_platform_endpoint(PlatformApplicationArn=application_arn(platform), Token=token)["EndpointArn"])
        _sns().set_endpoint_attributes(EndpointArn=arn, Attributes={"Enabled": "true"})
    except (BotoCoreError, ClientError) as exc:
        logger.warning("push endpoint refused", extra={"platform": platform, "error": _error_code(exc) or type(exc).__name__})
        raise PushUnavailable("SNS refused the device") from exc
    return arn


def delete_endpoint(arn: str) -> None:
    """Best effort: a device forgotten by the table must not be kept by SNS either."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        _sns().delete_endpoint(EndpointArn=arn)
    except (BotoCoreError, ClientError) as exc:
        logger.warning("push endpoint not deleted", extra={"error": _error_code(exc) or type(exc).__name__})


def _payload(title: str, body: str, kind: str) -> str:
    """One message for every provider (MessageStructure json)."""
    apns = json.dumps({"aps": {"alert": {"title": title, "body": body}}, "kind": kind}, ensure_ascii=False)
    fcm = json.dumps({"notification": {"title": title, "body": body}, "data": {"kind": kind}}, ensure_ascii=False)
    return json.dumps({"default": body, "APNS": apns, "APNS_SANDBOX": apns, "GCM": fcm}, ensure_ascii=False)


def publish(endpoints: list[str], title: str, body: str, kind: str) -> Published:
    """Publish to each endpoint. Accepted: SNS took it (counted sent). Gone: SNS says the endpoint
    can never deliver (deleted here; the caller forgets the device). Any other failure is neither."""
    from botocore.exceptions import BotoCoreError, ClientError

    accepted: list[str] = []
    gone: list[str] = []
    message = _payload(title, body, kind)
    for arn in endpoints:
        try:
            _sns().publish(TargetArn=arn, Message=message, MessageStructure="json")
        except ClientError as exc:
            if _error_code(exc) in GONE_CODES:
                gone.append(arn)
                delete_endpoint(arn)
                count("PushEndpointsRemoved")
            else:
                logger.warning("push refused", extra={"error": _error_code(exc)})
            continue
        except BotoCoreError as exc:
            logger.warning("push failed", extra={"error": type(exc).__name__})
            continue
        accepted.append(arn)
    if accepted:
        count("PushSent", len(accepted))
    return Published(tuple(accepted), tuple(gone))
