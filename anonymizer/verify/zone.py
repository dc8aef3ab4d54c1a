"""Read what verify compares: the landing folder (NDJSON) and the research zone (Delta tables).

The zone's layout and run summary are those ``deidentify`` writes (:class:`anonymizer.spark.zone.ResearchZone`,
:class:`anonymizer.spark.summary.RunSummary`). Every path goes through Spark (local folders, ``file:`` URIs,
``abfss://``, ``dbfs:/``, ``/Volumes``), on a classic session or Spark Connect; tables of both resource formats
(JSON text or VARIANT) are read as JSON text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from anonymizer.errors import AnonymizerError
from anonymizer.spark import zone_fs
from anonymizer.spark.resource_format import resource_json, table_properties
from anonymizer.spark.summary import RunSummary, SummaryError, read_summary
from anonymizer.spark.zone import QuarantineZone, ResearchZone

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


class ZoneError(AnonymizerError):
    """A landing folder or research zone that cannot be read as documented (message names paths only)."""


def source_paths(spark: SparkSession, source: str) -> list[str]:
    """The landing folders verify compares: the completed exports only, selected exactly as ``deidentify`` does
    (an interrupted export's folder beside the one that finished it is not read twice)."""
    from anonymizer.spark.landing_exports import select_completed_exports

    if not zone_fs.exists(spark, source):
        raise ZoneError(f"source folder not found: {source}")
    try:
        return list(select_completed_exports(spark, source).paths)
    except ValueError as exc:
        raise ZoneError(str(exc)) from None


def read_source_lines(spark: SparkSession, paths: list[str], files: list[str] | None = None) -> DataFrame:
    """Every line of every NDJSON file under ``paths`` (blank ones too: they count as quarantined).

    Columns ``file``, ``line``. ``files``: only these files (the readable ones). ``line`` holds the line's bytes as
    in the file (no Java copy of every line): Python readers take it with
    :func:`anonymizer.spark.line_text.line_texts`, which decodes invalid UTF-8 as the JVM would.
    """
    from pyspark.sql import functions as F

    from anonymizer.spark.reader import read_lines

    # The same reader as `deidentify`, undecoded as there, so both sides see exactly the same lines and text.
    return read_lines(spark, paths, files, decoded=False).select(
        F.col("source_path").alias("file"), F.col("value").alias("line")
    )


def check_source_files(
    spark: SparkSession, paths: list[str], summary: RunSummary | None
) -> tuple[list[str] | None, list[dict[str, Any]], list[str]]:
    """Check the landing files as ``deidentify`` does: ``(files to read or None for all, unreadable, problems)``.

    An unreadable file reconciles when the run skipped it too (listed in the run summary); any other unreadable
    file, or a file the run skipped that reads now, is a problem: its lines are in neither zone.
    """
    from anonymizer.spark.input_files import InputFilesError, check_inputs

    try:
        checks = check_inputs(spark, paths)
    except InputFilesError as exc:
        raise ZoneError(str(exc)) from None
    skipped = {_plain(str(f.get("path", ""))): f for f in (summary.unreadable_files if summary else [])}
    unreadable, problems = [], []
    for check in checks:
        if check.reason:
            by_run = _plain(check.path) in skipped
            unreadable.append({"path": check.path, "size": check.size, "reason": check.reason,
                               "status": "unreadable file" + (", skipped by the run" if by_run else "")})  # fmt: skip
            if not by_run:
                problems.append(f"unreadable file {check.path} ({check.reason}) was not skipped by the run")
        elif _plain(check.path) in skipped:
            problems.append(
                f"{check.path} reads now but the run skipped it as unreadable: its lines are missing"
            )
    readable = [c.path for c in checks if not c.reason]
    return (readable if unreadable else None), unreadable, problems


def _plain(path: str) -> str:
    """A path without the ``file:`` scheme, for comparing what the run and verify saw."""
    return path.removeprefix("file://").removeprefix("file:")


def output_types(spark: SparkSession, zone: ResearchZone) -> list[str]:
    """Resource types with a Delta table in the research zone (``_runs`` and hidden folders excluded)."""
    if not zone_fs.exists(spark, zone.delta_root):
        raise ZoneError(f"research zone has no delta folder: {zone.delta_root}")
    return zone.resource_types(spark)


def read_output(spark: SparkSession, zone: ResearchZone, types: list[str] | None = None) -> DataFrame:
    """All research-zone rows: ``rtype``, ``uid`` (row number key), ``patient_key``, ``json`` (resource).

    ``types``: the zone's resource types when the caller has listed them already (:func:`output_types`; listing
    the zone is a Spark job)."""
    from pyspark.sql import functions as F

    frames = []
    for rtype in output_types(spark, zone) if types is None else types:
        table = spark.read.format("delta").load(zone.table(rtype))
        frames.append(
            table.select(
                F.lit(rtype).alias("rtype"),
                F.col("id").cast("string").alias("id"),
                F.col("patient_key").cast("string").alias("patient_key"),
                F.col("run_id").cast("string").alias("run_id"),
                resource_json(table).alias("json"),
            )
        )
    if not frames:
        raise ZoneError(f"research zone has no resource tables under {zone.delta_root}")
    union = frames[0]
    for frame in frames[1:]:
        union = union.unionByName(frame)
    return union.withColumn("uid", F.monotonically_increasing_id())


def read_run_summary(spark: SparkSession, zone: ResearchZone) -> RunSummary | None:
    """The zone's run summary, or None when it has none."""
    try:
        return read_summary(spark, zone)
    except SummaryError as exc:
        raise ZoneError(str(exc)) from None


def read_quarantine_counts(
    spark: SparkSession, quarantine: QuarantineZone, run_id: str | None
) -> dict[str, int]:
    """Quarantined lines per resource type (``unknown`` when none) from the quarantine Delta table."""
    from pyspark.sql import functions as F

    from anonymizer.spark.input_files import UNREADABLE_FILE

    if table_properties(spark, quarantine.table) is None:
        if not zone_fs.exists(spark, quarantine.root):
            raise ZoneError(f"quarantine folder not found: {quarantine.root}")
        return {}  # no line was ever quarantined there
    df = spark.read.format("delta").load(quarantine.table)
    if run_id:
        df = df.where(F.col("run_id") == run_id)
    # file-level records: reconciled as files, not lines
    df = df.where(F.col("reason") != F.lit(UNREADABLE_FILE))
    rows = df.groupBy(F.coalesce(F.col("resource_type"), F.lit("unknown")).alias("t")).count().collect()
    return {row["t"]: int(row["count"]) for row in rows}
