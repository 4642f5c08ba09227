"""Scheduled jobs: expire-points, birthday-bonus, reengagement, tier-review,
send-deferred, erase-closed, release-pending-points, membership-plans, reconcile.

- `specs.py`: every job as a spec: its schedule, the units of work it plans (one per
  index shard and day; reconcile: one per Scan segment), and what a unit does (one use case).
- `runner.py`: runs a spec: the AS_OF guard, the fan-out through SQS, the run's record.
- `member_units.py`: the units that act on the members of an index bucket, one by one.
- `handlers.py`: the Lambda handlers: the scheduled functions and the queue worker.
- `__main__.py`: `make job` against the local stack.
"""
