"""verify vs deidentify benchmark (not a test): issue 15 goal 1, verify at most 0.75x deidentify at x10.

Run: .venv/bin/python bench/verify_bench.py [--data DIR] [--config FILE] [--scale 10] [--keep DIR]

The input (default: the 100-patient sample) is replicated ``--scale`` times with distinct ids (as
``bench/pipeline_bench.py`` does). Then, each in a fresh process on ``local[2]`` and in one run: ``deidentify`` of
the input, and ``verify`` of the zone it wrote against the same input. Prints both times, the ratio (the target is
at most 0.75), the CPU seconds of each process tree (Python driver, JVM, Python workers, sampled from ``/proc`` by
``spark_probe.TreeSampler``; steadier than wall time on a shared machine) and their ratio, and the seconds per step of
each (from the run summary and verify's report). Keys are ephemeral; the verdict must be a pass.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline_bench import DEFAULT_DATA, ROOT, replicate  # noqa: E402

RUNNER = textwrap.dedent(
    """
    import json, sys, time
    from anonymizer.spark.session import local_session
    mode, data, out, config, bench_dir = sys.argv[1:6]
    sys.path.insert(0, bench_dir)
    from spark_probe import TreeSampler
    spark = local_session("local[2]", app_name="bench")
    sampler = TreeSampler().start()
    start = time.perf_counter()
    mark = time.monotonic()
    if mode == "deidentify":
        from anonymizer.spark.pipeline import DeidentifyRequest, run_deidentify
        result = run_deidentify(DeidentifyRequest(input=data, output=out + "/research", config=config,
                                                  quarantine=out + "/quarantine", allow_ephemeral_keys=True), spark)
        extra = {"steps": result.summary.timings_s}
    else:
        from anonymizer.verify.pipeline import VerifyRequest, run_verify
        result = run_verify(VerifyRequest(source=data, output=out + "/research", config=config,
                                          report_dir=out + "/report", quarantine=out + "/quarantine"), spark=spark)
        extra = {"steps": result.report["tool"]["timings_seconds"], "passed": result.passed,
                 "reasons": result.report["verdict"]["reasons"]}
    seconds, end = time.perf_counter() - start, time.monotonic()
    sampler.stop()
    print(json.dumps({"seconds": seconds, "cpu_s": sampler.window(mark, end)["cpu_s"], **extra}))
    """
)


def run(mode: str, data: Path, out: Path, config: Path) -> dict:
    """One step in a fresh process (a new Spark session, as a scheduled job would start)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, mode, str(data), str(out), str(config), str(Path(__file__).parent)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"{mode} failed (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "hipaa-safe-harbor.json")
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument(
        "--keep", type=Path, default=None, help="work folder to keep (default: a temp folder)"
    )
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="fhir-verify-bench-"))
    try:
        data = work / f"in-x{args.scale}"
        shutil.rmtree(data, ignore_errors=True)
        lines = replicate(args.data, data, args.scale)
        shutil.rmtree(work / "out", ignore_errors=True)
        deid = run("deidentify", data, work / "out", args.config)
        verify = run("verify", data, work / "out", args.config)
        ratio = verify["seconds"] / deid["seconds"]
        cpu_ratio = verify["cpu_s"] / deid["cpu_s"] if deid["cpu_s"] else float("nan")
        print(f"x{args.scale}: {lines:,} lines | deidentify {deid['seconds']:.1f}s | verify {verify['seconds']:.1f}s "
              f"| ratio {ratio:.2f} (target <= 0.75) | verify passed: {verify['passed']} {verify['reasons'] or ''}")  # fmt: skip
        print(f"CPU seconds of the process tree (driver, JVM, Python workers): deidentify {deid['cpu_s']:.1f} | "
              f"verify {verify['cpu_s']:.1f} | ratio {cpu_ratio:.2f}")  # fmt: skip
        print(f"deidentify steps: {deid['steps']}")
        print(f"verify steps: {verify['steps']}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
