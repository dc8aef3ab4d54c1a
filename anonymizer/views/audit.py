"""The views tables of a research zone, shaped for the verify leak audit (one JSON object per row).

Every row of ``<zone>/views/<name>`` becomes ``{column: value}`` JSON under the resource type ``view:<name>``,
so the audit searches the flat tables for harvested identifiers exactly as it searches the resources. A
view row has no counterpart in the landing data, so a match there is never exempt.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from anonymizer.views.materialize import views_path

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

VIEW_TYPE_PREFIX = "view:"


def view_tables(zone: str) -> list[Path]:
    """The Delta tables under ``<zone>/views`` (local zones), sorted by name."""
    root = Path(views_path(zone))
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "_delta_log").is_dir())


def views_audit_frame(spark: SparkSession, zone: str) -> DataFrame | None:
    """Rows of every views table as ``rtype, id, patient_key, run_id, json`` (None when there are no views)."""
    from pyspark.sql import functions as F

    frames = []
    for table in view_tables(zone):
        rows = spark.read.format("delta").load(str(table))
        frames.append(
            rows.select(
                F.lit(VIEW_TYPE_PREFIX + table.name).alias("rtype"),
                F.lit(None).cast("string").alias("id"),
                F.lit(None).cast("string").alias("patient_key"),
                F.lit(None).cast("string").alias("run_id"),
                F.to_json(
                    F.struct(
                        F.lit(VIEW_TYPE_PREFIX + table.name).alias("resourceType"),
                        *[F.col(f"`{c}`") for c in rows.columns],
                    )
                ).alias("json"),
            )
        )
    if not frames:
        return None
    union = frames[0]
    for frame in frames[1:]:
        union = union.unionByName(frame)
    # Row keys far above the resource rows' monotonically increasing ids of the same partitions.
    return union.withColumn("uid", F.monotonically_increasing_id() + F.lit(1 << 62))
