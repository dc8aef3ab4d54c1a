"""Spark settings, Delta JAR resolution errors, and the session fixture writing a real Delta table."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from anonymizer.spark import jars
from anonymizer.spark.settings import (
    REQUIRED_CONF,
    delta_artifact,
    delta_maven_coordinates,
    local_cores,
    local_read_conf,
    merged_conf,
)


def test_required_settings_cover_delta_utc_and_arrow() -> None:
    assert REQUIRED_CONF["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert REQUIRED_CONF["spark.sql.session.timeZone"] == "UTC"
    assert REQUIRED_CONF["spark.sql.execution.arrow.pyspark.enabled"] == "true"
    assert "spark.master" not in REQUIRED_CONF


def test_overrides_win() -> None:
    assert merged_conf({"a": "1"}, {"a": "2", "b": "1"}, overrides={"b": "9"}) == {"a": "2", "b": "9"}


@pytest.mark.parametrize(
    ("master", "cores"),
    [("local", 1), ("local[3]", 3), ("local[3,2]", 3), ("local[*]", os.cpu_count() or 1), ("yarn", 1)],
)
def test_local_sessions_ask_for_a_few_input_splits_per_core(master: str, cores: int) -> None:
    assert local_cores(master) == cores
    assert local_read_conf(master) == {"spark.sql.files.minPartitionNum": str(4 * cores)}


def test_delta_coordinates_match_installed_versions() -> None:
    from importlib import metadata

    coords = delta_maven_coordinates()
    assert coords.startswith("io.delta:delta-spark_4.2_2.13:")
    assert coords.endswith(metadata.version("delta-spark"))


@pytest.mark.parametrize(
    ("spark_version", "delta_version", "artifact"),
    [
        ("3.5.3", "3.2.1", "delta-spark_2.12"),
        ("3.5.2", "3.3.0", "delta-spark_2.12"),
        ("4.0.1", "4.0.1", "delta-spark_2.13"),
        ("4.1.0", "4.1.0", "delta-spark_4.1_2.13"),
        ("4.2.0", "4.4.0", "delta-spark_4.2_2.13"),
    ],
)
def test_delta_artifact_per_spark_delta_pair(spark_version: str, delta_version: str, artifact: str) -> None:
    assert delta_artifact(spark_version, delta_version) == artifact
    assert delta_maven_coordinates(spark_version, delta_version) == f"io.delta:{artifact}:{delta_version}"


IVY_NOT_FOUND = """\
\tHost repos.spark-packages.org not found. url=https://repos.spark-packages.org/io/delta/x.pom
\t\tmodule not found: io.delta#delta-spark_2.13;0.0.1
\t\t:: io.delta#delta-spark_2.13;0.0.1: not found
"""
IVY_UNREACHABLE = """\
\tServer access error at url https://repo1.maven.org/x.pom (java.net.UnknownHostException: repo1.maven.org)
\t\tmodule not found: io.delta#delta-spark_2.13;4.0.0
"""


@pytest.mark.parametrize(
    ("output", "kind", "evidence"),
    [
        (IVY_NOT_FOUND, "artifact_not_found", "module not found: io.delta#delta-spark_2.13;0.0.1"),
        (IVY_UNREACHABLE, "unreachable", "UnknownHostException"),
        ("/bin/spark-class: line 71: JAVA_HOME is not set", "no_java", "JAVA_HOME"),
        ("something else", "unknown", "dependency resolution failed"),
    ],
)
def test_resolution_failures_are_told_apart(output: str, kind: str, evidence: str) -> None:
    found, line = jars.classify_failure(output)
    assert found == kind and evidence in line


def test_not_found_message_says_the_repository_was_reached() -> None:
    message = jars.failure_message("io.delta:delta-spark_2.13:0.0.1", IVY_NOT_FOUND)
    assert "was reached but has no io.delta:delta-spark_2.13:0.0.1" in message
    assert "unreachable" not in message and "Could not reach" not in message


def test_missing_java_is_reported_before_resolving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(jars.CACHE_ENV, str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(jars.JarResolutionError, match="Java was not found"):
        jars.ensure_delta_jars(coordinates="io.delta:delta-spark_2.13:4.0.0", quiet=True)


@pytest.mark.spark
def test_unreachable_repository_is_not_reported_as_a_missing_artifact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every HTTP(S) request of Ivy goes to a closed local port: the repository cannot be reached.
    monkeypatch.setenv(jars.CACHE_ENV, str(tmp_path))
    proxy = "-Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=9 -Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort=9"
    monkeypatch.setenv("SPARK_SUBMIT_OPTS", proxy)
    with pytest.raises(jars.JarResolutionError, match="Could not reach Maven Central") as info:
        jars.ensure_delta_jars(coordinates="io.delta:delta-spark_2.13:4.0.0", quiet=True)
    assert "Connection refused" in str(info.value)


def test_empty_jar_folder_gives_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(jars.JARS_DIR_ENV, str(tmp_path))
    with pytest.raises(jars.JarResolutionError, match="contains no .jar files"):
        jars.ensure_delta_jars()


def test_unreachable_repository_message_says_what_to_do() -> None:
    message = jars.failure_message("io.delta:x:1", IVY_UNREACHABLE)
    assert "Maven Central" in message and jars.JARS_DIR_ENV in message and "Traceback" not in message


@pytest.mark.spark
def test_session_writes_and_reads_delta_with_variant(spark, tmp_path: Path) -> None:
    from chispa import assert_df_equality

    path = str(tmp_path / "t")
    df = spark.sql('select 1 as id, parse_json(\'{"gender":"female"}\') as resource')
    df.write.format("delta").save(path)
    back = spark.read.format("delta").load(path).selectExpr("id", "resource:gender::string as gender")
    expected = spark.createDataFrame([(1, "female")], "id int, gender string")
    assert_df_equality(
        back, expected, ignore_nullable=True, ignore_row_order=False, ignore_column_order=False
    )
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"


@pytest.mark.spark
def test_local_session_reads_parquet_chunks_in_bounded_buffers(spark, tmp_path: Path) -> None:
    """Hadoop's vectored read is off and a column chunk larger than one 256 KiB buffer reads back intact."""
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    assert hadoop.get("parquet.hadoop.vectored.io.enabled") == "false"
    assert hadoop.get("parquet.read.allocation.size") == "262144"
    path = str(tmp_path / "wide")
    rows = spark.range(3000).selectExpr("id", "sha2(cast(id as string), 512) || repeat('x', 900) as text")
    rows.coalesce(1).write.option("compression", "none").parquet(path)
    chunk_bytes = sum(p.stat().st_size for p in Path(path).glob("*.parquet"))
    assert chunk_bytes > 4 * 262144  # the text column's chunk spans several read buffers
    back = spark.read.parquet(path)
    assert back.count() == 3000
    assert back.exceptAll(rows).count() == 0 and rows.exceptAll(back).count() == 0


@pytest.mark.spark
def test_local_session_jvm_runs_the_throughput_collector(spark) -> None:
    """The local JVM runs ParallelGC (LOCAL_JVM_OPTIONS), with or without the quiet log configuration."""
    from anonymizer.spark.session import local_jvm_options

    management = spark.sparkContext._jvm.java.lang.management.ManagementFactory
    collectors = {bean.getName() for bean in management.getGarbageCollectorMXBeans()}
    assert collectors == {"PS Scavenge", "PS MarkSweep"}
    quiet = local_jvm_options(verbose=False).split()
    assert quiet[0] == "-XX:+UseParallelGC" and "quiet-log4j2.properties" in quiet[1]
    assert quiet[2].startswith("-Dfhir_anonymizer.logfile=")  # the log file the quiet configuration writes to
    assert local_jvm_options(verbose=True) == "-XX:+UseParallelGC"
