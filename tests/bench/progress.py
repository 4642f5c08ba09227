"""The benches' progress lines on stderr: `[bench   12.3s] message`, the seconds counted from
when the bench asked for its printer."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


def stderr_progress(tag: str) -> Callable[[str], None]:
    """A printer of `[<tag> <seconds>s] <message>` lines on stderr, flushed at once."""
    started = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{tag} {time.perf_counter() - started:5.1f}s] {message}", file=sys.stderr, flush=True)

    return progress
