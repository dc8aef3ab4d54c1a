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


def source_counts(records: DataFrame) -> tuple[dict[str, int], dict[str, int]]:
    """``(lines per type, duplicate lines per type)`` from the source pass's ``line`` records.

    A line without a readable FHIR R4 ``resourceType`` (blank, malformed, unknown type) counts under the type
    its file name announces, as ``deidentify`` counts it (``type_from_file_name``), else as ``unknown``.
    """
    from pyspark.sql import functions as F

    lines = records.where(F.col("rec") == "line").select(F.col("rtype").alias("t"), F.col("norm").alias("id"))
    # One job: lines per (type, id), then per type their sum and the lines beyond the first of each known id.
    repeated = F.col("id").isNotNull() & (F.col("t") != NO_TYPE) & (F.col("count") > 1)
    rows = (
        lines.groupBy("t", "id")
        .count()
        .groupBy("t")
        .agg(
            F.sum("count").alias("lines"),
            F.sum(F.when(repeated, F.col("count") - 1).otherwise(0)).alias("dups"),
        )
        .collect()
    )
    per_type = {r["t"]: int(r["lines"]) for r in rows}
    return per_type, {r["t"]: int(r["dups"]) for r in rows if r["dups"]}


def output_counts(records: DataFrame) -> dict[str, int]:
    """Research-zone rows per resource type written by the run (the output pass's ``rows`` records)."""
    from pyspark.sql import functions as F

    rows = records.where(F.col("rec") == "rows").groupBy("rtype").agg(F.sum("n").alias("n")).collect()
    return {r["rtype"]: int(r["n"]) for r in rows}


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
