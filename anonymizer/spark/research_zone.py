"""Write anonymized rows into the research zone: one Delta table per resource type (MERGE on id) and NDJSON.

Only DataFrame operations and Delta SQL (``MERGE``, ``CREATE OR REPLACE``, ``DESCRIBE DETAIL``): the same code
runs on a classic session, on Spark Connect, and on every Delta line of the support matrix.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING

from anonymizer.spark import zone_fs
from anonymizer.spark.resource_format import (
    DEFAULT_RESOURCE_FORMAT,
    FORMAT_PROPERTY,
    ResourceFormatError,
    quoted_path,
    resource_column,
    table_resource_format,
)
from anonymizer.spark.zone import ResearchZone

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_view_numbers = itertools.count()
#: The columns of a research table, in order; ``resource`` (the whole resource, JSON text or VARIANT) is last.
TABLE_COLUMNS = ("id", "patient_key", "last_updated", "run_id", "resource")
#: Delta collects file statistics (min, max, nulls) on the first this many columns only: the keys, not
#: ``resource``. Its min/max (the first 32 characters of a JSON text that starts with ``{"resourceType":...``)
#: skip no file for any query, and collecting them cost about 1 CPU-s per 18-table publish (about a tenth of it
#: at x1 and x10, ``docs/performance.md``).
STATS_COLUMNS = TABLE_COLUMNS.index("resource")


def delta_path(output: str, resource_type: str) -> str:
    """Location of the Delta table of one resource type (``ResearchZone(output).table(resource_type)``)."""
    return ResearchZone(output).table(resource_type)


def table_rows(
    rows: DataFrame,
    run_id: str,
    *,
    has_duplicates: bool = True,
    resource_format: str = DEFAULT_RESOURCE_FORMAT,
) -> DataFrame:
    """Rows of one type shaped for its Delta table, duplicates of an id collapsed to the newest ``last_updated``.

    ``has_duplicates=False`` (the caller counted distinct ids) skips the de-duplicating shuffle.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    shaped = rows.select(
        "id",
        "patient_key",
        # SQL try_cast: Spark 3.5 has it in SQL but not as Column.try_cast.
        F.expr("try_cast(last_updated AS timestamp)").alias("last_updated"),
        F.lit(run_id).alias("run_id"),
        resource_column(resource_format),
    )
    if not has_duplicates:
        return shaped
    newest_first = Window.partitionBy("id").orderBy(F.col("last_updated").desc_nulls_last())
    return shaped.withColumn("_rank", F.row_number().over(newest_first)).filter("_rank = 1").drop("_rank")


def _temp_view(rows: DataFrame, stem: str) -> str:
    name = f"_fhir_anonymizer_{stem}_{next(_view_numbers)}"
    rows.createOrReplaceTempView(name)
    return name


def merge_into_table(
    spark: SparkSession,
    rows: DataFrame,
    path: str,
    *,
    overwrite: bool = False,
    resource_format: str = DEFAULT_RESOURCE_FORMAT,
) -> None:
    """Upsert by id: insert new ids, replace existing ones unless the stored version is newer.

    With ``overwrite`` (or no table yet) the table is replaced by this run's rows in one commit that also
    records ``resource_format`` as a table property (history kept), with file statistics on the key columns
    only (:data:`STATS_COLUMNS`). Merging rows of one format into a table
    of the other raises :class:`ResourceFormatError`.
    """
    existing = None if overwrite or _surely_missing(path) else table_resource_format(spark, path)
    view = _temp_view(rows, "rows")
    try:
        if overwrite or existing is None:
            create_or_replace(
                path,
                lambda replace: spark.sql(
                    f"{'CREATE OR REPLACE' if replace else 'CREATE'} TABLE {quoted_path(path)} USING DELTA "
                    f"TBLPROPERTIES ('{FORMAT_PROPERTY}' = '{resource_format}', "
                    f"'delta.dataSkippingNumIndexedCols' = '{STATS_COLUMNS}') AS SELECT * FROM {view}"
                ),
            )
            return
        if existing != resource_format:
            raise ResourceFormatError(
                f"the table {path} stores resources as {existing}, this run writes {resource_format}: "
                f"use --resource-format {existing}, or --mode overwrite to rewrite the table"
            )
        spark.sql(
            f"MERGE INTO {quoted_path(path)} AS t USING {view} AS s ON t.id = s.id "
            "WHEN MATCHED AND (t.last_updated IS NULL OR s.last_updated IS NULL "
            "OR s.last_updated >= t.last_updated) THEN UPDATE SET * "
            "WHEN NOT MATCHED THEN INSERT *"
        )
    finally:
        spark.catalog.dropTempView(view)


def _surely_missing(path: str) -> bool:
    """True when ``path`` is a plain path or ``file:`` URI whose folder does not exist: no table there (saves the
    ``DESCRIBE DETAIL`` of each new table); False wherever there may be one."""
    if zone_fs.has_scheme(path) and not path.startswith("file:"):
        return False
    local = zone_fs.local_path(path)
    return local is not None and not local.exists()


def _already_exists(exc: BaseException) -> bool:
    """Whether ``exc`` is Spark's or Delta's refusal to create a table where one exists."""
    text = str(exc)
    return "ALREADY_EXISTS" in text or "already exists" in text


def create_or_replace(path: str, write: Callable[[bool], object]) -> None:
    """Write a Delta table at ``path`` in one commit: ``write(replace)`` runs ``CREATE`` (False) or ``CREATE OR
    REPLACE`` (True).

    Where ``path`` surely has no table the table is created without replacing: replacing makes Delta reconstruct
    the state of the table to replace, a Spark job even for none (66 ms more per new table in a micro-measure,
    docs/performance.md). If a table appears there meanwhile, the write is done again replacing it.
    """
    if not _surely_missing(path):
        write(True)
        return
    try:
        write(False)
    except Exception as exc:
        if not _already_exists(exc):
            raise
        write(True)


def delete_ids(spark: SparkSession, path: str, ids: list[str]) -> int:
    """Delete rows by (pseudonymized) id; returns how many ids were asked for."""
    if not ids or table_resource_format(spark, path) is None:
        return 0
    view = _temp_view(spark.createDataFrame([(i,) for i in ids], "id string").distinct(), "deleted")
    try:
        spark.sql(
            f"MERGE INTO {quoted_path(path)} AS t USING {view} AS s ON t.id = s.id WHEN MATCHED THEN DELETE"
        )
    finally:
        spark.catalog.dropTempView(view)
    return len(ids)


def clear_ndjson(spark: SparkSession, zone: ResearchZone) -> None:
    """Empty the NDJSON folder (it holds only the latest run's resources); where the driver cannot reach it,
    Spark's own overwrite empties it."""
    if not zone_fs.remove_tree(zone.ndjson_root):
        spark.createDataFrame([], "value string").write.mode("overwrite").text(zone.ndjson_root)


def write_ndjson(rows: DataFrame, zone: ResearchZone, resource_type: str) -> None:
    """Write this run's anonymized resources of one type as ``ndjson/<Type>/part-*.ndjson``.

    Spark's text writer names parts ``*.txt``; they are renamed where the driver reaches the folder
    (local, ``/Volumes``, ``dbfs:/``, s3/gs/hdfs) and keep ``.txt`` elsewhere.
    """
    folder = zone.ndjson(resource_type)
    rows.select("resource_json").write.mode("overwrite").option("compression", "none").text(folder)
    zone_fs.rename_part_files(folder, ".txt", ".ndjson")
