"""Bulk import of members from a brand's old system: the file's shape and the rules of a row. Pure.

A file is CSV (UTF-8, an optional BOM, a header line naming the columns, one row a line) or JSON
lines (one object a line, its keys the columns). Columns:

| column | required | what |
| --- | --- | --- |
| phone | yes | E.164, or national in the program's default region |
| name | no | the member's name |
| birthday | no | YYYY-MM-DD |
| tier | no | one of the program's tier ids (default: the base tier) |
| points | no | the opening points balance (an `imported` ledger entry) |
| points_expire_on | no | YYYY-MM-DD: when those points expire (default: as points earned today) |
| stored_value | no | the opening wallet balance, minor units of the program's first currency |
| external_id | no | the old system's id for the member |
| sms_marketing | no | consent to marketing by SMS as the old system recorded it: true/false (yes/no, 1/0) |
| email_marketing | no | the same for marketing by email (an empty cell records nothing) |
| consented_at | no | when those were recorded: ISO time with offset, or a date (its start, program zone) |

`consented_at` defaults to the import's time and is never in the future.
A consent the row gives is the member's from the start, recorded as the member's own are (their
`consent_records`: given or not, when, and the source `import <import id>`), so a campaign may
reach the member by that channel; a member who signs up or changes it later overrides it.

A row is one line: a field holding a line break is not supported (the file is split into parts
by lines, so that parts can be read with ranged GETs and never loaded whole).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .points import add_months

COLUMNS = (
    "phone",
    "name",
    "birthday",
    "tier",
    "points",
    "points_expire_on",
    "stored_value",
    "external_id",
    "sms_marketing",
    "email_marketing",
    "consented_at",
)
CONSENT_COLUMNS = ("sms_marketing", "email_marketing")
REQUIRED = ("phone",)
FORMATS = ("csv", "jsonl")

# Statuses of an import: waiting for its file (a file the start refuses leaves it waiting for a
# corrected one), importing its parts, done.
WAITING_UPLOAD = "waiting_upload"
RUNNING = "running"
DONE = "done"

# Rows one part (one queue unit) imports; parts run one after the other (each queues the next),
# so the first row with a phone is always the one that wins, and the rows of one part in parallel.
PART_ROWS = 1000
# A line longer than this is a failed row (read past, never held whole).
MAX_LINE_BYTES = 4096
MAX_OPENING_POINTS = 100_000_000
MAX_OPENING_STORED_VALUE = 10**10  # minor units: 100,000,000.00
MAX_EXTERNAL_ID = 64


def consent_source(import_id: str) -> str:
    """How an imported consent's record names where it came from."""
    return f"import {import_id}"


class BadHeader(ValueError):
    """The file's first line is not a header this importer can read: nothing is imported."""


def check_header(columns: list[str]) -> tuple[str, ...]:
    """The columns of a CSV header, as named; raises BadHeader for an unknown, repeated or
    missing column (the reason names them)."""
    names = [c.strip().lower() for c in columns]
    unknown = [c for c in names if c not in COLUMNS]
    if unknown:
        raise BadHeader(f"unknown column(s) {', '.join(repr(c) for c in unknown[:5])}; the columns are {', '.join(COLUMNS)}")
    repeated = sorted({c for c in names if names.count(c) > 1})
    if repeated:
        raise BadHeader(f"column(s) named twice: {', '.join(repeated)}")
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise BadHeader(f"missing column(s): {', '.join(missing)}")
    return tuple(names)


def check_size(size: int, maximum: int) -> None:
    if size <= 0:
        raise BadHeader("the file is empty")
    if size > maximum:
        raise BadHeader(f"the file is {size} bytes; the most an import takes is {maximum} bytes: split it into several imports")


def lot_month_for_expiry(expires_on: date, validity_months: int) -> str:
    """The month whose lot expires on the first day of a month on or after `expires_on`: imported
    points go into it, so they never expire before the day the old system promised (a lot
    expires on the first day of a month, `points.lot_expires_on`). A lot month may lie in the past."""
    year, month = expires_on.year, expires_on.month
    if expires_on.day != 1:
        year, month = add_months(year, month, 1)
    year, month = add_months(year, month, -(1 + validity_months))
    return f"{year:04d}-{month:02d}"


@dataclass(frozen=True)
class Progress:
    """An import's counts: rows read, imported, skipped as already members, failed."""

    read: int = 0
    imported: int = 0
    skipped: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"rows_read": self.read, "imported": self.imported, "skipped_existing": self.skipped, "failed": self.failed}
