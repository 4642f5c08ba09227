"""PynamoDB models of webhook endpoints and their dead letters (imported by models.py so their
discriminators are registered). Key formats: store/webhooks.py."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import BooleanAttribute, ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute

from .models import BaseItem


class WebhookEndpoint(BaseItem, discriminator="WebhookEndpoint"):
    """An operator's endpoint: where events of some types are POSTed. No secret is stored: the
    signing secret is derived from the stage's key and `secret_generation` (domain/webhooks.py)."""

    webhook_id = UnicodeAttribute()
    url = UnicodeAttribute()
    event_types = ListAttribute[str]()
    description = UnicodeAttribute(null=True)
    enabled = BooleanAttribute(default=True)
    disabled_reason = UnicodeAttribute(null=True)  # operator | failing
    secret_generation = NumberAttribute(default=1)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    last_success_at = UTCDateTimeAttribute(null=True)
    last_failure_at = UTCDateTimeAttribute(null=True)
    last_failure = UnicodeAttribute(null=True)  # "status 500", "timeout", "redirect 302"...
    consecutive_failures = NumberAttribute(default=0)
    failing_since = UTCDateTimeAttribute(null=True)  # first failure after the last success
    dead_letters = NumberAttribute(default=0)


class WebhookDeadLetter(BaseItem, discriminator="WebhookDeadLetter"):
    """A delivery that failed every attempt: the event as it would have been sent, until replayed."""

    webhook_id = UnicodeAttribute()
    event_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    event = MapAttribute[str, Any]()
    attempts = NumberAttribute()
    last_failure = UnicodeAttribute(null=True)
    dead_at = UTCDateTimeAttribute()
    replayed_at = UTCDateTimeAttribute(null=True)
