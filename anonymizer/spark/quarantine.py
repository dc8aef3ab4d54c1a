"""The quarantine: every line that did not become an output row, with file, line number and reason (PHI: raw line)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from anonymizer.spark.zone import QUARANTINE_DDL, QuarantineZone

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def with_line_numbers(spark: SparkSession, rows: DataFrame, input_lines: DataFrame) -> DataFrame:
    """Turn (split_start, line_in_split) into a 1-based line number in the file.

    Lines of a file's first split are numbered directly; for later splits (large plain files) the lines of the
    earlier splits of that file are counted — only for files that have quarantined lines in a later split.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    later = rows.filter("split_start > 0").select("source_file").distinct()
    if later.isEmpty():
        return rows.withColumn("line_number", F.col("line_in_split"))
    counts = (
        input_lines.join(later.withColumnRenamed("source_file", "source_path"), "source_path")
        .groupBy("source_path", "split_start")
        .count()
    )
    before = (
        Window.partitionBy("source_path").orderBy("split_start").rowsBetween(Window.unboundedPreceding, -1)
    )
    offsets = counts.select(
        F.col("source_path").alias("source_file"),
        "split_start",
        F.coalesce(F.sum("count").over(before), F.lit(0)).alias("_lines_before"),
    )
    return (
        rows.join(offsets, ["source_file", "split_start"], "left")
        .withColumn("line_number", F.col("line_in_split") + F.coalesce("_lines_before", F.lit(0)))
        .drop("_lines_before")
    )


def append_quarantine(rows: DataFrame, quarantine: QuarantineZone, run_id: str) -> None:
    """Append this run's quarantined lines to the quarantine Delta table."""
    from pyspark.sql import functions as F

    rows.select(
        F.lit(run_id).alias("run_id"),
        "source_file",
        "line_number",
        "resource_type",
        "reason",
        "detail",
        "raw_line",
    ).write.format("delta").mode("append").save(quarantine.table)


def append_unreadable_files(
    spark: SparkSession, files: list[tuple[str, int, str]], quarantine: QuarantineZone, run_id: str
) -> None:
    """One file-level record per unreadable file ``(path, size, reason)``: no line number, no raw line."""
    from anonymizer.spark.input_files import UNREADABLE_FILE

    rows = [
        (run_id, path, None, None, UNREADABLE_FILE, f"{reason} ({size} bytes)", None)
        for path, size, reason in files
    ]
    spark.createDataFrame(rows, QUARANTINE_DDL).write.format("delta").mode("append").save(quarantine.table)
