"""The research-zone contract: where ``deidentify`` writes and ``verify`` (and the notebooks) read.

One layout, used by both sides (paths are strings; every access goes through :mod:`anonymizer.spark.zone_fs` or
Spark, so local folders, ``file:``, ``abfss://``, ``dbfs:/`` and ``/Volumes`` behave alike)::

    <root>/delta/<Type>/          Delta: TABLE_COLUMNS, table property FORMAT_PROPERTY = json | variant
    <root>/delta/_runs/           one row per run (RUNS_TABLE_DDL)
    <root>/ndjson/<Type>/         part-*.ndjson: the latest run's anonymized resources (unless deidentify --no-ndjson)
    <root>/run-summary.json       the latest run's RunSummary (anonymizer.spark.summary)
    <root>/views/<name>/          Delta: SQL on FHIR views (anonymizer.views)

    <quarantine>/quarantine       Delta: QUARANTINE_DDL, the lines that did not become rows (PHI)
    <quarantine>/_staging/<run>   the run's staged engine output, removed at its end
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from anonymizer.spark import zone_fs
from anonymizer.spark.resource_format import FORMAT_PROPERTY, table_resource_format

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: Columns of every resource table, in order.
TABLE_COLUMNS = ("id", "patient_key", "last_updated", "run_id", "resource")
#: Schema of ``delta/_runs``.
RUNS_TABLE_DDL = (
    "run_id string, started_at string, finished_at string, as_of string, config_fingerprint string, "
    "lines_in long, rows_out long, quarantined long, reconciled boolean, counts_json string, timings_json string"
)
#: Schema of the quarantine table.
QUARANTINE_DDL = (
    "run_id string, source_file string, line_number bigint, resource_type string, reason string, "
    "detail string, raw_line string"
)
__all__ = [
    "FORMAT_PROPERTY",
    "QUARANTINE_DDL",
    "RUNS_TABLE_DDL",
    "TABLE_COLUMNS",
    "QuarantineZone",
    "ResearchZone",
]


def _join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *parts])


@dataclass(frozen=True)
class ResearchZone:
    """The research zone rooted at ``root`` (a folder or Hadoop URI)."""

    root: str

    @property
    def delta_root(self) -> str:
        """The folder holding one Delta table per resource type (and ``_runs``)."""
        return _join(self.root, "delta")

    def table(self, resource_type: str) -> str:
        """The Delta table of one resource type."""
        return _join(self.delta_root, resource_type)

    @property
    def runs_table(self) -> str:
        """The ``_runs`` Delta table (one row per run)."""
        return self.table("_runs")

    @property
    def ndjson_root(self) -> str:
        """The folder of the anonymized NDJSON copy."""
        return _join(self.root, "ndjson")

    def ndjson(self, resource_type: str) -> str:
        """The NDJSON folder of one resource type (``part-*.ndjson``)."""
        return _join(self.ndjson_root, resource_type)

    @property
    def summary_path(self) -> str:
        """``run-summary.json`` of the latest run."""
        return _join(self.root, "run-summary.json")

    @property
    def views_root(self) -> str:
        """The folder of the materialized SQL on FHIR views."""
        return _join(self.root, "views")

    def resource_types(self, spark: SparkSession) -> list[str]:
        """Resource types with a Delta table (``_runs`` and hidden folders excluded), sorted."""
        names = zone_fs.list_delta_tables(spark, self.delta_root)
        return [name for name in names if not name.startswith(("_", "."))]

    def tables(self, spark: SparkSession) -> dict[str, str]:
        """Resource type -> Delta table path, for every resource table of the zone."""
        return {t: self.table(t) for t in self.resource_types(spark)}

    def resource_format(self, spark: SparkSession, resource_type: str) -> str | None:
        """How one table stores ``resource`` (``json``/``variant``, its table property); None without a table."""
        return table_resource_format(spark, self.table(resource_type))


@dataclass(frozen=True)
class QuarantineZone:
    """Where the lines that did not become rows go (PHI: never inside the research zone)."""

    root: str

    @classmethod
    def beside(cls, research: ResearchZone) -> QuarantineZone:
        """The default: ``<research>-quarantine``, beside the research zone, never inside it."""
        return cls(research.root.rstrip("/") + "-quarantine")

    @property
    def table(self) -> str:
        """The quarantine Delta table."""
        return _join(self.root, "quarantine")

    @property
    def staging_root(self) -> str:
        """The folder of the runs' staged engine output."""
        return _join(self.root, "_staging")

    def staging(self, run_id: str) -> str:
        """The staged engine output of one run."""
        return _join(self.staging_root, run_id)
