"""Counts per resource type: source lines, research-zone rows, quarantined lines, and whether they reconcile.

A type reconciles when ``source lines = output rows + quarantined - skipped + duplicates``: every landing
line is either in the research zone or in quarantine (a ``skipped`` line, processingErrors=skip, is in
both), except repeated ``(type, id)`` lines that the idempotent MERGE folds into one row. Output rows are
those written by the run in ``run-summary.json`` (all rows without one). Blank lines and lines without a
known FHIR R4 ``resourceType`` count under the type their file name announces (``Patient.000.ndjson``), else
as ``unknown``, exactly as the run summary does; they can only be in quarantine.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from anonymizer.spark.summary import RunSummary

#: Key for lines without a (known FHIR R4) resource type, as the run summary names them.
NO_TYPE = "unknown"


def r4_resource_types() -> frozenset[str]:
    """Every FHIR R4 resource type (the engine's type model)."""
    from anonymizer.fhir.model import r4

    return r4().resource_types


@dataclass
class TypeCount:
    """Reconciliation of one resource type (numbers only)."""

    resource_type: str
    source_lines: int = 0
    output_rows: int = 0
    quarantined: int = 0
    duplicates: int = 0
    skipped: int = 0
    summary_lines_in: int | None = None
    summary_rows_out: int | None = None
    reconciled: bool = True


@dataclass
class CountsResult:
    """Counts for every resource type and the overall verdict."""

    per_type: list[TypeCount]
    totals: dict[str, int]
    reconciled: bool
    quarantine_source: str
    problems: list[str] = field(default_factory=list)
    #: unreadable landing files (path, size, reason, status): never lines, one file-level quarantine record each
    unreadable_files: list[dict[str, Any]] = field(default_factory=list)

    def add_unreadable_files(self, files: list[dict[str, Any]], problems: list[str]) -> None:
        """Record the unreadable files; one the run did not skip as well makes the counts fail."""
        self.unreadable_files = list(files)
        self.totals["unreadable_files"] = len(files)
        if problems:
            self.problems += problems
            self.reconciled = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (see docs/verify.md, ``counts``)."""
        return {
            "per_type": [asdict(t) for t in self.per_type],
            "totals": self.totals,
            "reconciled": self.reconciled,
            "quarantine_source": self.quarantine_source,
            "problems": self.problems,
            "unreadable_files": self.unreadable_files,
        }


def source_counts(lines: DataFrame) -> tuple[dict[str, int], dict[str, int]]:
    """``(lines per type, duplicate lines per type)`` of the landing lines (JVM-side JSON parsing).

    A line without a readable FHIR R4 ``resourceType`` (blank, malformed, unknown type) counts under the type
    its file name announces, as ``deidentify`` counts it (``type_from_file_name``), else as ``unknown``.
    """
    from pyspark.sql import functions as F

    types = sorted(r4_resource_types())
    rtype = F.get_json_object("line", "$.resourceType")
    known = rtype.isin(types)
    by_file = _file_types(lines.where(~known | rtype.isNull()))
    file_type = F.lit(NO_TYPE)
    for file, announced in by_file.items():
        file_type = F.when(F.col("file") == file, F.lit(announced)).otherwise(file_type)
    typed = lines.select(
        F.when(known, rtype).otherwise(file_type).alias("t"),
        F.when(known, F.get_json_object("line", "$.id")).alias("id"),
    )
    per_type = {r["t"]: int(r["count"]) for r in typed.groupBy("t").count().collect()}
    dup_rows = (
        typed.where(F.col("id").isNotNull() & (F.col("t") != NO_TYPE))
        .groupBy("t", "id")
        .count()
        .where(F.col("count") > 1)
        .groupBy("t")
        .agg(F.sum(F.col("count") - 1).alias("dups"))
        .collect()
    )
    return per_type, {r["t"]: int(r["dups"]) for r in dup_rows}


def _file_types(untyped: DataFrame) -> dict[str, str]:
    """File -> the resource type its name announces, for the files that hold lines without a readable type
    (few: only damaged lines are looked at, and only their distinct file paths reach the driver)."""
    from anonymizer.spark.transform import type_from_file_name

    known = r4_resource_types()
    out = {}
    for row in untyped.select("file").distinct().collect():
        announced = type_from_file_name(row["file"].rstrip("/").rsplit("/", 1)[-1], known)
        if announced:
            out[row["file"]] = announced
    return out


def output_counts(output: DataFrame, run_id: str | None) -> dict[str, int]:
    """Research-zone rows per resource type written by run ``run_id`` (all rows when None)."""
    from pyspark.sql import functions as F

    rows = output.where(F.col("run_id") == run_id) if run_id else output
    return {r["rtype"]: int(r["count"]) for r in rows.groupBy("rtype").count().collect()}


def reconcile(
    source: dict[str, int],
    duplicates: dict[str, int],
    output: dict[str, int],
    quarantined: dict[str, int],
    quarantine_source: str,
    summary: RunSummary | None,
) -> CountsResult:
    """Compare the three sides per type and against the run summary when there is one."""
    summary_counts = summary.counts if summary else {}
    problems: list[str] = []
    rows: list[TypeCount] = []
    for rtype in sorted(set(source) | set(output) | set(quarantined)):
        row = TypeCount(
            resource_type=rtype,
            source_lines=source.get(rtype, 0),
            output_rows=output.get(rtype, 0),
            quarantined=quarantined.get(rtype, 0),
            duplicates=duplicates.get(rtype, 0),
        )
        entry = summary_counts.get(rtype)
        if entry is not None:
            row.summary_lines_in = entry.lines_in
            row.summary_rows_out = entry.rows_out
            row.skipped = entry.skipped
        # A skipped line (processingErrors=skip) is both written (empty resource) and quarantined.
        accounted = row.output_rows + row.quarantined - row.skipped + row.duplicates
        row.reconciled = row.source_lines == accounted
        if not row.reconciled:
            problems.append(
                f"{rtype}: {row.source_lines} source lines != {row.output_rows} rows + {row.quarantined} "
                f"quarantined - {row.skipped} skipped + {row.duplicates} duplicates"
            )
        if row.summary_lines_in is not None and row.summary_lines_in != row.source_lines:
            problems.append(
                f"{rtype}: run summary says {row.summary_lines_in} lines in, the landing folder has {row.source_lines}"
            )
        rows.append(row)
    totals = {
        "source_lines": sum(r.source_lines for r in rows),
        "output_rows": sum(r.output_rows for r in rows),
        "quarantined": sum(r.quarantined for r in rows),
        "duplicates": sum(r.duplicates for r in rows),
        "skipped": sum(r.skipped for r in rows),
    }
    if summary is not None and summary.totals.lines_in != totals["source_lines"]:
        problems.append(
            f"run summary total lines_in {summary.totals.lines_in} != {totals['source_lines']} landing lines"
        )
    if summary is not None and not summary.reconciled:
        problems.append("the de-identification run summary itself did not reconcile")
    return CountsResult(rows, totals, not problems, quarantine_source, problems)


def quarantine_from_summary(summary: RunSummary | None) -> dict[str, int]:
    """Quarantined lines per type from ``run-summary.json`` (empty when there is none)."""
    counts = summary.counts if summary else {}
    return {rtype: c.quarantined for rtype, c in counts.items() if c.quarantined}
