"""De-identify vs a plain Spark copy into Delta, at several input sizes, with where the time and memory go.

Run: .venv/bin/python bench/deidentify_bench.py [--scale 1,10,33] [--master local[2]] [--repeat 1]
         [--config FILE] [--data DIR] [--conf KEY=VALUE ...] [--json FILE] [--no-warm-up]

Per scale, one fresh process with one Spark session runs, after a warm-up on the bundled 10-patient sample:
1. the baseline, a plain Spark copy of the same NDJSON into Delta, one table per resource type (read the
   type's files, take ``id``, keep the line as a JSON string column; up to 4 tables written at once);
2. ``run_deidentify`` (``--resource-format json``, fixed keys, fixed ``--as-of``) into a fresh research zone.
Both are timed; the process tree (driver JVM, Python driver and workers) is sampled for RSS and CPU seconds;
the stages of each come from the driver UI's REST API (enabled for the benchmark only, on 127.0.0.1).

Goals (issue 15, goal 2): de-identify within 2x the copy at every scale; 10x input at most 10x time; peak
memory at the largest scale at most 1.3x that at the smallest; no single-partition stage on the data path (the
task counts of every stage that moves at least 5% of the input's bytes are printed; one task moving more than
a file split, 128 MB, is flagged). The input (the 100-patient sample
replicated with ids made unique per copy) is generated once into ``~/.cache/fhir-anonymizer/bench``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from deidentify_report import print_goals, print_scale  # noqa: E402
from pipeline_bench import DEFAULT_DATA, replicate  # noqa: E402

WARM_UP_DATA = ROOT / "examples" / "synthea-10-patients"
CACHE = Path(
    os.environ.get("FHIR_ANONYMIZER_BENCH_CACHE", Path.home() / ".cache" / "fhir-anonymizer" / "bench")
)
AS_OF = "2026-11-28"
_WRITE_THREADS = 4
#: Functions timed in place inside the steps of run_deidentify (those that exist); the steps themselves are timed
#: by the pipeline (the run summary's ``timings_s``).
TIMED_CALLS = (
    "merge_into_table",
    "write_ndjson",
    "clear_ndjson",
    "append_quarantine",
    "delete_ids",
    "sum_rule_hits",
)


def bench_keys() -> dict[str, str]:
    """Fixed, benchmark-only keys of 32 characters (256-bit AES for encrypt); never used for real data."""
    names = ("CRYPTO_HASH", "ENCRYPT", "DATE_SHIFT")
    return {
        f"FHIR_ANONYMIZER_{n}_KEY": hashlib.sha256(f"deidentify-bench-{n}".encode()).hexdigest()[:32]
        for n in names
    }


def cached_input(source: Path, factor: int) -> tuple[Path, int]:
    """The replicated input (generated once per source and factor): folder and number of lines."""
    folder = CACHE / f"{source.name}-x{factor}"
    done = folder / ".lines"
    if not done.is_file():
        tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
        lines = replicate(source, tmp, factor)
        (tmp / ".lines").write_text(str(lines))
        if folder.exists():
            import shutil

            shutil.rmtree(folder)
        tmp.rename(folder)
    return folder, int(done.read_text())


# ----------------------------------------------------------------------------------------------- worker


def plain_copy(spark: Any, data: Path, out: Path) -> None:
    """The baseline: each type's NDJSON files into its own Delta table (id, resource as a JSON string)."""
    from concurrent.futures import ThreadPoolExecutor

    from pyspark.sql import functions as F

    from anonymizer.spark.line_schema import r4_resource_types
    from anonymizer.spark.transform import type_from_file_name

    known = r4_resource_types()
    by_type: dict[str, list[str]] = {}
    for path in sorted(data.glob("*.ndjson")):
        by_type.setdefault(type_from_file_name(path.name, known) or "unknown", []).append(str(path))

    def copy_one(resource_type: str) -> None:
        lines = spark.read.text(by_type[resource_type])
        rows = lines.select(F.get_json_object("value", "$.id").alias("id"), F.col("value").alias("resource"))
        rows.write.format("delta").mode("overwrite").save(str(out / resource_type))

    with ThreadPoolExecutor(max_workers=_WRITE_THREADS) as pool:
        list(pool.map(copy_one, sorted(by_type)))


