"""`make mutation`'s verdict: the share of mutants the unit tests kill in each domain module, and
every surviving mutant either explained as equivalent (below, with the reason) or named as a gap.

Reads the results mutmut left in mutants/ (run from the repository root, in .venv-mutation: it
imports mutmut to show each survivor's change). Exits 1 when a module is under the goal or a
survivor is not explained; docs/quality.md keeps the figures and the reasons for people.

An equivalent mutant is named by the function it is in and the line it changes (before -> after),
not by mutmut's number, which moves whenever the function changes.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

GOAL = 0.90
RESULTS = Path("mutants/chalicelib/domain")
KILLED_CODES = {1, 3}  # a test failed (3: pytest's internal error, which mutmut counts as a kill)
TIMEOUT_CODES = {24, -24, 36, 152, 255}  # the mutant never finished: the tests noticed
SURVIVED_CODE = 0
NO_TESTS_CODES = {5, 33}
NOT_CHECKED = None  # not run (`make mutation MODULE=...` runs one module)


@dataclass(frozen=True)
class Equivalent:
    function: str  # module.function or module.Class.method
    before: str  # the line(s) the mutant removes, stripped
    after: str  # the line(s) it puts instead ("" when it only removes)
    reason: str


_TITLE_IS_THE_MESSAGE = "the message is the error's title, which is the detail an error given None answers with (errors.HuiyuanError)"

EQUIVALENT = (
    *(
        Equivalent(f"membership.{function}", 'raise MemberClosed("The membership is closed")', "raise MemberClosed(None)", _TITLE_IS_THE_MESSAGE)
        for function in ("require_may_earn", "require_may_spend", "require_may_move_money")
    ),
    Equivalent("membership.closing", 'raise AlreadyClosed("The membership is already closed")', "raise AlreadyClosed(None)", _TITLE_IS_THE_MESSAGE),
    Equivalent(
        "membership.restored",
        "if not restorable(status, erased, erase_at, now):",
        "if not restorable(status, None, erase_at, now):",
        "an erased membership was refused two lines above, so `erased` is False here and None reads the same",
    ),
    Equivalent(
        "messaging.in_quiet_hours",
        "if start < end:",
        "if start <= end:",
        "start == end returned just above",
    ),
    Equivalent(
        "messaging.next_allowed_time",
        "return end if end > local else end + timedelta(days=1)",
        "return end if end >= local else end + timedelta(days=1)",
        "end == local is the first moment after the quiet hours, which returned at the top: it never gets here",
    ),
    Equivalent(
        "points.lot_expires_on",
        "year, mon = int(month[:4]), int(month[5:7])",
        "year, mon = int(month[:4]), int(month[5:8])",
        'a month key is always "YYYY-MM" (points.month_key): [5:8] is the same two digits',
    ),
    Equivalent(
        "points.purchase_points",
        "if amount_minor <= 0:",
        "if amount_minor < 0:",
        "an amount of 0 then earns floor(0 x rate x multiplier), which is the same 0",
    ),
    Equivalent(
        "points.proportional_reversal",
        "if refunded_total >= amount:",
        "if refunded_total > amount:",
        "when the whole amount is refunded, floor(points x amount / amount) is the same points (an order's amount is never 0)",
    ),
    Equivalent(
        "points.PointsState.lots_oldest_first",
        "return sorted((m, p) for m, p in self.lots.items() if p > 0)",
        "return sorted((m, p) for m, p in self.lots.items() if p >= 0)",
        "no lot is ever 0: earn, spend and claw_back delete an emptied lot (the invariant the property test checks)",
    ),
    Equivalent(
        "points._take_from_lots",
        "return remaining, points - left",
        "return remaining, points + left",
        "both callers (spend, claw_back) discard the second value",
    ),
    Equivalent(
        "reconciliation.Holdings.add_ledger_entry",
        "self.lowest_claw_back = min(balance_after, self.lowest_claw_back if self.lowest_claw_back is not None else 0)",
        "self.lowest_claw_back = min(balance_after, self.lowest_claw_back if self.lowest_claw_back is not None else 1)",
        "only reached with balance_after < 0, so min(balance_after, 0) and min(balance_after, 1) are both balance_after",
    ),
    Equivalent(
        "reconciliation.Holdings.add_ledger_entry",
        "self.lowest_other_debit = min(balance_after, self.lowest_other_debit if self.lowest_other_debit is not None else 0)",
        "self.lowest_other_debit = min(balance_after, self.lowest_other_debit if self.lowest_other_debit is not None else 1)",
        "only reached with balance_after < 0, so min(balance_after, 0) and min(balance_after, 1) are both balance_after",
    ),
    Equivalent(
        "reconciliation.drift",
        "balance = holdings.balance if holdings.has_member else 0",
        "balance = holdings.balance if (holdings.has_member) or True else 0",
        "the balance is only ever set with the member item (store/books.add_to_books); without one it is already 0",
    ),
    Equivalent(
        "reconciliation.drift",
        "wallet_balance = holdings.wallet_balance if holdings.has_wallet else 0",
        "wallet_balance = holdings.wallet_balance if (holdings.has_wallet) or True else 0",
        "the wallet balance is only ever set with the wallet item (store/books.add_to_books); without one it is already 0",
    ),
    *(
        Equivalent(
            "tiers.reviewed_tier",
            "eligible = max((i for i, t in enumerate(rules.tiers) if t.threshold <= earned_in_window), default=0)",
            after,
            "never empty: the rules refuse a first tier above threshold 0, and points earned are never negative",
        )
        for after in (
            "eligible = max((i for i, t in enumerate(rules.tiers) if t.threshold <= earned_in_window), default=None)",
            "eligible = max((i for i, t in enumerate(rules.tiers) if t.threshold <= earned_in_window), )",
            "eligible = max((i for i, t in enumerate(rules.tiers) if t.threshold <= earned_in_window), default=1)",
        )
    ),
    Equivalent(
        "tokens.issue_access_token",
        "return jwt.encode(claims, secret, algorithm=ALGORITHM)",
        "return jwt.encode(claims, secret, )",
        "HS256 is PyJWT's default algorithm (the token's header is checked in test_identity.py)",
    ),
)


def function_of(mutant: str) -> str:
    """module.function (or module.Class.method) of a mutant: chalicelib.domain.points.x_spend__mutmut_6 -> points.spend."""
    module, _, mangled = mutant.removeprefix("chalicelib.domain.").rpartition(".")
    name = mangled.rpartition("__mutmut_")[0].removeprefix("x_").removeprefix("x")
    return f"{module}.{name.strip('ǁ').replace('ǁ', '.')}"  # xǁHoldingsǁadd_ledger_entry -> Holdings.add_ledger_entry


def change_of(mutant: str, source: Path) -> tuple[str, str]:
    """The lines the mutant removes and the lines it puts instead, stripped."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    lines = get_diff_for_mutant(mutant, path=str(source)).splitlines()[2:]
    removed = "\n".join(line[1:].strip() for line in lines if line.startswith("-"))
    added = "\n".join(line[1:].strip() for line in lines if line.startswith("+"))
    return removed, added


