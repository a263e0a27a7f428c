"""Rendering alone, in this process: the proposal's HTML and its WeasyPrint PDF, for proposals the
send run issued (their frozen snapshots, read from the ledger), to show where a proposal's time goes."""

from __future__ import annotations

import logging
import statistics
import time

from bench.report import Figure, milliseconds, progress
from bench.world import BenchWorld
from propale.ledger import Ledger
from propale.rendering import render_proposal_html, render_proposal_pdf


def font_subsetter() -> str:
    """Which library WeasyPrint subsets the PDF's fonts with: HarfBuzz when libharfbuzz-subset is
    installed (as in the Docker image), else fontTools, several times slower."""
    from weasyprint.text.ffi import harfbuzz, harfbuzz_subset

    if harfbuzz_subset is not None and harfbuzz.hb_version_atleast(4, 1, 0):
        return "HarfBuzz"
    return "fontTools (libharfbuzz-subset0 missing)"


def rendering(world: BenchWorld, count: int = 20) -> list[Figure]:
    world.send_run()
    with Ledger(world.workspace.ledger_url) as ledger:
        snapshots = [p.snapshot for i in range(1, count + 1) if (p := ledger.get_proposal(i)) and p.snapshot]
    if not snapshots:
        raise RuntimeError("the send run issued no proposal to render")
    progress(f"Rendering {len(snapshots)} proposals in this process (HTML, then PDF)")
    # Without libharfbuzz-subset WeasyPrint warns at every PDF; the figure's note says it once.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    started = time.perf_counter()
    render_proposal_pdf(snapshots[0])  # the first one also loads WeasyPrint's fonts and CSS machinery
    cold_s = time.perf_counter() - started
    html_s, pdf_s = [], []
    for snapshot in snapshots:
        started = time.perf_counter()
        render_proposal_html(snapshot)
        html_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        render_proposal_pdf(snapshot)
        pdf_s.append(time.perf_counter() - started)
    pdf_median = statistics.median(pdf_s)
    return [
        Figure(
            "Proposal PDF rendering (WeasyPrint), median",
            milliseconds(pdf_median),
            note=(
                f"{len(pdf_s)} proposals, max {milliseconds(max(pdf_s))}, first in a process {milliseconds(cold_s)}; "
                f"fonts subset by {font_subsetter()}; one process renders ≤ {60 / pdf_median:.0f}/min"
            ),
        ),
        Figure(
            "Proposal HTML rendering (Jinja2), median",
            milliseconds(statistics.median(html_s)),
            note="templates compiled once per process",
        ),
    ]
