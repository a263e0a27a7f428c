"""`make bench` (`python -m bench`): Propale's figures on this machine, printed as one table.

Figures, not pass/fail: HubSpot calls per deal and the send run's time against HubSpot's rate limit,
proposals rendered and sent per minute, payment → Slack latency under the real scheduler, the
customer page's latency and throughput under 50 concurrent clients, and each DAG file's parse time.
Progress goes to stderr, the table to stdout. `python -m bench --help` lists the options; for a
quick look: `make bench BENCH_ARGS='--deals 100 --only hubspot'`.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.customer_page import customer_page
from bench.dag_parse import dag_parse
from bench.payment_latency import payment_latency
from bench.rendering import rendering
from bench.report import Figure, figures_table, progress
from bench.send_run import endpoint_table, hubspot_calls, throughput
from bench.world import BenchWorld, HubSpotLimit

# In the order they run: those sharing the world's sandbox first, `propale run` (its own) last.
BENCHMARKS = ("hubspot", "throughput", "rendering", "page", "parse", "payment")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--deals", type=int, default=1000, help="flagged deals in the send run (default: %(default)s)")
    parser.add_argument(
        "--only",
        action="append",
        choices=BENCHMARKS,
        help="run only this benchmark (repeatable); page, rendering and throughput need the send run too",
    )
    parser.add_argument(
        "--hubspot-rate-limit",
        type=int,
        default=100,
        metavar="N",
        help="HubSpot calls per 10 s enforced during the send run: 100 for a Free or Starter account's "
        "private app, 190 for Professional or Enterprise (default: %(default)s)",
    )
    parser.add_argument(
        "--clients", type=int, default=50, help="concurrent clients on the customer page (default: %(default)s)"
    )
    parser.add_argument(
        "--page-seconds",
        type=float,
        default=20,
        help="duration of the page load, the PDF's is half (default: %(default)s)",
    )
    parser.add_argument("--payments", type=int, default=3, help="payment → Slack samples (default: %(default)s)")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep the sandbox, Airflow home, ledger and logs here (default: a temporary directory, removed)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # httpx and the clients log every request at INFO: the progress lines are the output.
    logging.basicConfig(level=logging.WARNING)
    selected = args.only or list(BENCHMARKS)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="propale-bench-"))
    world = BenchWorld(root / "world", args.deals, HubSpotLimit(args.hubspot_rate_limit, 10.0, 5))
    benchmarks: dict[str, Callable[[], list[Figure]]] = {
        "hubspot": lambda: hubspot_calls(world),
        "throughput": lambda: throughput(world),
        "rendering": lambda: rendering(world),
        "page": lambda: customer_page(world, args.clients, args.page_seconds),
        "parse": lambda: dag_parse(world),
        "payment": lambda: payment_latency(root / "run", args.payments),
    }
    figures: list[Figure] = []
    failed: list[str] = []
    try:
        for name in BENCHMARKS:
            if name not in selected:
                continue
            if name == "payment":
                world.stop()  # its sandbox would only take CPU from `propale run`
            try:
                figures += benchmarks[name]()
            except Exception as error:  # one benchmark failing leaves the others' figures
                progress(f"{name} FAILED: {type(error).__name__}: {error}")
                failed.append(name)
    finally:
        world.stop()
        if args.workdir is None and not failed:
            shutil.rmtree(root, ignore_errors=True)
        else:
            progress(f"State and logs kept in {root}")
    print(figures_table(figures))
    if "hubspot" in selected and "hubspot" not in failed:
        print()
        print(endpoint_table(world))
    if failed:
        print(f"\nFailed: {', '.join(failed)} (see the lines above on stderr)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
