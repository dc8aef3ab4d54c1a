"""``--purge-history``: after an overwrite, remove the files older Delta versions still reference.

Delta keeps every overwritten version readable by time travel (``versionAsOf``) until ``VACUUM`` removes its
files, and by default ``VACUUM`` refuses to remove files younger than 7 days. After a run that leaked (a config
mistake), the corrected ``--mode overwrite`` run purges with ``VACUUM ... RETAIN 0 HOURS``; Delta's safety check
against that (``spark.databricks.delta.retentionDurationCheck.enabled``) is switched off for those statements
only and restored afterwards. Only safe while no other job reads or writes these tables: a concurrent
reader of an older snapshot loses its files.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"


def sql_path(path: str) -> str:
    """A Delta table path as a SQL identifier: ``delta.`<path>``` with backticks doubled."""
    return "delta.`" + path.replace("`", "``") + "`"


def purge_history(spark: SparkSession, table_paths: Iterable[str]) -> list[str]:
    """``VACUUM <table> RETAIN 0 HOURS`` on each table; returns the tables purged (SQL API only)."""
    purged = []
    previous = spark.conf.get(RETENTION_CHECK, None)
    spark.conf.set(RETENTION_CHECK, "false")
    try:
        for path in table_paths:
            spark.sql(f"VACUUM {sql_path(path)} RETAIN 0 HOURS").collect()
            purged.append(path)
    finally:
        if previous is None:
            spark.conf.unset(RETENTION_CHECK)
        else:
            spark.conf.set(RETENTION_CHECK, previous)
    return purged
