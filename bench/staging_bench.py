"""What the staged write of ``deidentify`` costs on the JVM side, and what its alternatives would cost.

Run: .venv/bin/python bench/staging_bench.py [--data DIR] [--work DIR] [--variants sort:snappy,sort:lz4,...]

The transform step writes the engine's rows once, partitioned by type (Spark sorts each task's rows by type
first), and every later step reads that staging: one aggregation (counts, duplicate ids), then one read per
type (publish). This script runs the real transform once (fixed bench keys, strict profile) into an uncompressed
Parquet source, then, per variant, in one session, times the CPU seconds of the process tree (driver JVM and
Python) of: the staged write of those rows, the aggregation, and the per-type reads. Variants:
``sort:<codec>`` (Spark's sort by type, Parquet codec ``snappy``, ``lz4``, ``zstd`` or ``none``),
``conc:<codec>`` (``spark.sql.maxConcurrentOutputFileWriters`` instead of the sort), ``cache:<level>`` (the rows
sorted within their partitions and persisted, ``DISK_ONLY`` or ``MEMORY_AND_DISK``, instead of staged Parquet).
The engine is outside what is timed: it is the same for every variant. Ratios to ``sort:snappy`` (what
``deidentify`` does) are the result; run on a quiet machine, or compare the CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from deidentify_bench import AS_OF, CACHE, bench_keys  # noqa: E402

DEFAULT_VARIANTS = (
    "sort:snappy,sort:lz4,sort:none,conc:snappy,cache:DISK_ONLY,cache:MEMORY_AND_DISK,sort:snappy"
)


def main() -> None:
    """Build the transformed rows once, then time each variant's staged write and reads."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=CACHE / "bulk-data-server-export-100-patients-x10")
    parser.add_argument("--work", type=Path, default=Path("/tmp/fhir-anonymizer-staging-bench"))
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "hipaa-safe-harbor.json")
    parser.add_argument("--variants", default=DEFAULT_VARIANTS)
    args = parser.parse_args()
    os.environ.update(bench_keys())

    from pyspark.sql import functions as F
    from spark_probe import TreeSampler

    from anonymizer.spark import line_schema as ls
    from anonymizer.spark.session import local_session

    spark = local_session("local[2]", app_name="staging-bench")
    sampler = TreeSampler().start()

    def timed(label: str, fn: Callable[[], Any]) -> None:
        start = time.monotonic()
        fn()
        end = time.monotonic()
        time.sleep(0.5)  # one more sample after the end
        window = sampler.window(start, end)
        print(
            json.dumps({"what": label, "wall_s": round(end - start, 2), "cpu_s": window["cpu_s"]}), flush=True
        )

    source = args.work / "transformed"
    if not source.exists():
        _transform(spark, args.data, args.config, source)
    rows = spark.read.schema(ls.TRANSFORMED_DDL).parquet(str(source))
    types = sorted(r[0] for r in rows.select("resource_type").distinct().collect())
    mixed_path = (
        args.work / "mixed"
    )  # rows of every type in every partition, as the engine pass hands them over
    if not mixed_path.exists():
        rows.repartition(9).write.option("compression", "none").parquet(str(mixed_path))
    mixed = spark.read.schema(ls.TRANSFORMED_DDL).parquet(str(mixed_path))
    good = F.col("status") != ls.STATUS_QUARANTINED
    for variant in args.variants.split(","):
        how, setting = variant.split(":")
        out = args.work / variant.replace(":", "-")
        shutil.rmtree(out, ignore_errors=True)
        if how == "cache":
            from pyspark import StorageLevel

            staged = mixed.sortWithinPartitions("resource_type").persist(getattr(StorageLevel, setting))
            timed(f"write {variant}", staged.write.format("noop").mode("overwrite").save)
        else:
            if how == "conc":
                spark.conf.set("spark.sql.maxConcurrentOutputFileWriters", "64")
            writer = mixed.write.mode("overwrite").option("compression", setting).partitionBy("resource_type")
            timed(f"write {variant}", lambda w=writer, o=str(out): w.parquet(o))
            spark.conf.unset("spark.sql.maxConcurrentOutputFileWriters")
            staged = spark.read.schema(ls.TRANSFORMED_DDL).parquet(str(out))
        per_type = staged.groupBy("resource_type").agg(
            F.count("*"), F.countDistinct(F.when(good, F.col("id")))
        )
        timed(f"  counts and ids {variant}", per_type.collect)

        def reads(staged: Any = staged) -> None:
            for resource_type in types:
                one = staged.filter(good & (F.col("resource_type") == resource_type))
                one.select("id", "patient_key", "last_updated", "resource_json").write.format("noop").mode(
                    "overwrite"
                ).save()

        timed(f"  per-type reads {variant}", reads)
        if how == "cache":
            staged.unpersist(blocking=True)
        else:
            mb = sum(p.stat().st_size for p in out.rglob("*.parquet")) / 1e6
            print(json.dumps({"what": f"  staged MB {variant}", "mb": round(mb, 1)}), flush=True)
        shutil.rmtree(out, ignore_errors=True)
    sampler.stop()


def _transform(spark: Any, data: Path, config: Path, out: Path) -> None:
    """The engine pass of ``deidentify`` over ``data``, written uncompressed to ``out`` (once)."""
    from anonymizer.engine import Anonymizer
    from anonymizer.spark import line_schema as ls
    from anonymizer.spark.reader import read_lines
    from anonymizer.spark.transform import TransformOptions, make_partition_transform

    engine = Anonymizer.from_config_file(config, as_of=date.fromisoformat(AS_OF))
    transform = make_partition_transform(engine, TransformOptions(source_folder=data.name))
    lines = read_lines(spark, str(data)).mapInArrow(transform, ls.TRANSFORMED_DDL)
    lines.write.mode("overwrite").option("compression", "none").parquet(str(out))


if __name__ == "__main__":
    main()
