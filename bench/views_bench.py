"""Views benchmark (not a test): materializing the starter views vs a plain scan-and-write of their source tables.

Run: .venv/bin/python bench/views_bench.py --research ZONE [--scale 10] [--format variant|json] [--master local[2]]

ZONE is a research zone made by ``fhir-anonymizer deidentify`` (e.g. of the 100-patient sample with
configs/hipaa-safe-harbor.json). Its tables of the types the starter views read are replicated ``--scale`` times
(ids made distinct) into a temp zone, stored with the resource as VARIANT or as a JSON string. Then, in the same
Spark session and alternating, best of ``--repeat`` runs each:
1. baseline: read each source table and write it unchanged to a new Delta table;
2. views: ``materialize`` the starter set (``views/``) over the replicated zone.
Printed: both times (wall clock and CPU seconds of the driver and the local Spark JVM), the ratios (target <= 2) and the number of Python UDFs the compiled views use (target 0).
With ``--keep`` the replicated zone stays (for ``bench/views_expressions_ab.py``).
"""

from __future__ import annotations

import argparse
import os
import shutil
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
    parser.add_argument("--format", choices=["variant", "json"], default="variant")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the replicated zone (its path is printed; for views_expressions_ab.py)",
    )
    args = parser.parse_args()

    from pyspark.sql import functions as F

    import anonymizer.views as views_package
    from anonymizer.spark.research_zone import delta_path
    from anonymizer.spark.session import local_session
    from anonymizer.views.materialize import load_views, materialize

    spark = local_session(args.master, app_name="views-bench")
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

        def baseline() -> tuple[float, float]:
            start, cpu = time.perf_counter(), cpu_seconds()
            for rtype in types:
                target = str(work / "copy" / rtype)
                spark.read.format("delta").load(delta_path(zone, rtype)).write.format("delta").mode(
                    "overwrite"
                ).save(target)
            return time.perf_counter() - start, cpu_seconds() - cpu

        def views_run() -> tuple[float, float, int]:
            start, cpu = time.perf_counter(), cpu_seconds()
            written = materialize(views, zone, spark, output=str(work / "out"))
            return time.perf_counter() - start, cpu_seconds() - cpu, sum(w.rows for w in written)

        base_runs, view_runs, view_rows = [], [], 0
        for _ in range(args.repeat):
            base_runs.append(baseline())
            elapsed, cpu, view_rows = views_run()
            view_runs.append((elapsed, cpu))
        base, view = min(base_runs), min(view_runs)
        base_cpu, view_cpu = min(c for _, c in base_runs), min(c for _, c in view_runs)
        print(
            f"scan-and-write of the source tables: {base[0]:.1f}s, {base_cpu:.1f} CPU s "
            f"(runs: {', '.join(f'{t:.1f}s/{c:.1f}' for t, c in base_runs)})"
        )
        print(
            f"materialize {len(views)} starter views ({view_rows} rows): {view[0]:.1f}s, {view_cpu:.1f} CPU s "
            f"(runs: {', '.join(f'{t:.1f}s/{c:.1f}' for t, c in view_runs)})"
        )
        print(f"ratio views / scan-and-write: {view[0] / base[0]:.2f} (target <= 2)")
        if base_cpu > 0:
            print(f"ratio of CPU seconds (driver and Spark JVM): {view_cpu / base_cpu:.2f}")
        print(f"Python UDFs used by the compiled views: {len(views_package.PYTHON_UDFS)} (target 0)")
    finally:
        if args.keep:
            print(f"replicated zone kept: {work / 'zone'}")
        else:
            shutil.rmtree(work, ignore_errors=True)
        spark.stop()


if __name__ == "__main__":
    main()
