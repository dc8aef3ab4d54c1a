"""Failures as one line that names the file, table or setting, the cause and what to do; never data or keys.

The Spark-backed cases (truncated gzip, missing input, unwritable output, missing Delta JARs, a real Spark error
through the CLI) are in tests/spark/test_failure_messages.py. Delta write conflicts, driver out-of-memory and an
unreachable Spark Connect server cannot be produced reliably on a shared 2-core machine (and the Connect client is
not installed), so their recognition is checked here on the exception texts Delta, the JVM and gRPC produce.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from anonymizer.cli.errors import CliError, cause_of, unwrap_java_error, write_failure_log
from anonymizer.spark.failures import diagnose
from anonymizer.spark.preflight import PreflightError, require_writable

PLANTED = "Sumiko254 Larue605"  # a value from the data that must never reach a message


class Py4JJavaError(Exception):
    """Stands in for py4j's class of the same name only by its text: what :func:`diagnose` reads."""


def _java(text: str) -> Exception:
    return Py4JJavaError(
        f"An error occurred while calling o88.save.\n: {text}\n\tat org.apache.Foo.bar(Foo.java:1)"
    )


def test_delta_conflict_names_the_table_and_says_what_to_do() -> None:
    exc = _java(
        "io.delta.exceptions.ConcurrentAppendException: [DELTA_CONCURRENT_APPEND] ConcurrentAppendException: "
        "Files were added to the root of the table by a concurrent update. Please try the operation again."
    )
    line = diagnose(exc, table="/zone/delta/Patient")
    assert line is not None
    assert "another job changed the Delta table /zone/delta/Patient" in line
    assert "ConcurrentAppendException" in line and "one deidentify per research zone" in line


def test_driver_out_of_memory_names_the_setting_to_raise() -> None:
    line = diagnose(_java("java.lang.OutOfMemoryError: Java heap space"))
    assert line is not None and "ran out of memory (Java heap space)" in line
    assert "--conf spark.driver.memory=8g" in line
    big = _java(
        "org.apache.spark.SparkException: Job aborted due to stage failure: Total size of serialized results "
        "of 3 tasks (1100.0 MiB) is bigger than spark.driver.maxResultSize (1024.0 MiB)"
    )
    assert "spark.driver.maxResultSize=4g" in (diagnose(big) or "")
    assert "spark.driver.memory" in (diagnose(MemoryError()) or "")


def test_spark_connect_unreachable() -> None:
    class SparkConnectGrpcException(Exception):
        pass

    exc = SparkConnectGrpcException(
        "<_MultiThreadedRendezvous of RPC that terminated with:\n\tstatus = StatusCode.UNAVAILABLE\n\t"
        'details = "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:15002: '
        'Failed to connect to remote host: Connection refused"'
    )
    line = diagnose(exc)
    assert line is not None and line.startswith(
        "cannot reach the Spark Connect server at ipv4:127.0.0.1:15002"
    )
    assert (
        diagnose(ConnectionRefusedError("Connection refused")) is None
    )  # not every refusal is Spark Connect


def test_missing_delta_says_how_to_get_it() -> None:
    for text in (
        "org.apache.spark.SparkClassNotFoundException: [DATA_SOURCE_NOT_FOUND] Failed to find the data source: "
        "delta. Make sure the provider name is correct",
        "org.apache.spark.SparkException: Cannot find catalog plugin class for catalog 'spark_catalog': "
        "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    ):
        line = diagnose(_java(text)) or ""
        assert line.startswith("Delta Lake is not available") and "fhir-anonymizer setup" in line


def test_truncated_gzip_read_by_spark_names_the_file() -> None:
    exc = _java(
        "org.apache.spark.SparkException: [FAILED_READ_FILE.NO_HINT] Encountered error while reading file "
        "file:///landing/Observation.000.ndjson.gz. SQLSTATE: KD001\nCaused by: java.io.EOFException: "
        "Unexpected end of input stream"
    )
    line = diagnose(exc) or ""
    assert line.startswith(
        "cannot read file:///landing/Observation.000.ndjson.gz: the gzip stream ends early"
    )
    assert "--skip-unreadable-files" in line


def test_unwritable_and_missing_paths() -> None:
    denied = _java(
        "java.io.IOException: Mkdirs failed to create file:/ro/research/delta/Patient (exists=false)"
    )
    assert (diagnose(denied) or "").startswith(
        "cannot write file:/ro/research/delta/Patient: its folder cannot"
    )
    missing = _java(
        "org.apache.spark.sql.AnalysisException: [PATH_NOT_FOUND] Path does not exist: file:/x/y."
    )
    assert (
        diagnose(missing)
        == "not found: file:/x/y: check the path (and, for a cloud URI, the storage credentials)"
    )


def test_an_unknown_failure_shows_exception_classes_never_their_messages() -> None:
    exc = _java(
        f"org.apache.spark.SparkRuntimeException: [CAST_INVALID_INPUT] The value '{PLANTED}' of the type "
        "STRING cannot be cast to INT\nCaused by: java.lang.NumberFormatException: For input string: "
        f"{PLANTED}"
    )
    assert diagnose(exc) is None
    line = unwrap_java_error(exc)
    assert PLANTED not in line
    assert line == (
        "Py4JJavaError: org.apache.spark.SparkRuntimeException <- java.lang.NumberFormatException "
        "[CAST_INVALID_INPUT]"
    )


def test_stack_traces_go_to_a_private_log_file(tmp_path: Path) -> None:
    try:
        try:
            raise _java("java.io.EOFException: Unexpected end of input stream")
        except Exception:
            raise CliError("cannot read the input") from None
    except CliError as exc:
        cause = cause_of(exc)
    assert cause is not None
    log = tmp_path / "logs" / "run.log"
    assert write_failure_log(log, cause)
    assert "java.io.EOFException" in log.read_text() and "Traceback" in log.read_text()
    assert log.stat().st_mode & 0o077 == 0
    assert cause_of(CliError("usage")) is None


def test_output_that_cannot_be_created_is_refused_before_the_run(tmp_path: Path) -> None:
    afile = tmp_path / "a-file"
    afile.write_text("x")
    with pytest.raises(
        PreflightError, match=r"cannot write --output .*a-file/research: .*is a file, not a folder"
    ):
        require_writable(str(afile / "research"), "--output")
    with pytest.raises(PreflightError, match="it is a file, not a folder"):
        require_writable(str(afile), "--output")
    require_writable(str(tmp_path / "new" / "research"), "--output")
    require_writable(
        "abfss://zone@acct.dfs.core.windows.net/research", "--output"
    )  # left to the storage layer
