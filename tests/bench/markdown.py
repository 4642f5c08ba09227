"""The bench reports in Markdown tables (docs/performance.md), aligned so they read in a terminal too."""

from __future__ import annotations

from collections.abc import Sequence


def markdown_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    """An aligned Markdown table: readable in a terminal, valid in the docs (a `|` in a cell is written `/`)."""
    table = [header, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.replace("|", "/").ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(header), "| " + " | ".join("-" * w for w in widths) + " |", *(line(r) for r in rows)])
