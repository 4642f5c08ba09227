"""`make demo [MEMBERS=300] [SEED=1]`: a café chain's few months, made in the
running local stack (`make run`) through its HTTP API.

    python -m devtools.demo [--members 300] [--seed 1] [--workers 4] [--state-dir .local] [--json]

Three stores, a few hundred members across the tiers (signed up with the code
texted to them, read from the local outbox), purchases with store ids and
their times, refunds, redemptions of the chain's rewards (created through the
operator API) and coupons used at the till, wallet top-ups and payments,
feedback and answers, lapsed members, a frozen one, and pending members
enrolled by buying with an unknown phone. Deterministic in the seed;
idempotent: a second run makes nothing twice. See docs/local-stage.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..stack import DEFAULT_STATE_DIR, NoLocalStack, find_local_stack
from .http import Api, ApiError, Outbox
from .run import Demo, NotTheLocalStage
from .summary import as_text, summarise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=300, help="how many members (default 300)")
    parser.add_argument("--seed", type=int, default=1, help="the same seed makes the same data set (default 1)")
    parser.add_argument("--workers", type=int, default=4, help="requests in flight at once (default 4)")
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="the running stack's state directory (default .local)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    if args.members < 1 or args.workers < 1:
        parser.error("--members and --workers must be at least 1")
    try:
        stack = find_local_stack(args.state_dir)
    except NoLocalStack as exc:
        print(exc, file=sys.stderr)
        return 2

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    progress(f"make demo: {args.members} members, seed {args.seed}, against the local stack at {stack.api}")
    demo = Demo(Api(stack.api), Outbox(stack.outbox), workers=args.workers, progress=progress)
    try:
        outcome = demo.run(args.seed, args.members)
    except (NotTheLocalStage, ApiError) as exc:
        print(f"make demo: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("make demo: interrupted; what it made is kept, and `make demo` again makes the rest (nothing twice)", file=sys.stderr)
        return 130
    summary = summarise(outcome, stack.api)
    print(json.dumps(summary, ensure_ascii=False, indent=2) if args.json else as_text(summary, str(stack.state_dir)))
    return 1 if summary["members"]["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
