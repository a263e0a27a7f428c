"""Parse time of each DAG file, as Airflow's DAG processor parses it.

The DAG processor first imports the Airflow modules a file imports (`parsing_pre_import_modules`,
on by default), then parses the file in a forked child with a DagBag, a new child each time. Each
file is measured the same way here, in a process of its own: the pre-imports, then a few forked
parses, each timed by the DagBag itself; the median is reported. (`airflow dags report` parses every file in one
process, so whichever file comes first is charged with importing `airflow.sdk`.)
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

from bench.report import Figure, progress
from bench.world import BenchWorld

DAGS_DIR = Path(__file__).resolve().parents[1] / "dags"
PARSES = 5


def dag_parse(world: BenchWorld) -> list[Figure]:
    figures = []
    for path in sorted(DAGS_DIR.glob("*.py")):
        progress(f"Parsing dags/{path.name} {PARSES} times, as the DAG processor does")
        result = subprocess.run(
            [sys.executable, "-m", "bench.dag_parse", str(path)],
            env=world.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"parsing {path.name} failed ({result.returncode}):\n{result.stderr[-2000:]}")
        measured = json.loads(result.stdout.strip().splitlines()[-1])
        figures.append(
            Figure(
                f"Parse time of dags/{path.name}",
                f"{statistics.median(measured['durations_s']) * 1000:.1f} ms",
                note=(
                    f"median of {PARSES} forked parses after the pre-imports, as the DAG processor does; "
                    f"{measured['tasks']} tasks; re-parsed every 30 s, given up after 30 s (dagbag_import_timeout)"
                ),
            )
        )
    return figures


def _measure_in_this_process(path: Path) -> dict:
    """What the DAG processor does with one file: pre-import its Airflow modules, then parse it in
    a forked child (a fresh one each time), which reports the DagBag's timing through a pipe."""
    import importlib
    import os
    import time

    from airflow.dag_processing.dagbag import BundleDagBag
    from airflow.utils.file import iter_airflow_imports

    started = time.perf_counter()
    for module in iter_airflow_imports(str(path)):
        importlib.import_module(module)
    pre_import_s = time.perf_counter() - started
    durations, tasks = [], 0
    for _ in range(PARSES):
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:
            os.close(read_end)
            bag = BundleDagBag(dag_folder=str(path), bundle_path=path.parent, bundle_name="dags-folder")
            stats = [] if bag.import_errors else bag.dagbag_stats
            report = {"errors": {str(k): v for k, v in bag.import_errors.items()}}
            if stats:
                report |= {"duration_s": stats[0].duration.total_seconds(), "tasks": stats[0].task_num}
            os.write(write_end, json.dumps(report).encode())
            os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            report = json.loads(pipe.read() or "{}")
        os.waitpid(child, 0)
        if report.get("errors") or "duration_s" not in report:
            raise RuntimeError(f"{path.name} does not parse: {report}")
        durations.append(report["duration_s"])
        tasks = report["tasks"]
    return {"pre_import_s": pre_import_s, "durations_s": durations, "tasks": tasks}


if __name__ == "__main__":
    print(json.dumps(_measure_in_this_process(Path(sys.argv[1]))))
