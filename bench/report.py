"""What the benchmarks print: progress lines on stderr, and at the end one aligned table on stdout."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

_STARTED = time.monotonic()


@dataclass(frozen=True)
class Figure:
    """One row of the table. `missed` is True when the figure is on the wrong side of its goal."""

    measure: str
    figure: str
    goal: str = "–"
    note: str = ""
    missed: bool = False


def progress(text: str) -> None:
    """A line on stderr, with the time since the benchmarks started."""
    elapsed = time.monotonic() - _STARTED
    print(f"[bench {elapsed // 60:02.0f}:{elapsed % 60:04.1f}] {text}", file=sys.stderr, flush=True)


def table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    """Plain-text columns, left-aligned, separated by ` | `; notes may be long, so the last column is not padded."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers) - 1)]

    def line(cells: Sequence[str]) -> str:
        padded = [str(cell).ljust(width) for cell, width in zip(cells, widths, strict=False)]
        return " | ".join([*padded, str(cells[-1])]).rstrip()

    rule = "-+-".join("-" * width for width in widths) + "-+-" + "-" * len(headers[-1])
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def figures_table(figures: Sequence[Figure]) -> str:
    rows = [(f.measure, f.figure, f"{f.goal} (missed)" if f.missed else f.goal, f.note) for f in figures]
    return table(rows, ("measure", "figure", "goal", "note"))


def seconds(value: float) -> str:
    if value >= 600:
        return f"{value:.0f} s ({value / 60:.0f} min)"
    return f"{value:.0f} s" if value >= 100 else f"{value:.1f} s"


def milliseconds(value_s: float) -> str:
    return f"{value_s * 1000:.0f} ms"


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value below which `fraction` of `values` fall (inclusive method, as load tools report)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]