def verdict(code: int | None) -> str:
    if code is NOT_CHECKED:
        return "not checked"
    if code == SURVIVED_CODE:
        return "survived"
    return "no test covers it" if code in NO_TESTS_CODES else f"exit code {code}"


def row(name: str, counts: Counter[str]) -> str:
    score = counts["killed"] / counts["mutants"]
    return f"{name:<16}{counts['mutants']:>8}{counts['killed']:>8}{counts['equivalent']:>11}{counts['left']:>6}{score:>8.1%}"


def main() -> int:
    explained = {(e.function, e.before, e.after): e for e in EQUIVALENT}
    used: set[Equivalent] = set()
    gaps: list[str] = []
    below: list[str] = []
    ran: set[str] = set()
    totals: Counter[str] = Counter()
    lines = [f"{'module':<16}{'mutants':>8}{'killed':>8}{'equivalent':>11}{'left':>6}{'score':>8}"]
    for meta in sorted(RESULTS.glob("*.py.meta")):
        module = meta.name.removesuffix(".py.meta")
        results: dict[str, int | None] = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        if all(code is NOT_CHECKED for code in results.values()):
            continue  # not part of this run (or a module without functions)
        ran.add(module)
        counts: Counter[str] = Counter(mutants=len(results))
        for mutant, code in sorted(results.items()):
            if code in KILLED_CODES or code in TIMEOUT_CODES:
                counts["killed"] += 1
                continue
            removed, added = change_of(mutant, Path("chalicelib/domain") / f"{module}.py")
            equivalent = explained.get((function_of(mutant), removed, added)) if code == SURVIVED_CODE else None
            if equivalent is not None:
                counts["equivalent"] += 1
                used.add(equivalent)
            else:
                counts["left"] += 1
                gaps.append(f"  {mutant} ({verdict(code)}): {removed!r} -> {added!r}")
        totals.update(counts)
        lines.append(row(module, counts))
        if counts["killed"] / counts["mutants"] < GOAL:
            below.append(f"  {module}: {counts['killed'] / counts['mutants']:.1%}")
    if not ran:
        print("No mutation results in mutants/: run `make mutation` first.", file=sys.stderr)
        return 1
    print("\n".join([*lines, row("all", totals)]))
    print(f"\nkilled: a unit test failed (or timed out); equivalent: explained in {Path(__file__).name}; left: neither. Goal: {GOAL:.0%} killed.")
    stale = [e for e in EQUIVALENT if e not in used and e.function.split(".")[0] in ran]
    if stale:
        print("\nExplained as equivalent but not surviving in this run (killed now, or the code changed): update the list")
        print("\n".join(f"  {e.function}: {e.before!r} -> {e.after!r}" for e in stale))
    if gaps:
        print(f"\nMutants neither killed nor explained ({len(gaps)}): write a test, or explain why no test can tell them apart")
        print("\n".join(gaps))
    if below:
        print(f"\nUnder the goal of {GOAL:.0%} killed:")
        print("\n".join(below))
    return 1 if gaps or below else 0


if __name__ == "__main__":
    sys.exit(main())
