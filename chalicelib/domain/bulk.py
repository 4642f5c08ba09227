"""Bulk grants and exports, the rules: what a grant file's header and rows must be, and how a cell
goes into an exported CSV file so that a spreadsheet never runs it as a formula.

Pure: the use cases (usecases/operations/bulk_grants.py, bulk_exports.py) read and write; this
module only judges text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .phones import InvalidPhone, normalise_phone

GRANT_KINDS = ("points", "coupon")
# The columns a grant file may have (any order); one of `member_id` / `phone` names the member.
GRANT_COLUMNS = frozenset({"member_id", "phone", "points", "coupon", "row_id"})
MAX_GRANT_POINTS = 1_000_000
# Rows one `rows` unit grants (each one transaction): ~2 s of DynamoDB, well inside the worker's timeout.
GRANT_PART_ROWS = 500
MAX_GRANT_ROWS = 1_000_000
MAX_GRANT_FILE_BYTES = 50 * 1024 * 1024
_ROW_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}")
_MEMBER_ID = re.compile(r"mbr_[0-9a-f]{1,64}")
_REWARD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")


class BadHeader(ValueError):
    """The file's first line is not a grant file's header (the message says why)."""


@dataclass(frozen=True)
class GrantRow:
    """One row of a grant file, judged: who (a member id, or a phone in E.164) and what."""

    number: int  # the row's line in the file, header excluded: 1 is the first row
    key: str  # what makes the row once-only within its batch: its row_id, else its number
    member_id: str | None
    phone: str | None
    points: int | None
    coupon: str | None


@dataclass(frozen=True)
class RowProblem:
    number: int
    reason: str


def grant_header(columns: Iterable[str], kind: str) -> list[str]:
    """The header's columns as they are (stripped of a BOM and spaces), if they make a grant file
    of `kind`; BadHeader otherwise. Unknown or repeated columns are refused: a misspelt `pionts`
    must not become a file whose rows all fall back to the default amount."""
    names = [c.strip().lstrip("\ufeff").strip().lower() for c in columns]
    if not names or names == [""]:
        raise BadHeader("the file is empty: its first line must be the header (member_id or phone, then points or coupon)")
    unknown = sorted({n for n in names if n not in GRANT_COLUMNS})
    if unknown:
        raise BadHeader(f"unknown columns {', '.join(repr(n) for n in unknown)}: allowed are {', '.join(sorted(GRANT_COLUMNS))}")
    if len(set(names)) != len(names):
        raise BadHeader("a column appears twice")
    if ("member_id" in names) == ("phone" in names):
        raise BadHeader("exactly one of member_id or phone must name the member")
    other = "coupon" if kind == "points" else "points"
    if other in names:
        raise BadHeader(f"a {kind} grant has no {other} column")
    return names


def judge_grant_row(
    number: int, cells: dict[str, str], *, kind: str, default_points: int | None, default_coupon: str | None, region: str
) -> GrantRow | RowProblem:
    """A row as the batch will grant it, or why it cannot be (never the row's content: a reason
    names the column, not the phone or id it found)."""
    row_id = (cells.get("row_id") or "").strip()
    if row_id and not _ROW_ID.fullmatch(row_id):
        return RowProblem(number, "row_id: 1 to 64 letters, digits, . _ : -")
    member_id = phone = None
    if "member_id" in cells:
        member_id = (cells.get("member_id") or "").strip()
        if not _MEMBER_ID.fullmatch(member_id):
            return RowProblem(number, "member_id: not a member id")
    else:
        try:
            phone = normalise_phone((cells.get("phone") or "").strip(), region)
        except InvalidPhone:
            return RowProblem(number, "phone: not a valid phone number")
    points = coupon = None
    if kind == "points":
        raw = (cells.get("points") or "").strip()
        if not raw:
            if default_points is None:
                return RowProblem(number, "points: missing, and the batch has no default")
            points = default_points
        elif not re.fullmatch(r"[0-9]{1,7}", raw) or not 1 <= int(raw) <= MAX_GRANT_POINTS:
            return RowProblem(number, f"points: a whole number from 1 to {MAX_GRANT_POINTS}")
        else:
            points = int(raw)
    else:
        coupon = (cells.get("coupon") or "").strip() or default_coupon
        if not coupon:
            return RowProblem(number, "coupon: missing, and the batch has no default")
        if not _REWARD_ID.fullmatch(coupon):
            return RowProblem(number, "coupon: not a reward id")
    return GrantRow(number, f"id:{row_id}" if row_id else f"n:{number}", member_id, phone, points, coupon)


# Characters a spreadsheet reads as the start of a formula (OWASP "CSV injection"), and the
# control characters that some read as such too.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """The cell's text, with a leading apostrophe when it would start a formula. Numbers stay
    numbers (a negative number is data, not a formula)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text
