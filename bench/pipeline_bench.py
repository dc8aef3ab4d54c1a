"""Spark pipeline benchmark (not a test): de-identify vs a plain copy, local[1] vs local[2], growth with size.

Run: .venv/bin/python bench/pipeline_bench.py [--data DIR] [--config FILE] [--scale 1,10,33] [--skip-parallel]
         [--parallel-scale N]

Every figure is a ratio against a baseline measured in the same run, because shared machines are noisy:
1. de-identify time / plain Spark copy of the same input into the same Delta layout (target <= 3);
2. local[1] time / local[2] time for de-identify (target >= 1.6);
3. time and peak RSS (driver JVM + Python workers) as the input grows by the largest scale factor (target: time
   grows at most 1.2x the size factor, memory stays flat).
Inputs are replicated with distinct ids (each copy's ids and references get a suffix), written to a temp folder.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_REF = re.compile(r'"reference":"([A-Z][A-Za-z]+)/')
DEFAULT_DATA = Path("/work/shared/data/synthea/bulk-data-server-export-100-patients")


def replica_line(line: str, tag: str) -> str:
    """``line`` with a ``<tag>-`` prefix on its ids and on the ids inside its references: a distinct resource
    that still joins with the other resources of the same replica."""
    line_copy = line.replace('"id":"', f'"id":"{tag}-').replace("urn:uuid:", f"urn:uuid:{tag}-")
    return _REF.sub(rf'"reference":"\1/{tag}-', line_copy)


def replicate(src: Path, dst: Path, factor: int) -> int:
    """Write ``factor`` copies of every NDJSON file with distinct ids; returns the number of lines."""
    dst.mkdir(parents=True, exist_ok=True)
    lines = 0
    for path in sorted(src.glob("*.ndjson")):
        original = path.read_text().splitlines()
        with (dst / path.name).open("w") as out:
            for copy in range(factor):
                for line in original:
                    out.write(replica_line(line, f"c{copy}") + "\n")
                    lines += 1
    return lines


RUNNER = textwrap.dedent(
    """
    import json, sys, time, resource
    from pathlib import Path
    from anonymizer.spark.session import local_session
    master, mode, data, out, config = sys.argv[1:6]
    spark = local_session(master, app_name="bench")
    start = time.perf_counter()
    if mode == "copy":
        from pyspark.sql import functions as F
        from anonymizer.spark.reader import read_lines
        lines = read_lines(spark, data)
        rows = lines.select(F.get_json_object("value", "$.resourceType").alias("resource_type"),
                            F.get_json_object("value", "$.id").alias("id"), F.parse_json("value").alias("resource"))
        rows.write.format("delta").partitionBy("resource_type").mode("overwrite").save(out + "/copy")
    else:
        from anonymizer.spark.pipeline import DeidentifyRequest, run_deidentify
        run_deidentify(DeidentifyRequest(input=data, output=out + "/research", config=config,
                                         allow_ephemeral_keys=True), spark)
    elapsed = time.perf_counter() - start
    print(json.dumps({"seconds": elapsed}))
    """
)


def run_once(master: str, mode: str, data: Path, out: Path, config: Path) -> tuple[float, float]:
    """Run one job in a fresh process; returns (seconds, peak RSS MiB of the process tree)."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, master, mode, str(data), str(out), str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, _tree_rss_mib(proc.pid))
        time.sleep(0.5)
    stdout = proc.stdout.read() if proc.stdout else ""
    if proc.returncode != 0:
        raise SystemExit(f"{mode} on {master} failed (exit {proc.returncode})")
    return json.loads(stdout.strip().splitlines()[-1])["seconds"], peak


def _tree_rss_mib(pid: int) -> float:
    try:
        out = subprocess.run(
            ["ps", "-o", "rss=", "--ppid", str(pid), "-p", str(pid)], capture_output=True, text=True
        ).stdout
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        total = sum(int(x) for x in out.split())
        for child in children:
            total += int(_tree_rss_mib(int(child)) * 1024)
        return total / 1024
    except (ValueError, OSError):
        return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA if DEFAULT_DATA.is_dir() else ROOT / "examples" / "synthea-10-patients",
    )
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "hipaa-safe-harbor.json")
    parser.add_argument(
        "--scale", default="1,10", help="replication factors, e.g. 1,10 (the first is the baseline)"
    )
    parser.add_argument(
        "--skip-parallel", action="store_true", help="skip the local[1] vs local[2] comparison"
    )
    parser.add_argument(
        "--parallel-scale",
        type=int,
        default=None,
        help="replication factor for local[1] vs local[2] (default: the second --scale, else the first)",
    )
    args = parser.parse_args()
    scales = [int(s) for s in args.scale.split(",")]
    work = Path(tempfile.mkdtemp(prefix="fhir-bench-"))
    try:
        results = {}
        for factor in scales:
            data = work / f"in-x{factor}"
            n = replicate(args.data, data, factor)
            t_copy, m_copy = run_once("local[2]", "copy", data, work / "out", args.config)
            t_deid, m_deid = run_once("local[2]", "deid", data, work / "out", args.config)
            results[factor] = (n, t_copy, t_deid, m_deid)
            print(
                f"x{factor}: {n} lines | copy {t_copy:.1f}s | de-identify {t_deid:.1f}s | ratio {t_deid / t_copy:.2f} (target <= 3) | peak RSS {m_deid:.0f} MiB (copy {m_copy:.0f})"
            )
        if not args.skip_parallel:
            factor = args.parallel_scale or (scales[1] if len(scales) > 1 else scales[0])
            data = work / f"in-x{factor}"
            if not data.is_dir():
                replicate(args.data, data, factor)
            t1, _ = run_once("local[1]", "deid", data, work / "out", args.config)
            t2, _ = run_once("local[2]", "deid", data, work / "out", args.config)
            print(
                f"x{factor}: local[1] {t1:.1f}s vs local[2] {t2:.1f}s: speed-up {t1 / t2:.2f} (target >= 1.6)"
            )
        n0, _, t0, m0 = results[scales[0]]
        for factor in scales[1:]:
            n1, _, t1, m1 = results[factor]
            print(
                f"growth x{n1 / n0:.0f} input: time x{t1 / t0:.2f} (target <= {1.2 * n1 / n0:.0f}), peak memory x{m1 / m0:.2f}"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
