"""Views benchmark (not a test): the compiled row expressions of code versions, evaluated side by side in one JVM.

Run: .venv/bin/python bench/views_expressions_ab.py --zone ZONE [--rounds 5] NAME=TREE [NAME=TREE ...]

TREE is a checkout of this repository (e.g. a ``git worktree`` of another revision); its runner writes the select
expression of each starter view (``views/`` of this checkout) in a subprocess with ``PYTHONPATH=TREE``. ZONE is a research zone,
typically the replicated one that ``bench/views_bench.py --keep`` leaves. Each round evaluates every version's
views over the same cached source tables with Spark's ``noop`` sink (no Delta write, no planning of a write),
versions alternating, and sums the task CPU (``executorCpuTime`` from the Spark UI's REST API) per resource type.
Printed: per type and in total, the minimum and median over the rounds after the first (JIT warm-up). A full
``views_bench.py`` run adds planning, JIT, GC and the Delta writes, where a longer SQL text can cost more than the
evaluation saves; this script isolates the evaluation.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_DUMP = """
import json, sys
from pyspark.sql import functions as F
captured = []
F.expr = lambda text: captured.append(text) or text  # the tree's runner builds the select; keep its text

class Frame:
    def select(self, *columns):
        return self

from anonymizer.views import runner
from anonymizer.views.materialize import load_views
out = {}
for view in load_views([sys.argv[1]]):
    runner.view_frame(view, Frame())
    out.setdefault(view.resource, []).append(captured[-1])
json.dump(out, sys.stdout)
"""


def compiled_sql(tree: str) -> dict[str, list[str]]:
    """Per resource type, the select expression of each starter view as ``tree``'s runner builds it."""
    env = dict(os.environ, PYTHONPATH=tree)
    done = subprocess.run(  # run in ``tree``: ``python -c`` puts the working folder first on sys.path
        [sys.executable, "-c", _DUMP, str(ROOT / "views")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def main() -> None:
    """Compile with each version, evaluate alternately, print the task CPU per type and in total."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--zone", required=True, help="research zone (DIR/delta/<Type>)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("versions", nargs="+", metavar="NAME=TREE")
    args = parser.parse_args()
    versions = {name: compiled_sql(tree) for name, tree in (v.split("=", 1) for v in args.versions)}

    from pyspark.sql import functions as F

    from anonymizer.spark.research_zone import delta_path
    from anonymizer.spark.session import local_session

    spark = local_session(
        args.master,
        app_name="views-expressions-ab",
        conf={
            "spark.ui.enabled": "true",
            "spark.ui.bindAddress": "127.0.0.1",
            "spark.ui.retainedStages": "100000",
        },
    )
    spark.sparkContext.setLogLevel("ERROR")
    ui, app = spark.sparkContext.uiWebUrl, spark.sparkContext.applicationId

    def stages() -> dict[tuple[int, int], dict[str, int]]:
        with urllib.request.urlopen(f"{ui}/api/v1/applications/{app}/stages?status=complete") as reply:
            return {(s["stageId"], s["attemptId"]): s for s in json.load(reply)}

    types = sorted(t for t in next(iter(versions.values())) if Path(delta_path(args.zone, t)).is_dir())
    sources = {
        t: spark.read.format("delta")
        .load(delta_path(args.zone, t))
        .select(F.col("resource").alias("_resource"))
        for t in types
    }
    for t in types:
        sources[t] = sources[t].cache()
        sources[t].count()
    cpu: dict[tuple[str, str], list[float]] = {}
    for round_number in range(args.rounds):
        for name, compiled in versions.items():
            for t in types:
                before = stages()
                for expr in compiled[t]:
                    sources[t].select(F.expr(expr)).write.format("noop").mode("overwrite").save()
                time.sleep(0.2)  # the listener records the last stage
                new = [s for key, s in stages().items() if key not in before]
                cpu.setdefault((name, t), []).append(sum(s["executorCpuTime"] for s in new) / 1e9)
        totals = {name: round(sum(cpu[(name, t)][-1] for t in types), 2) for name in versions}
        print(f"round {round_number}: task CPU-s {totals}", flush=True)
    warm = range(1, args.rounds) if args.rounds > 1 else range(args.rounds)
    for t in types:
        cells = [
            f"{name}: min {min(cpu[(name, t)][i] for i in warm):6.2f} median "
            f"{statistics.median(cpu[(name, t)][i] for i in warm):6.2f}"
            for name in versions
        ]
        print(f"{t:22s} " + "   ".join(cells))
    for name in versions:
        totals_warm = [sum(cpu[(name, t)][i] for t in types) for i in warm]
        print(
            f"{name}: total task CPU-s, min {min(totals_warm):.2f}, median {statistics.median(totals_warm):.2f}"
        )
    spark.stop()


if __name__ == "__main__":
    main()
