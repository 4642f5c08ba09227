"""The member web app's first load (`make bench`): the JavaScript a member's phone downloads to show
Home when it opens the app, gzipped. Budget: 200 KB (issue 13; docs/performance.md).

Read from the build's manifest (`web/dist/.vite/manifest.json`, written by `make web`): the entry
chunk and the chunks it imports statically, plus the Home page's chunk and its static imports,
each file counted once. Chunks loaded only later (other pages, the QR code library) are not.
The browser test `tests/e2e/test_web_pages.py` checks the same budget on what Chromium actually
downloads.

    .venv/bin/python -m tests.bench.webapp
"""

from __future__ import annotations

import gzip
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WEB_DIST = ROOT / "web" / "dist"
BUDGET_BYTES = 200 * 1024
HOME = "src/pages/Home.vue"
KB = 1024


@dataclass
class FirstLoad:
    files: list[tuple[str, int, int]] = field(default_factory=list)  # (file, bytes, gzipped bytes)
    css_gzipped: int = 0
    error: str | None = None

    @property
    def gzipped(self) -> int:
        return sum(gz for _name, _raw, gz in self.files)

    @property
    def raw(self) -> int:
        return sum(raw for _name, raw, _gz in self.files)


def gzipped_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def measure_first_load(dist: Path = WEB_DIST, page: str = HOME) -> FirstLoad:
    manifest_path = dist / ".vite" / "manifest.json"
    if not manifest_path.is_file():
        return FirstLoad(
            error=f"{manifest_path.relative_to(ROOT) if manifest_path.is_relative_to(ROOT) else manifest_path} not found: `make web` builds it"
        )
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    entries = [key for key, chunk in manifest.items() if chunk.get("isEntry")]
    if page not in manifest:
        return FirstLoad(error=f"{page} is not a chunk of the build")
    seen: list[str] = []

    def visit(key: str) -> None:
        if key in seen:
            return
        seen.append(key)
        for imported in manifest[key].get("imports", []):
            visit(imported)

    for key in [*entries, page]:
        visit(key)
    result = FirstLoad()
    css: set[str] = set()
    for key in seen:
        chunk = manifest[key]
        data = (dist / chunk["file"]).read_bytes()
        result.files.append((chunk["file"], len(data), gzipped_size(data)))
        css.update(chunk.get("css", []))
    result.css_gzipped = sum(gzipped_size((dist / name).read_bytes()) for name in sorted(css))
    return result


CHECK = "Member web app: JavaScript to first show Home (gzip)"


def row(result: FirstLoad) -> tuple[str, str, str, str, str, str, str, str]:
    budget = f"<= {BUDGET_BYTES // KB} KB"
    if result.error:
        return (CHECK, budget, "not measured", "ERROR", result.error, "", "", "")
    verdict = "PASS" if result.gzipped <= BUDGET_BYTES else "OVER"
    largest = sorted(result.files, key=lambda f: -f[2])
    files = ", ".join(f"{Path(name).name} {gz / KB:.1f}" for name, _raw, gz in largest)
    detail = (
        f"{len(result.files)} files, {result.raw / KB:.0f} KB minified, {result.gzipped / KB:.1f} KB gzipped (level 9); by file (KB gzipped): "
        f"{files}; CSS {result.css_gzipped / KB:.1f} KB gzipped, not counted; from web/dist/.vite/manifest.json (make web)"
    )
    return (CHECK, budget, f"{result.gzipped / KB:.1f} KB", verdict, detail, "", "", "")


def main() -> int:
    result = measure_first_load()
    print(" | ".join(row(result)[:5]))
    return 1 if result.error or result.gzipped > BUDGET_BYTES else 0


if __name__ == "__main__":
    sys.exit(main())
