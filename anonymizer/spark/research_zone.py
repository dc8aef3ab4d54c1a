"""Write anonymized rows into the research zone: one Delta table per resource type (MERGE on id) and NDJSON."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

TABLE_COLUMNS = ("id", "patient_key", "last_updated", "run_id", "resource")


def delta_path(output: str, resource_type: str) -> str:
    """Location of the Delta table of one resource type."""
    return f"{output.rstrip('/')}/delta/{resource_type}"


def table_rows(rows: DataFrame, run_id: str, *, has_duplicates: bool = True) -> DataFrame:
    """Rows of one type shaped for its Delta table, duplicates of an id collapsed to the newest ``last_updated``.

    ``has_duplicates=False`` (the caller counted distinct ids) skips the de-duplicating shuffle.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    shaped = rows.select(
        "id",
        "patient_key",
        F.col("last_updated").try_cast("timestamp").alias("last_updated"),
        F.lit(run_id).alias("run_id"),
        F.parse_json("resource_json").alias("resource"),
    )
    if not has_duplicates:
        return shaped
    newest_first = Window.partitionBy("id").orderBy(F.col("last_updated").desc_nulls_last())
    return shaped.withColumn("_rank", F.row_number().over(newest_first)).filter("_rank = 1").drop("_rank")


def merge_into_table(spark: SparkSession, rows: DataFrame, path: str, *, overwrite: bool = False) -> None:
    """Upsert by id: insert new ids, replace existing ones unless the stored version is newer.

    With ``overwrite`` the table is replaced by this run's rows (one Delta commit, history kept).
    """
    from delta.tables import DeltaTable

    if overwrite or not DeltaTable.isDeltaTable(spark, path):
        rows.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(path)
        return
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(rows.alias("s"), "t.id = s.id")
        .whenMatchedUpdateAll(
            condition="t.last_updated IS NULL OR s.last_updated IS NULL OR s.last_updated >= t.last_updated"
        )
        .whenNotMatchedInsertAll()
        .execute()
    )


def delete_ids(spark: SparkSession, path: str, ids: list[str]) -> int:
    """Delete rows by (pseudonymized) id; returns how many ids were asked for."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    if not ids or not DeltaTable.isDeltaTable(spark, path):
        return 0
    DeltaTable.forPath(spark, path).delete(F.col("id").isin(ids))
    return len(ids)


def write_ndjson(spark: SparkSession, rows: DataFrame, output: str) -> None:
    """Write this run's anonymized resources as ``ndjson/<Type>/part-*.ndjson`` in one Spark job."""
    root = f"{output.rstrip('/')}/ndjson"
    rows.select("resource_type", "resource_json").write.mode("overwrite").partitionBy("resource_type").option(
        "compression", "none"
    ).text(root)
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    hpath = jvm.org.apache.hadoop.fs.Path
    folder = hpath(root)
    fs = folder.getFileSystem(conf)
    for status in fs.listStatus(folder):
        name = status.getPath().getName()
        if not name.startswith("resource_type="):
            continue
        target = hpath(folder, name[len("resource_type=") :])
        fs.delete(target, True)
        fs.rename(status.getPath(), target)
        for part in fs.listStatus(target):
            part_name = part.getPath().getName()
            if part_name.startswith("part-") and part_name.endswith(".txt"):
                fs.rename(part.getPath(), hpath(target, part_name[: -len(".txt")] + ".ndjson"))
