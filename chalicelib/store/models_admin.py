"""PynamoDB models for operator work (imported by models.py so their discriminators are registered).

Key formats are in `keys.py`. Audit entries are written in the same
transaction as the change they record wherever that change is a DynamoDB
write, twice: under the member (when there is one) and under the day.
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute

from .models import BaseItem, Recorded


class AuditEntry(BaseItem, discriminator="AuditEntry"):
    """Immutable: who (the IAM principal) did what, to what, before -> after, when.

    Two copies of every entry: `MEMBER#<id>` / `AUDIT#<id>` (for actions on a
    member) and `AUDIT#<day>` / `AUDIT#<id>`; ids run backwards in time so both
    listings are newest first. `before` and `after` are JSON texts of the
    fields the action changed, never personal data.
    """

    audit_id = UnicodeAttribute()
    actor = UnicodeAttribute()
    action = UnicodeAttribute()
    target_type = UnicodeAttribute()
    target_id = UnicodeAttribute()
    member_id = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    ref = UnicodeAttribute(null=True)
    before = UnicodeAttribute(null=True)
    after = UnicodeAttribute(null=True)
    day = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()


class Adjustment(Recorded, discriminator="Adjustment"):
    """A manual points adjustment, put (if absent) in the transaction that applies it:
    the same `adjustment_id` never moves points twice."""

    adjustment_id = UnicodeAttribute()
    member_id = UnicodeAttribute()


class ApiKeyRecord(BaseItem, discriminator="ApiKeyRecord"):
    """The registry entry of an issued merchant key: for listing and revoking by id.

    Holds the key's SHA-256 (the `ApiKey` item's key), never the key itself.
    """

    key_id = UnicodeAttribute()
    store_id = UnicodeAttribute()
    scope = UnicodeAttribute(default="store")  # store | brand (ApiKey.scope)
    digest = UnicodeAttribute()
    status = UnicodeAttribute(default="active")
    created_at = UTCDateTimeAttribute()
    revoked_at = UTCDateTimeAttribute(null=True)
    issued_by = UnicodeAttribute(null=True)


class AnalyticsRefresh(BaseItem, discriminator="AnalyticsRefresh"):
    """`ANALYTICS` / `REFRESH`: the analytics refresh running, or the last one (store/analytics_refreshes.py).
    One item, so at most one refresh runs at a time (a conditional put claims it)."""

    refresh_id = UnicodeAttribute()
    status = UnicodeAttribute()  # running | completed | failed
    started_at = UTCDateTimeAttribute()
    started_by = UnicodeAttribute()  # the operator, or "schedule"
    export_id = UnicodeAttribute(null=True)
    export_arn = UnicodeAttribute(null=True)
    export_time = UTCDateTimeAttribute(null=True)
    finished_at = UTCDateTimeAttribute(null=True)
    failure = UnicodeAttribute(null=True)
