"""Read bulk-export NDJSON (plain or gzip, any file names, local folder or Hadoop URI) as lines with their origin."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: Files the reader takes; anything else in the landing zone (manifest.json, state, logs) is ignored.
NDJSON_GLOB = "*.{ndjson,ndjson.gz,jsonl,jsonl.gz}"
#: Landing sub-folders that hold non-resource output of an export (deleted-resource Bundles, OperationOutcomes).
EXCLUDED_FOLDERS = ("/deleted/", "/error/", "/_state/")


def read_lines(spark: SparkSession, path: str | list[str], files: list[str] | None = None) -> DataFrame:
    """One row per input line: ``value`` (the line), ``source_path`` and ``split_start`` (byte offset of its split).

    Spark's text source splits large plain files for parallelism; lines keep their order within a split,
    which the transform uses to number them. Gzip files are one split each. ``files``: read only these files
    of ``path`` (the readable ones, when unreadable files are skipped).
    """
    from pyspark.sql import functions as F

    df = (
        spark.read.option("recursiveFileLookup", "true")
        .option("pathGlobFilter", NDJSON_GLOB)
        .option("lineSep", "\n")
        .text(files if files is not None else path)
        .select(
            F.regexp_replace("value", "\r$", "").alias("value"),
            F.col("_metadata.file_path").alias("source_path"),
            F.col("_metadata.file_block_start").alias("split_start"),
        )
    )
    for folder in EXCLUDED_FOLDERS:
        df = df.filter(~F.col("source_path").contains(folder))
    return df
