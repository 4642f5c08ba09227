"""The analytics refresh in progress, or the last one: one item (`ANALYTICS` / `REFRESH`, keys.py).

A refresh is claimed by a conditional put: it succeeds only while no other refresh is running (or
the running one has gone quiet for longer than a refresh can take: a crashed worker must not
block refreshes for ever). The export and the outcome are written to the same item, each guarded
by the refresh id, so a late worker of an older refresh never overwrites a newer one.
"""

from __future__ import annotations

from datetime import datetime

from . import keys
from .models_admin import AnalyticsRefresh
from .unit_of_work import UnitOfWork, error_code


def current() -> AnalyticsRefresh | None:
    try:
        return AnalyticsRefresh.get(keys.ANALYTICS_PK, keys.REFRESH_SK, consistent_read=True)
    except AnalyticsRefresh.DoesNotExist:
        return None


def claim(uow: UnitOfWork, refresh_id: str, started_by: str, now: datetime, *, stale_before: datetime) -> AnalyticsRefresh:
    """Put the new refresh in `uow` (part `refresh`), if none runs (or the one running is stale)."""
    item = AnalyticsRefresh(keys.ANALYTICS_PK, keys.REFRESH_SK, refresh_id=refresh_id, status="running", started_at=now, started_by=started_by)
    free = AnalyticsRefresh.pk.does_not_exist() | (AnalyticsRefresh.status != "running") | (AnalyticsRefresh.started_at < stale_before)
    uow.put("refresh", item, free)
    return item


def export_started(refresh: AnalyticsRefresh, export_id: str, export_arn: str, export_time: datetime) -> None:
    refresh.update(
        actions=[
            AnalyticsRefresh.export_id.set(export_id),
            AnalyticsRefresh.export_arn.set(export_arn),
            AnalyticsRefresh.export_time.set(export_time),
        ],
        condition=AnalyticsRefresh.refresh_id == refresh.refresh_id,
    )


def finish(refresh_id: str, status: str, now: datetime, failure: str | None = None) -> bool:
    """Mark the refresh done; False if another refresh has claimed the item since."""
    from pynamodb.exceptions import UpdateError
    from pynamodb.expressions.update import Action

    item = AnalyticsRefresh(keys.ANALYTICS_PK, keys.REFRESH_SK)
    actions: list[Action] = [AnalyticsRefresh.status.set(status), AnalyticsRefresh.finished_at.set(now)]
    if failure is not None:
        actions.append(AnalyticsRefresh.failure.set(failure[:500]))
    try:
        item.update(actions=actions, condition=(AnalyticsRefresh.refresh_id == refresh_id) & (AnalyticsRefresh.status == "running"))
    except UpdateError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True
