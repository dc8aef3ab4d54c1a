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
}

#: What the test fixture adds on top of the local defaults.
TEST_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "1",
    "spark.default.parallelism": "1",
    "spark.databricks.delta.delta.log.cacheSize": "3",
    "spark.sql.adaptive.enabled": "false",
}


def delta_maven_coordinates() -> str:
    """Maven coordinates of the Delta JAR matching the installed pyspark and delta-spark.

    Mirrors ``delta.pip_utils.configure_spark_with_delta_pip`` (artifact ``delta-spark_<spark major.minor>_2.13``).
    """
    spark_version = metadata.version("pyspark")
    delta_version = metadata.version("delta-spark")
    major_minor = ".".join(spark_version.split(".")[:2])
    return f"io.delta:delta-spark_{major_minor}_2.13:{delta_version}"


def merged_conf(*layers: dict[str, str], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Merge settings layers left to right; ``overrides`` (e.g. ``--conf k=v``) win."""
    out: dict[str, str] = {}
    for layer in layers:
        out.update(layer)
    if overrides:
        out.update(overrides)
    return out
