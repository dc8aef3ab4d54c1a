"""Views benchmark (not a test): the compiled row expressions of code versions, evaluated side by side in one JVM.

Run: .venv/bin/python bench/views_expressions_ab.py --zone ZONE [--rounds 5] NAME=TREE [NAME=TREE ...]

TREE is a checkout of this repository (e.g. a ``git worktree`` of another revision); its compiler writes the SQL of
the starter views (``views/`` of this checkout) in a subprocess with ``PYTHONPATH=TREE``. ZONE is a research zone,
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
from anonymizer.views.materialize import load_views
from anonymizer.views.rows_sql import compile_shared
groups = {}
for view in load_views([sys.argv[1]]):
    groups.setdefault(view.resource, []).append(view)
out = {}
for rtype, group in groups.items():
    compiled = compile_shared(group)
    out[rtype] = {"schema": compiled.root_schema, "root": compiled.root, "views": compiled.views}
json.dump(out, sys.stdout)
"""


def compiled_sql(tree: str) -> dict[str, dict[str, object]]:
    """The starter views' SQL per resource type as compiled by the code in ``tree``."""
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
    from anonymizer.views.parsed_nodes import RAW, UNPARSED
    from anonymizer.views.sql_text import quote

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
    options = f"map('columnNameOfCorruptRecord', {quote(UNPARSED)})"
    cpu: dict[tuple[str, str], list[float]] = {}
    for round_number in range(args.rounds):
        for name, compiled in versions.items():
            for t in types:
                sql = compiled[t]
                parse = f"from_json(_resource, {quote(str(sql['schema']))}, {options})"
                before = stages()
                for where, rows in sql["views"]:  # type: ignore[union-attr]
                    generated = f"IF(coalesce({where}, false), {rows}, NULL)"
                    root = f"element_at(transform(array({sql['root']}), _root -> {generated}), 1)"
                    expr = f"inline(element_at(transform(array({parse}), {RAW} -> {root}), 1))"
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
