"""Scheduled jobs: expire-points, birthday-bonus, reengagement, tier-review,
send-deferred, erase-closed, reconcile. Each plans units of work (one per index shard
and day; reconcile: one per Scan segment), fans them out through SQS, and a queue
worker does them (`schedules.py`).
"""