def engine_pass(spark: Any, data: Path, config: str) -> None:
    """Read + engine only (the transformed rows go to Spark's ``noop`` sink): the engine pass without its write."""
    from datetime import date

    from anonymizer.engine import Anonymizer
    from anonymizer.spark import line_schema as ls
    from anonymizer.spark.reader import read_lines
    from anonymizer.spark.transform import TransformOptions, make_partition_transform

    engine = Anonymizer.from_config_file(config, as_of=date.fromisoformat(AS_OF))
    transform = make_partition_transform(engine, TransformOptions(source_folder=data.name))
    lines = read_lines(spark, str(data))
    lines.mapInArrow(transform, ls.TRANSFORMED_DDL).write.format("noop").mode("overwrite").save()


def folder_stats(folder: Path, suffixes: tuple[str, ...]) -> dict[str, float]:
    """Number and megabytes of the files with these suffixes below ``folder``."""
    files = (
        [p for p in folder.rglob("*") if p.is_file() and p.name.endswith(suffixes)] if folder.is_dir() else []
    )
    return {"files": len(files), "mb": round(sum(p.stat().st_size for p in files) / 1e6, 2)}


def zone_stats(zone: Path, quarantine: Path, staging: dict[str, float]) -> dict[str, Any]:
    """What the run wrote: staged Parquet, Delta tables (files, MB, commits), NDJSON, quarantine."""
    tables = sorted(p for p in (zone / "delta").iterdir() if p.is_dir()) if (zone / "delta").is_dir() else []
    commits = {t.name: len(list((t / "_delta_log").glob("*.json"))) for t in tables}
    return {
        "staged_parquet": staging,
        "delta": folder_stats(zone / "delta", (".parquet",)),
        "delta_commits": commits,
        "ndjson": folder_stats(zone / "ndjson", (".ndjson", ".txt")),
        "quarantine": folder_stats(quarantine, (".parquet",)),
    }


def run_worker(args: argparse.Namespace) -> dict[str, Any]:
    """One scale in one session: warm-up, then (copy, de-identify) ``repeat`` times; returns the measurements."""
    import shutil
    from datetime import date

    from spark_probe import CallTimer, StageLog, TreeSampler

    import anonymizer.spark.deidentify_steps as steps
    from anonymizer.spark.pipeline import DeidentifyRequest, run_deidentify
    from anonymizer.spark.session import local_session

    conf = {"spark.ui.enabled": "true", "spark.ui.port": "0", **dict(c.split("=", 1) for c in args.conf)}
    spark = local_session(args.master, app_name="deidentify-bench", conf=conf)
    stages = StageLog(spark.sparkContext.uiWebUrl, spark.sparkContext.applicationId)
    sampler = TreeSampler().start()
    timer = CallTimer()
    staging: dict[str, float] = {}
    original_remove = steps.remove_staging

    def measure_then_remove(run: Any) -> None:
        staging.update(folder_stats(Path(run.staging), (".parquet",)))
        original_remove(run)

    steps.remove_staging = measure_then_remove
    timer.wrap(steps, TIMED_CALLS)
    work = Path(args.work)

    def deidentify(data: Path, name: str) -> Any:
        request = DeidentifyRequest(
            input=str(data),
            output=str(work / name),
            config=str(args.config),
            quarantine=str(work / f"{name}-quarantine"),
            as_of=date.fromisoformat(AS_OF),
            resource_format="json",
            ndjson=args.ndjson,
        )
        return run_deidentify(request, spark)

    if not args.no_warm_up:
        plain_copy(spark, WARM_UP_DATA, work / "warm-copy")
        deidentify(WARM_UP_DATA, "warm-zone")
    runs = []
    for attempt in range(args.repeat):
        for what in ("copy", "deidentify", "engine pass") if args.engine_pass else ("copy", "deidentify"):
            out = work / f"{what}-{attempt}"
            shutil.rmtree(out, ignore_errors=True)
            mark, start = stages.mark(), time.monotonic()
            if what == "copy":
                result = plain_copy(spark, Path(args.data), out)
            elif what == "engine pass":
                result = engine_pass(spark, Path(args.data), str(args.config))
            else:
                result = deidentify(Path(args.data), out.name)
            end = time.monotonic()
            run: dict[str, Any] = {
                "what": what,
                "seconds": round(end - start, 2),
                **sampler.window(start, end),
            }
            run["stages"] = stages.since(mark)
            if what == "deidentify":
                run["timings_s"] = result.summary.timings_s
                run["reconciled"] = all(c.reconciled for c in result.summary.counts.values())
                run["lines_in"] = sum(c.lines_in for c in result.summary.counts.values())
                run["steps"] = timer.summary(start)
                run["windows"] = phase_windows(result.summary.timings_s, end - start, sampler, start)
                run["zone"] = zone_stats(out, work / f"{out.name}-quarantine", dict(staging))
            elif what == "copy":
                run["zone"] = {"delta": folder_stats(out, (".parquet",))}
            runs.append(run)
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(work / f"{out.name}-quarantine", ignore_errors=True)
    sampler.stop()
    batch = spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch")
    return {"runs": runs, "arrow_max_records_per_batch": int(batch), "spark": spark.version}


