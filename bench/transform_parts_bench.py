"""Where the transform step of ``deidentify`` spends its CPU: the same input through growing parts of the step.

Run: .venv/bin/python bench/transform_parts_bench.py [--scale 10] [--rounds 2] [--parts read-decoded,read,...]

In one local[2] session (fixed bench keys, strict profile), each part is run ``rounds`` times, alternating, and
the CPU seconds of the whole process tree (driver JVM, Python driver and workers) are printed per run:

* ``read-decoded``: the reader with every line converted to a Java string (``read_lines(decoded=True)``, what
  ``verify`` uses), to Spark's ``noop`` sink;
* ``read``: the reader as ``deidentify`` uses it (``decoded=False``: lines as bytes), to ``noop``;
* ``arrow``: ``read`` through ``mapInArrow`` with a function that hands every line back as the output column
  without any Python work per line: the Arrow hand-over both ways;
* ``engine``: ``read`` through the real transform (engine and per-line handling), to ``noop``;
* ``staged``: ``engine`` written as ``deidentify`` writes its staging (Parquet, partitioned by type, sorted);
* ``staged-nodict``: the same with Parquet dictionary encoding off.

Differences between parts are the cost of what each adds. Input: the cached replicated 100-patient sample
(``bench/deidentify_bench.py`` generates it). Benchmarks share the machine: run under ``flock /work/bench.lock``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from deidentify_bench import AS_OF, bench_keys, cached_input  # noqa: E402
from pipeline_bench import DEFAULT_DATA  # noqa: E402

PARTS = ("read-decoded", "read", "arrow", "engine", "staged", "staged-nodict")


def _hand_back(batches: Iterator[Any]) -> Iterator[Any]:
    """Every line back as ``resource_json`` of an output row, no per-line Python (the Arrow hand-over alone)."""
    import pyarrow as pa

    from anonymizer.spark import line_schema as ls

    for batch in batches:
        n = batch.num_rows
        columns = {f.name: pa.nulls(n, f.type) for f in ls.TRANSFORMED_SCHEMA}
        columns["status"] = pa.array([ls.STATUS_OK] * n)
        columns["resource_type"] = pa.array(["X"] * n)
        columns["resource_json"] = batch.column("value")
        yield pa.RecordBatch.from_pydict(columns, schema=ls.TRANSFORMED_SCHEMA)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "hipaa-safe-harbor.json")
    parser.add_argument("--work", type=Path, default=Path("/tmp/fhir-anonymizer-transform-parts"))
    args = parser.parse_args()
    import os

    os.environ.update(bench_keys())
    from spark_probe import TreeSampler

    from anonymizer.engine import Anonymizer
    from anonymizer.spark import line_schema as ls
    from anonymizer.spark.reader import read_lines
    from anonymizer.spark.session import local_session
    from anonymizer.spark.transform import TransformOptions, make_partition_transform

    data, lines = cached_input(DEFAULT_DATA, args.scale)
    spark = local_session("local[2]", app_name="transform-parts-bench")
    sampler = TreeSampler().start()
    engine = Anonymizer.from_config_file(args.config, as_of=date.fromisoformat(AS_OF))
    transform = make_partition_transform(engine, TransformOptions(source_folder=data.name))

    def run(part: str) -> None:
        source = read_lines(spark, str(data), decoded=part == "read-decoded")
        if part.startswith("read"):
            source.write.format("noop").mode("overwrite").save()
            return
        rows = source.mapInArrow(_hand_back if part == "arrow" else transform, ls.TRANSFORMED_DDL)
        if not part.startswith("staged"):
            rows.write.format("noop").mode("overwrite").save()
            return
        writer = rows.write.mode("overwrite").partitionBy("resource_type")
        if part == "staged-nodict":
            writer = writer.option("parquet.enable.dictionary", "false")
        writer.parquet(str(args.work / part))

    run("read")  # warm-up
    results: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for part in args.parts.split(","):
            start = time.monotonic()
            run(part)
            end = time.monotonic()
            time.sleep(0.5)  # one more sample after the end
            cpu = sampler.window(start, end)["cpu_s"]
            results.setdefault(part, []).append(cpu)
            load = Path("/proc/loadavg").read_text().split()[0]
            print(
                json.dumps({"part": part, "wall_s": round(end - start, 1), "cpu_s": cpu, "load": load}),
                flush=True,
            )
            shutil.rmtree(args.work / part, ignore_errors=True)
    sampler.stop()
    print(json.dumps({"scale": args.scale, "lines": lines, "cpu_s": results}))


if __name__ == "__main__":
    main()
