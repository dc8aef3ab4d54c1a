"""Views benchmark (not a test): materializing the starter views vs a plain scan-and-write of their source tables.

Run: .venv/bin/python bench/views_bench.py --research ZONE [--scale 10] [--format json|variant] [--master local[2]]
     [--repeat 3] [--targets replace|create]

ZONE is a research zone made by ``fhir-anonymizer deidentify`` (e.g. of the 100-patient sample with
configs/hipaa-safe-harbor.json). Its tables of the types the starter views read are replicated ``--scale`` times
(ids made distinct) into a temp zone, stored with the resource as VARIANT or as a JSON string. Then, in the same
Spark session, rounds alternate the two sides:
1. baseline: read each source table and write it unchanged to a Delta table;
2. views: ``materialize`` the starter set (``views/``) over the replicated zone.
The first round warms both sides up and is not counted (the JIT's first pass over the views' code; it is printed).
In every counted round both sides write the same kind of Delta commit: with ``--targets replace`` (the default, a
refresh as a scheduled job does it) each side replaces the tables it wrote in the previous round; with
``--targets create`` each round writes new tables. (Replacing a table costs Delta more than creating one: it reads
the table's state to remove its files. Comparing one side's replacing rounds with the other's creating round would
compare different work.)
Printed: both sides' times per round (wall clock and CPU seconds of the driver and the local Spark JVM), the best
and the median of the counted rounds, their ratios (target <= 2) and the number of Python UDFs the compiled views
use (target 0).
With ``--keep`` the replicated zone stays (for ``bench/views_expressions_ab.py``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds() -> float:
    """CPU seconds (user + system) used so far by this process and its descendants (the local Spark JVM).

    Read from /proc (Linux); 0.0 elsewhere. Unlike wall-clock time, this is not inflated by other processes
    running on the same cores, so the ratio of CPU seconds is the steadier figure on a loaded machine.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        return 0.0
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / _TICKS
    total, pending = 0.0, [os.getpid()]
    while pending:
        pid = pending.pop()
        total += times.get(pid, 0.0)
        pending += [child for child, parent in parents.items() if parent == pid]
    return total


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--research", required=True, help="a de-identified research zone (DIR/delta/<Type>)")
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument(
        "--format",
        choices=["json", "variant"],
        default="json",
        help="how the replicated zone stores each resource: JSON text (deidentify's default) or VARIANT",
    )
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--repeat", type=int, default=3, help="counted rounds (after one warm-up round)")
    parser.add_argument(
        "--targets",
        choices=["replace", "create"],
        default="replace",
        help="each counted round replaces the previous round's tables (default) or writes new ones",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the replicated zone (its path is printed; for views_expressions_ab.py)",
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    from pyspark.sql import functions as F

    import anonymizer.views as views_package
    from anonymizer.spark.research_zone import delta_path
    from anonymizer.spark.session import local_session
    from anonymizer.spark.settings import VIEWS_LOCAL_CONF
    from anonymizer.views.materialize import load_views, materialize

    # The session the `views` command starts (VIEWS_LOCAL_CONF); the scan-and-write runs in the same JVM.
    spark = local_session(args.master, app_name="views-bench", extra_layers=(VIEWS_LOCAL_CONF,))
    spark.sparkContext.setLogLevel("ERROR")
    views = load_views([str(ROOT / "views")])
    types = sorted({v.resource for v in views if Path(delta_path(args.research, v.resource)).is_dir()})
    work = Path(tempfile.mkdtemp(prefix="views-bench-"))
    try:
        zone = str(work / "zone")
        rows = 0
        for rtype in types:
            table = spark.read.format("delta").load(delta_path(args.research, rtype))
            text = (
                F.to_json("resource")
                if table.schema["resource"].dataType.typeName() != "string"
                else F.col("resource")
            )
            copies = None
            for copy in range(args.scale):
                # Each copy's ids and the references to them get the copy's prefix, cut to the 64 characters a
                # FHIR id may have (the zone's ids are 64-character HMACs): a longer id is not a valid reference,
                # and the views' `getReferenceKey` would give NULL for every one of them.
                prefix = f"c{copy}-"
                keep = 64 - len(prefix)
                prefixed = F.regexp_replace(text, f'"id":"([^"]{{0,{keep}}})[^"]*"', f'"id":"{prefix}$1"')
                prefixed = F.regexp_replace(
                    prefixed,
                    f'"reference":"([A-Za-z]+)/([^"/]{{0,{keep}}})[^"/]*',
                    f'"reference":"$1/{prefix}$2',
                )
                resource = F.parse_json(prefixed) if args.format == "variant" else prefixed
                frame = table.select(
                    F.concat(F.lit(prefix), F.substring("id", 1, keep)).alias("id"),
                    "patient_key",
                    resource.alias("resource"),
                )
                copies = frame if copies is None else copies.unionAll(frame)
            assert copies is not None
            copies.write.format("delta").mode("overwrite").save(delta_path(zone, rtype))
            rows += spark.read.format("delta").load(delta_path(zone, rtype)).count()
        print(f"replicated zone: {len(types)} types, {rows} rows (x{args.scale}, resource as {args.format})")

        def target(side: str, round_: int) -> Path:
            return work / (f"{side}-{round_}" if args.targets == "create" else side)

        def baseline(round_: int) -> tuple[float, float]:
            start, cpu = time.perf_counter(), cpu_seconds()
            for rtype in types:
                spark.read.format("delta").load(delta_path(zone, rtype)).write.format("delta").mode(
                    "overwrite"
                ).save(str(target("copy", round_) / rtype))
            return time.perf_counter() - start, cpu_seconds() - cpu

        def views_run(round_: int) -> tuple[float, float, int]:
            start, cpu = time.perf_counter(), cpu_seconds()
            written = materialize(views, zone, spark, output=str(target("out", round_)))
            return time.perf_counter() - start, cpu_seconds() - cpu, sum(w.rows for w in written)

        warm_base = baseline(0)
        *warm_view, view_rows = views_run(0)
        print(
            f"warm-up round (not counted): scan-and-write {warm_base[0]:.1f}s/{warm_base[1]:.1f} CPU s, "
            f"views {warm_view[0]:.1f}s/{warm_view[1]:.1f} CPU s"
        )
        base_runs: list[tuple[float, float]] = []
        view_runs: list[tuple[float, float]] = []
        for round_ in range(1, args.repeat + 1):
            base_runs.append(baseline(round_))
            elapsed, cpu, view_rows = views_run(round_)
            view_runs.append((elapsed, cpu))

        def best(runs: list[tuple[float, float]], i: int) -> float:
            return min(r[i] for r in runs)

        def median(runs: list[tuple[float, float]], i: int) -> float:
            return statistics.median(r[i] for r in runs)

        print(f"counted rounds: {args.repeat}, targets: {args.targets}")
        print(
            f"scan-and-write of the source tables: best {best(base_runs, 0):.1f}s, {best(base_runs, 1):.1f} CPU s; "
            f"median {median(base_runs, 0):.1f}s "
            f"(rounds: {', '.join(f'{t:.1f}s/{c:.1f}' for t, c in base_runs)})"
        )
        print(
            f"materialize {len(views)} starter views ({view_rows} rows): best {best(view_runs, 0):.1f}s, "
            f"{best(view_runs, 1):.1f} CPU s; median {median(view_runs, 0):.1f}s "
            f"(rounds: {', '.join(f'{t:.1f}s/{c:.1f}' for t, c in view_runs)})"
        )
        print(
            f"ratio views / scan-and-write: best {best(view_runs, 0) / best(base_runs, 0):.2f}, "
            f"median {median(view_runs, 0) / median(base_runs, 0):.2f} (target <= 2)"
        )
        if best(base_runs, 1) > 0:
            print(
                f"ratio of CPU seconds (driver and Spark JVM): best {best(view_runs, 1) / best(base_runs, 1):.2f}, "
                f"median {median(view_runs, 1) / median(base_runs, 1):.2f}"
            )
        print(f"Python UDFs used by the compiled views: {len(views_package.PYTHON_UDFS)} (target 0)")
    finally:
        if args.keep:
            print(f"replicated zone kept: {work / 'zone'}")
        else:
            shutil.rmtree(work, ignore_errors=True)
        spark.stop()


if __name__ == "__main__":
    main()