def phase_windows(timings: dict[str, float], total: float, sampler: Any, t0: float) -> dict[str, Any]:
    """CPU seconds and peak RSS of each step of the run (``timings_s``: the steps run one after the other from
    the start), and of what follows them (run summary, ``_runs`` row, staging removal)."""
    out = {}
    start = 0.0
    for name, seconds in timings.items():
        if name == "total_s":
            continue
        out[name.removesuffix("_s")] = (start, start + seconds)
        start += seconds
    out["summary + _runs row + cleanup"] = (start, total)
    return {
        label: {"seconds": round(end - begin, 2), **sampler.window(t0 + begin, t0 + end)}
        for label, (begin, end) in out.items()
    }


# ----------------------------------------------------------------------------------------- orchestrator


def run_scale(args: argparse.Namespace, factor: int) -> dict[str, Any]:
    """Generate (or reuse) the input, then measure it in a fresh process."""
    import tempfile

    data, lines = cached_input(args.data, factor)
    input_mb = sum(p.stat().st_size for p in data.glob("*.ndjson")) / 1e6
    with tempfile.TemporaryDirectory(prefix="fhir-deid-bench-") as work:
        command = [sys.executable, __file__, "--worker", "--work", work, "--data", str(data)]
        command += ["--config", str(args.config), "--master", args.master, "--repeat", str(args.repeat)]
        command += [f"--conf={c}" for c in args.conf] + (["--no-warm-up"] if args.no_warm_up else [])
        command += ["--engine-pass"] if args.engine_pass else []
        env = dict(os.environ, PYTHONPATH=str(ROOT), **bench_keys())
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=4 * 3600)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"x{factor}: the benchmark process failed (exit {proc.returncode})")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result.update(factor=factor, lines=lines, input_mb=round(input_mb, 1))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.is_dir() else WARM_UP_DATA)
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "hipaa-safe-harbor.json")
    parser.add_argument("--scale", default="1,10,33", help="replication factors (the first is the base)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument(
        "--repeat", type=int, default=1, help="(copy, de-identify) pairs per scale; the best counts"
    )
    parser.add_argument(
        "--conf", action="append", default=[], help="extra Spark setting KEY=VALUE (repeatable)"
    )
    parser.add_argument("--json", type=Path, help="also write every measurement to this file")
    parser.add_argument(
        "--engine-pass",
        action="store_true",
        help="also time read + engine alone (noop sink), without any write",
    )
    parser.add_argument(
        "--ndjson",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="also write the NDJSON copy (the CLI's default; off here: the copy baseline writes Delta only)",
    )
    parser.add_argument("--no-warm-up", action="store_true", help="skip the warm-up on the 10-patient sample")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_worker(args)))
        return
    results = []
    for factor in (int(s) for s in args.scale.split(",")):
        started = time.monotonic()
        results.append(run_scale(args, factor))
        print_scale(results[-1])
        print(f"  (scale measured in {time.monotonic() - started:.0f} s)", flush=True)
    print_goals(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
