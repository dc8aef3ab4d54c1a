"""Spark settings the pipeline needs, in one PySpark-free place.

The CLI, the tests, the notebooks and the benchmark all build their sessions from these dicts;
``spark-submit`` and Databricks users get the same values documented as ``--conf`` flags in the README.
Nothing here imports PySpark, so ``fhir-anonymizer --help`` stays fast.
"""

from __future__ import annotations

from importlib import metadata

#: Settings every session that runs the pipeline must have (Delta catalog, UTC, Arrow batches).
REQUIRED_CONF: dict[str, str] = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Arrow batches of this many rows reach the engine in one call.
    "spark.sql.execution.arrow.maxRecordsPerBatch": "2000",
}

#: Sensible defaults for a local session (the CLI without --master, tests, demo, benchmark).
LOCAL_DEFAULTS: dict[str, str] = {
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
    # Small Delta log caches: local tables are small and many.
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2",
    # Parquet reads a row group's column chunks in heap buffers of 256 KiB instead of one buffer per chunk (Hadoop's
    # vectored read, on by default since Parquet 1.14: tens of MB per chunk of the staged rows at 1 GB of input,
    # each a humongous G1 allocation that took the driver's heap to its cap in publish; docs/performance.md).
    "spark.hadoop.parquet.hadoop.vectored.io.enabled": "false",
    "spark.hadoop.parquet.read.allocation.size": "262144",
    # Generated classes kept for reuse (Spark's default 100; a static setting, so only at session start). One run of
    # the starter views alone generates about 110 classes and a Delta scan-and-write about 35: with 100, a session
    # that runs anything between two views runs (a notebook, the benchmark's rounds) evicts part of the views'
    # classes, and the next run compiles 30-40 of them again with Janino and the JIT recompiles their hot methods
    # from scratch. Same session, views and a scan-and-write alternating: 0 compilations per warm round with 1000
    # against 38-41 with 100; views 8.9-10.5 s against 9.5-11.9 s (docs/performance.md, twenty-second session). Each
    # class is a few kB of metaspace.
    "spark.sql.codegen.cache.maxEntries": "1000",
}

#: JVM options of a local session's Spark JVM (driver and executor in one process). A local run is a batch job on
#: a few cores, so the throughput collector fits it better than the JVM's default G1, which trades CPU for short
#: pauses: over the views benchmark's warm runs GC took 2.9-3.9 CPU-s with it against 7.5-8.5 with G1, and the
#: views' wall time fell by 14-19% (docs/performance.md). A user's own ``spark.driver.extraJavaOptions`` replaces it.
LOCAL_JVM_OPTIONS: tuple[str, ...] = ("-XX:+UseParallelGC",)

#: What the views job's local session adds to the local defaults: a 2 GiB heap instead of Spark's 1 GiB. A local
#: session runs every task in the driver's JVM, and the views job keeps a resource type's parsed rows cached while
#: its views are written, next to Delta's cached state of every source and view table: with 1 GiB the old
#: generation stays nearly full. Same process, warm rounds, views / scan-and-write medians 1.52-1.57 with 2 GiB
#: against 1.76-1.79 with 1 GiB; the scan-and-write itself unchanged (docs/views.md). Only for a session the
#: ``views`` command starts itself; ``--conf spark.driver.memory=...`` wins.
VIEWS_LOCAL_CONF: dict[str, str] = {"spark.driver.memory": "2g"}

#: Input splits per core a local session asks Spark for (``spark.sql.files.minPartitionNum``; Spark's default is
#: one per core). The engine's cost per byte differs several-fold between resource types, and Spark packs many
#: small files into one split, so with one split per core one core may anonymize most of a small export alone.
SPLITS_PER_CORE = 4


def local_cores(master: str) -> int:
    """Cores of a ``local``, ``local[N]``, ``local[*]`` or ``local[N,F]`` master (1 for anything else)."""
    import os
    import re

    found = re.fullmatch(r"local(?:\[(\*|\d+)(?:,\d+)?\])?", master.strip())
    if not found or not found.group(1):
        return 1
    if found.group(1) == "*":
        return os.cpu_count() or 1
    return int(found.group(1))


def local_read_conf(master: str) -> dict[str, str]:
    """The input-split setting of a local session (see :data:`SPLITS_PER_CORE`); at 128 MB splits it changes nothing."""
    return {"spark.sql.files.minPartitionNum": str(SPLITS_PER_CORE * local_cores(master))}


#: What the test fixture adds on top of the local defaults.
TEST_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "1",
    "spark.default.parallelism": "1",
    "spark.databricks.delta.delta.log.cacheSize": "3",
    "spark.sql.adaptive.enabled": "false",
}


def delta_artifact(spark_version: str, delta_version: str) -> str:
    """Maven artifact id of the Delta JAR for one Spark/Delta pair.

    Delta 3.x is built for Scala 2.12 (``delta-spark_2.12``), 4.0.x for Scala 2.13 (``delta-spark_2.13``);
    from Delta 4.1 on the artifact also names the Spark line (``delta-spark_<spark major.minor>_2.13``).
    """
    delta_major, delta_minor = (int(p) for p in delta_version.split(".")[:2])
    if delta_major < 4:
        return "delta-spark_2.12"
    if (delta_major, delta_minor) == (4, 0):
        return "delta-spark_2.13"
    spark_line = ".".join(spark_version.split(".")[:2])
    return f"delta-spark_{spark_line}_2.13"


def delta_maven_coordinates(spark_version: str | None = None, delta_version: str | None = None) -> str:
    """Maven coordinates of the Delta JAR for the given (default: the installed) pyspark and delta-spark."""
    spark_version = spark_version or metadata.version("pyspark")
    delta_version = delta_version or metadata.version("delta-spark")
    return f"io.delta:{delta_artifact(spark_version, delta_version)}:{delta_version}"


def merged_conf(*layers: dict[str, str], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Merge settings layers left to right; ``overrides`` (e.g. ``--conf k=v``) win."""
    out: dict[str, str] = {}
    for layer in layers:
        out.update(layer)
    if overrides:
        out.update(overrides)
    return out
