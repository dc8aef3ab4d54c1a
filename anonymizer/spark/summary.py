"""Run summary (JSON, aggregate counts only) and the ``_runs`` Delta table."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@dataclass
class TypeCounts:
    """Counts of one resource type; ``lines_in == rows_out + quarantined - skipped`` must hold.

    A ``skipped`` line (processingErrors=skip) is both written (as Microsoft's empty resource) and quarantined.
    """

    lines_in: int = 0
    rows_out: int = 0
    quarantined: int = 0
    skipped: int = 0
    deleted: int = 0

    @property
    def reconciled(self) -> bool:
        """Every line is accounted for exactly once."""
        return self.lines_in == self.rows_out + self.quarantined - self.skipped


@dataclass
class RunSummary:
    """What a de-identification run did; contains no resource values."""

    run_id: str
    started_at: str
    finished_at: str
    as_of: str
    config: str
    config_fingerprint: str
    input: str
    output: str
    quarantine: str
    counts: dict[str, TypeCounts] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)
    #: files skipped as unreadable (``--skip-unreadable-files``): path, size and reason each; quarantined as one record
    unreadable_files: list[dict[str, Any]] = field(default_factory=list)
    #: How the Delta tables store ``resource`` (``json`` or ``variant``; also each table's property).
    resource_format: str = "json"

    @property
    def totals(self) -> TypeCounts:
        """Counts over all resource types."""
        total = TypeCounts()
        for c in self.counts.values():
            total.lines_in += c.lines_in
            total.rows_out += c.rows_out
            total.quarantined += c.quarantined
            total.skipped += c.skipped
            total.deleted += c.deleted
        return total

    @property
    def reconciled(self) -> bool:
        """True when every resource type reconciles."""
        return all(c.reconciled for c in self.counts.values())

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON document written to ``run-summary.json``."""
        data = asdict(self)
        data["counts"] = {
            t: {**asdict(c), "reconciled": c.reconciled} for t, c in sorted(self.counts.items())
        }
        data["totals"] = asdict(self.totals)
        data["reconciled"] = self.reconciled
        return data


def write_summary_file(spark: SparkSession, summary: RunSummary, path: str) -> None:
    """Write the summary JSON (local folder, ``/Volumes``, ``dbfs:/`` or any Hadoop URI; classic or Connect)."""
    from anonymizer.spark.zone_fs import write_text

    write_text(spark, path, json.dumps(summary.to_json_dict(), indent=2))


def append_run_row(spark: SparkSession, summary: RunSummary, runs_table: str) -> None:
    """Append one row to the ``_runs`` Delta table (fingerprint, as_of, timings and counts as JSON)."""
    from pyspark.sql import functions as F

    total = summary.totals
    row = (
        summary.run_id,
        summary.started_at,
        summary.finished_at,
        summary.as_of,
        summary.config_fingerprint,
        total.lines_in,
        total.rows_out,
        total.quarantined,
        summary.reconciled,
        json.dumps(summary.to_json_dict()["counts"]),
        json.dumps(summary.timings_s),
    )
    columns = (
        ("run_id", "string"),
        ("started_at", "string"),
        ("finished_at", "string"),
        ("as_of", "string"),
        ("config_fingerprint", "string"),
        ("lines_in", "bigint"),
        ("rows_out", "bigint"),
        ("quarantined", "bigint"),
        ("reconciled", "boolean"),
        ("counts_json", "string"),
        ("timings_json", "string"),
    )
    # Literals over a one-row range, not createDataFrame: on a classic session that starts a Python worker
    # (about 4 s on a small run) for one row.
    literals = [F.lit(value).cast(kind).alias(name) for value, (name, kind) in zip(row, columns, strict=True)]
    spark.range(1).select(*literals).write.format("delta").mode("append").save(runs_table)
