"""Read bulk-export NDJSON (plain or gzip, any file names, local folder or Hadoop URI) as lines with their origin."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

#: Files the reader takes; anything else in the landing zone (manifest.json, state, logs) is ignored.
NDJSON_GLOB = "*.{ndjson,ndjson.gz,jsonl,jsonl.gz}"
#: Landing sub-folders that hold non-resource output of an export (deleted-resource Bundles, OperationOutcomes).
EXCLUDED_FOLDERS = ("/deleted/", "/error/", "/_state/")


def read_lines(
    spark: SparkSession, path: str | list[str], files: list[str] | None = None, *, decoded: bool = True
) -> DataFrame:
    """One row per input line: ``value`` (the line), ``source_path`` and ``split_start`` (byte offset of its split).

    Spark's text source splits large plain files for parallelism; lines keep their order within a split,
    which the transform uses to number them. Gzip files are one split each. ``files``: read only these files
    of ``path`` (the readable ones, when unreadable files are skipped). A CRLF line's ``\r`` is dropped.

    ``decoded=False`` leaves invalid UTF-8 in ``value`` as it is in the file (no Java copy of every line), for
    Python readers that take the lines with :func:`anonymizer.spark.line_text.line_texts`, which decodes it as
    the JVM would; with ``decoded`` (the default) every line is converted, invalid UTF-8 replaced by U+FFFD.
    """
    from pyspark.sql import functions as F

    df = (
        spark.read.option("recursiveFileLookup", "true")
        .option("pathGlobFilter", NDJSON_GLOB)
        .option("lineSep", "\n")
        .text(files if files is not None else path)
        .select(
            (without_final_cr(F.col("value")) if not decoded else F.regexp_replace("value", "\r$", "")).alias(
                "value"
            ),
            F.col("_metadata.file_path").alias("source_path"),
            F.col("_metadata.file_block_start").alias("split_start"),
        )
    )
    for folder in EXCLUDED_FOLDERS:
        df = df.filter(~F.col("source_path").contains(folder))
    return df


#: What may follow the ``\r`` that ``\r$`` removes: Java's ``$`` also matches before one final line terminator.
_AFTER_CR = ("", "\u0085", "\u2028", "\u2029")


def without_final_cr(value: Column) -> Column:
    """``value`` without the ``\r`` of a CRLF line ending: ``regexp_replace(value, '\\r$', '')``, which Spark
    evaluates on a Java copy of every line (UTF-8 decoded, scanned, encoded again: about 6 us per 900-byte line),
    applied only to the lines that can match it (a ``\r`` in their last two characters, tested on the bytes); the
    rest pass unchanged, invalid UTF-8 included (see :mod:`anonymizer.spark.line_text`)."""
    from pyspark.sql import functions as F

    can_match = F.lit(False)
    for tail in _AFTER_CR:
        can_match = can_match | value.endswith("\r" + tail)
    return F.when(can_match, F.regexp_replace(value, "\r$", "")).otherwise(value)
