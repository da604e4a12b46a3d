"""Fixed-width text tables for the terminal report: the first column left-aligned, the others right-aligned."""

from __future__ import annotations

from collections.abc import Sequence


def aligned_lines(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    """One line per row (the header first), columns as wide as their widest cell, two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def line(row: Sequence[str]) -> str:
        first, *rest = zip(row, widths, strict=True)
        return indent + "  ".join([first[0].ljust(first[1]), *(cell.rjust(w) for cell, w in rest)])

    return [line(row) for row in rows]
