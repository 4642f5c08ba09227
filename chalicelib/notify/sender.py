"""Send a message to a member over one channel.

SMS goes out with SNS `Publish` to the phone number, or through the stage's template provider
(sms.py: Alibaba Cloud or Tencent Cloud, as the message's kind's template and `params`), email
with SES. In the
local stage every message is also appended to the outbox file (one JSON object
a line), which is how a developer reads codes without a phone.
Message bodies never reach the logs: they may hold codes and names.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from ..domain.clock import iso, utcnow
from ..domain.messaging import Channel
from ..domain.sms_templates import shown_values
from ..observability import count, logger
from ..settings import get_settings

_outbox_lock = threading.Lock()


class DeliveryFailed(Exception):
    def __init__(self, kind: str, gone: tuple[str, ...] = (), reason: str = "refused", *, refused: bool = False) -> None:
        super().__init__(kind)
        self.gone = gone  # push: the endpoints SNS reported unusable (deleted; forget the devices)
        self.reason = reason  # SMS: throttled | template_refused | no_template | refused (sms.py)
        self.refused = refused  # wechat: the member has no subscription to the template (43101)


@dataclass(frozen=True)
class Delivery:
    """What `send` did: for push, the endpoints SNS reported unusable (deleted there; the caller
    forgets their devices)."""

    gone: tuple[str, ...] = ()


@dataclass(frozen=True)
class Message:
    channel: Channel
    to: str  # a phone, an email address, or for push the device endpoints' ARNs, space-separated
    kind: str
    body: str
    subject: str = ""
    # The values a template provider's SMS template takes (domain/sms_templates.py: by kind).
    params: Mapping[str, str] = field(default_factory=dict)

    # wechat: the subscription template, the keyword the body goes into, the page it opens.
    template_id: str = ""
    template_field: str = "thing1"
    page: str | None = None


@cache
def _client(service: str) -> Any:
    import boto3

    return boto3.client(service)


def _append_to_outbox(message: Message, sent_at: datetime, *, templated: bool = False) -> None:
    """One line per message; an SMS sent by a template provider also records the values its
    template was given (`params`), a one-time code hidden (domain/sms_templates.py)."""
    path = get_settings().outbox_path
    if not path:
        return
    entry: dict[str, Any] = {"channel": message.channel, "to": message.to, "kind": message.kind, "body": message.body, "sent_at": iso(sent_at)}
    if templated:
        entry["params"] = shown_values(dict(message.params))
    line = json.dumps(entry, ensure_ascii=False)
    with _outbox_lock:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as outbox:
            outbox.write(line + "\n")


def _push(message: Message) -> Delivery:
    """Push to every device of the member: sent when SNS accepted it for at least one."""
    from .push import publish

    published = publish(message.to.split(), message.subject or message.kind, message.body, message.kind)
    if not published.accepted:
        count("MessagesFailed")
        raise DeliveryFailed(message.kind, published.gone)
    return Delivery(published.gone)


# Called with (provider, provider message id, message) once a template provider accepted an SMS:
# usecases/sms_receipts.py keeps the id for the delivery receipt (notify cannot reach the store).
TemplateSmsListener = Callable[[str, str, Message], None]
_template_sms_listeners: list[TemplateSmsListener] = []


def on_template_sms_accepted(listener: TemplateSmsListener) -> None:
    if listener not in _template_sms_listeners:
        _template_sms_listeners.append(listener)


def _send_template_sms(message: Message) -> None:
    from .sms import SmsNotSent, send_template_sms

    try:
        message_id = send_template_sms(message.to, message.kind, dict(message.params))
    except SmsNotSent as exc:
        count("MessagesFailed")
        raise DeliveryFailed(message.kind, reason=exc.reason) from None
    if not message_id:
        return
    for listener in _template_sms_listeners:
        try:
            listener(get_settings().sms_provider, message_id, message)
        except Exception:  # the SMS is sent: losing its receipt must not fail the request
            logger.exception("SMS send not recorded for its receipt", extra={"kind": message.kind})


def _wechat(message: Message) -> Delivery:
    """A WeChat subscription message: sent only when WeChat answered errcode 0. The local fake of
    WeChat writes what it accepted to the outbox itself."""
    from ..domain.errors import HuiyuanError
    from ..domain.wechat import REFUSED_ERRCODE
    from .wechat import WechatError, send_subscribe_message

    try:
        send_subscribe_message(message.to, message.template_id, {message.template_field: {"value": message.body}}, message.page)
    except WechatError as exc:
        logger.warning("wechat message refused", extra={"kind": message.kind, "errcode": exc.errcode})
        count("MessagesFailed")
        raise DeliveryFailed(message.kind, refused=exc.errcode == REFUSED_ERRCODE) from exc
    except HuiyuanError as exc:  # WeChat unavailable or not configured
        logger.warning("wechat message not delivered", extra={"kind": message.kind, "error": exc.code})
        count("MessagesFailed")
        raise DeliveryFailed(message.kind) from exc
    count("MessagesSent")
    count("WechatMessagesSent")
    return Delivery()


def send(message: Message) -> Delivery:
    """Deliver `message`; raises DeliveryFailed if the provider refused it."""
    from botocore.exceptions import BotoCoreError, ClientError

    delivery = Delivery()
    if message.channel == "wechat":
        return _wechat(message)
    if message.channel == "push":
        delivery = _push(message)
    templated = message.channel == "sms" and get_settings().sms_provider != "sns"
    if templated:
        _send_template_sms(message)
    try:
        if message.channel == "sms" and get_settings().sms_provider == "sns":
            _client("sns").publish(
                PhoneNumber=message.to,
                Message=message.body,
                MessageAttributes={
                    "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
                },
            )
        elif message.channel == "email":
            _client("ses").send_email(
                Source=get_settings().email_sender,
                Destination={"ToAddresses": [message.to]},
                Message={
                    "Subject": {"Data": message.subject or message.kind, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": message.body, "Charset": "UTF-8"}},
                },
            )
    except (BotoCoreError, ClientError) as exc:
        logger.warning("message delivery failed", extra={"channel": message.channel, "kind": message.kind, "error": type(exc).__name__})
        count("MessagesFailed")
        raise DeliveryFailed(message.kind) from exc
    _append_to_outbox(message, utcnow(), templated=templated)
    count("MessagesSent")
    if message.channel == "sms":
        count("SmsSent")  # SMS cost the brand money per message: alarmed on (infra/monitoring.py)
    return delivery


def send_best_effort(message: Message) -> bool:
    """For messages whose loss must not fail the request (welcome, invite)."""
    try:
        send(message)
    except DeliveryFailed:
        return False
    return True
