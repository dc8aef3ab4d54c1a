"""Spark, Delta and py4j failures turned into one line a user can act on: what failed, why, and what to do.

Errors arrive as ``py4j.protocol.Py4JJavaError`` (classic PySpark: the Java stack trace is in its text) or as
``pyspark.errors`` exceptions (classic and Spark Connect: an error class and a message). :func:`diagnose` reads
the text of the exception and of its causes and recognises the failures a user can fix. The line it returns
names paths, tables, settings and exception class names only: never a value from the data, never a key.
Nothing here imports PySpark.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_GZIP_TRUNCATED = ("Unexpected end of input stream", "Unexpected end of ZLIB input stream")
_GZIP_INVALID = ("Not in GZIP format", "not in gzip format", "invalid block type", "incorrect header check")
_DELTA_CONFLICTS = (
    "ConcurrentAppendException", "ConcurrentWriteException", "ConcurrentDeleteReadException",
    "ConcurrentDeleteDeleteException", "ConcurrentTransactionException", "MetadataChangedException",
    "ProtocolChangedException", "DELTA_CONCURRENT_",
)  # fmt: skip
_DELTA_MISSING = (
    "ClassNotFoundException: io.delta", "ClassNotFoundException: org.apache.spark.sql.delta",
    "Cannot find catalog plugin class for catalog 'spark_catalog'", "Failed to find the data source: delta",
    "Failed to find data source: delta", "[DATA_SOURCE_NOT_FOUND] Failed to find the data source: delta",
)  # fmt: skip
_UNWRITABLE = (
    ("Permission denied", "permission denied"),
    ("AccessDeniedException", "permission denied"),
    ("Read-only file system", "the file system is read-only"),
    ("Not a directory", "a parent of it is a file, not a folder"),
    ("Mkdirs failed to create", "its folder cannot be created"),
    ("ParentNotDirectoryException", "a parent of it is a file, not a folder"),
)
_CONNECT_DOWN = (
    "failed to connect to all addresses", "StatusCode.UNAVAILABLE", "Connection refused",
    "SparkConnectGrpcException", "CONNECT_URL_NOT_SET", "Cannot connect to Spark Connect",
)  # fmt: skip
_PATH = r"((?:file|abfss|wasbs|s3a|gs|hdfs|dbfs):[^\s'\",;]+|/[^\s'\",;:]+)"


def failure_text(exc: BaseException) -> str:
    """The text of an exception and of every exception it was raised from (class names included)."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(f"{type(current).__name__}: {_text(current)}")
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def _text(exc: BaseException) -> str:
    """``str(exc)``; a Py4JJavaError reads its Java stack trace from the JVM, which may be gone (out of memory)."""
    try:
        return str(exc)
    except Exception:
        return ""


def diagnose(exc: BaseException, *, table: str | None = None) -> str | None:
    """One line for a failure a user can fix (see the module docstring), or None when it is not recognised.

    Args:
        table: the Delta table being written when the failure happened, named in the message.
    """
    text = failure_text(exc)
    for check in _CHECKS:
        line = check(exc, text, table)
        if line:
            return line
    return None


def _out_of_memory(exc: BaseException, text: str, table: str | None) -> str | None:
    if "maxResultSize" in text:
        return (
            "the results sent to the Spark driver are bigger than spark.driver.maxResultSize: raise it, "
            "e.g. --conf spark.driver.maxResultSize=4g (and spark.driver.memory with it)"
        )
    if "OutOfMemoryError" in text or isinstance(exc, MemoryError) or "GC overhead limit exceeded" in text:
        kind = "Java heap space" if "Java heap space" in text else "out of memory"
        return (
            f"the Spark driver ran out of memory ({kind}): raise the driver memory, e.g. "
            "--conf spark.driver.memory=8g (spark-submit: --driver-memory 8g; local runs execute every task in "
            "the driver), or on a cluster --conf spark.executor.memory=8g for the executors"
        )
    return None


def _connect_unreachable(exc: BaseException, text: str, table: str | None) -> str | None:
    if not any(marker in text for marker in _CONNECT_DOWN):
        return None
    if "SparkConnect" not in text and "grpc" not in text.lower() and "sc://" not in text:
        return None  # "Connection refused" alone is not about Spark Connect
    where = re.search(r"(sc://[^\s'\"]+|ipv[46]:[^\s'\",]+)", text)
    target = f" at {where.group(1)}" if where else ""
    return (
        f"cannot reach the Spark Connect server{target} (connection refused or unavailable): check the sc:// "
        "URL (host, port, token) and that the server is running, or drop it to run Spark locally"
    )


def _delta_missing(exc: BaseException, text: str, table: str | None) -> str | None:
    if not any(marker in text for marker in _DELTA_MISSING):
        return None
    return (
        "Delta Lake is not available in this Spark session (its classes are not on the classpath): run "
        "`fhir-anonymizer setup` once for local runs, or start Spark with the Delta package (spark-submit "
        "--packages io.delta:delta-spark_<spark>_2.13:<version> and the two spark.sql Delta settings in the README)"
    )


def _delta_conflict(exc: BaseException, text: str, table: str | None) -> str | None:
    found = next((marker for marker in _DELTA_CONFLICTS if marker in text), None)
    if found is None:
        return None
    name = found.rstrip("_") if not found.startswith("DELTA_") else "a concurrent transaction"
    where = f"the Delta table {table}" if table else "a Delta table of the research zone"
    return (
        f"another job changed {where} while this run was writing it ({name}): run one deidentify per research "
        "zone at a time, then run this one again (MERGE makes a re-run idempotent)"
    )


def _unreadable_input(exc: BaseException, text: str, table: str | None) -> str | None:
    truncated = any(marker in text for marker in _GZIP_TRUNCATED)
    invalid = any(marker in text for marker in _GZIP_INVALID)
    if not (truncated or invalid):
        return None
    path = re.search(r"(?:reading file|file) " + _PATH, text)
    name = path.group(1).rstrip(".") if path else "an input file"
    cause = (
        "the gzip stream ends early: the file is truncated (an interrupted download?)"
        if truncated
        else "it is not valid gzip data"
    )
    return f"cannot read {name}: {cause}. Replace it, or re-run with --skip-unreadable-files"


def _path_not_found(exc: BaseException, text: str, table: str | None) -> str | None:
    found = re.search(r"Path does not exist: " + _PATH, text)
    if not found and "PATH_NOT_FOUND" not in text:
        return None
    name = found.group(1).rstrip(".") if found else "a path"
    return f"not found: {name}: check the path (and, for a cloud URI, the storage credentials)"


def _unwritable(exc: BaseException, text: str, table: str | None) -> str | None:
    cause = next((words for marker, words in _UNWRITABLE if marker in text), None)
    if cause is None:
        return None
    path = re.search(r"(?:Mkdirs failed to create|AccessDeniedException:|Permission denied:?) " + _PATH, text)
    name = path.group(1).rstrip(".") if path else (table or "the output location")
    return (
        f"cannot write {name}: {cause}: choose a location this user can write (--output, --quarantine) "
        "or fix its permissions"
    )


_CHECKS: tuple[Callable[[BaseException, str, str | None], str | None], ...] = (
    _out_of_memory,
    _connect_unreachable,
    _delta_missing,
    _delta_conflict,
    _unreadable_input,
    _path_not_found,
    _unwritable,
)
