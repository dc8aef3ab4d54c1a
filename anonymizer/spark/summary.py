"""The run summary: what a de-identification run did, typed, written by ``deidentify`` and read by ``verify``.

``run-summary.json`` (aggregate counts, timings, rule hits; never a resource value or a key) and one row per run
in ``delta/_runs`` (:data:`anonymizer.spark.zone.RUNS_TABLE_DDL`). :meth:`RunSummary.from_json_dict` reads what
:meth:`RunSummary.to_json_dict` writes, and tolerates summaries of older versions (missing fields take defaults).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from anonymizer.errors import AnonymizerError
from anonymizer.spark.zone import RUNS_TABLE_DDL, ResearchZone

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class SummaryError(AnonymizerError, ValueError):
    """``run-summary.json`` exists but cannot be read (the message names the path, never content)."""


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

    @classmethod
    def from_json_dict(cls, data: Any) -> TypeCounts:
        """Read one entry of ``counts`` (non-numbers count as 0)."""
        data = data if isinstance(data, dict) else {}
        return cls(**{f.name: _int(data.get(f.name)) for f in fields(cls)})


@dataclass(frozen=True)
class RuleHit:
    """How many values one rule changed in the run (``rule_index`` is 0-based, as in ``fhirPathRules``)."""

    rule_index: int
    method: str
    count: int


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
    #: Values changed per rule, summed over every line of the run (the engine's hit counters, per partition).
    rule_hits: list[RuleHit] = field(default_factory=list)
    #: Fingerprint of the rules file as given, before ``--keys-from`` replaced its key references; what ``verify``
    #: compares its own config with (``config_fingerprint`` is the run's, keys_from included).
    config_file_fingerprint: str | None = None
    #: Which engine ran the rules (``compiled`` or ``reference``) and, for ``reference``, why the plans could not
    #: be compiled (rule number and path only): ``Anonymizer.engine_report``.
    engine: dict[str, Any] = field(default_factory=dict)

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

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> RunSummary:
        """Read a summary document (missing text fields are empty, missing collections empty)."""
        text = {f.name: str(data.get(f.name) or "") for f in fields(cls) if f.type == "str"}
        raw_counts, raw_hits = data.get("counts"), data.get("rule_hits")
        counts = raw_counts if isinstance(raw_counts, dict) else {}
        hits = raw_hits if isinstance(raw_hits, list) else []
        return cls(
            **text,
            counts={str(t): TypeCounts.from_json_dict(c) for t, c in counts.items()},
            timings_s=dict(data.get("timings_s") or {}),
            tables=dict(data.get("tables") or {}),
            unreadable_files=[f for f in data.get("unreadable_files") or [] if isinstance(f, dict)],
            rule_hits=[
                RuleHit(_int(h.get("rule_index")), str(h.get("method", "")), _int(h.get("count")))
                for h in hits
                if isinstance(h, dict)
            ],
            config_file_fingerprint=data.get("config_file_fingerprint") or None,
            engine=dict(data["engine"]) if isinstance(data.get("engine"), dict) else {},
        )


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def write_summary(spark: SparkSession, zone: ResearchZone, summary: RunSummary) -> None:
    """Write ``run-summary.json`` (local folder, ``/Volumes``, ``dbfs:/`` or any Hadoop URI; classic or Connect)."""
    from anonymizer.spark.zone_fs import write_text

    write_text(spark, zone.summary_path, json.dumps(summary.to_json_dict(), indent=2))


def read_summary(spark: SparkSession, zone: ResearchZone) -> RunSummary | None:
    """The zone's ``run-summary.json``, or None when there is none."""
    from anonymizer.spark.zone_fs import read_text

    text = read_text(spark, zone.summary_path)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SummaryError(f"cannot read {zone.summary_path}: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise SummaryError(f"cannot read {zone.summary_path}: not a JSON object")
    return RunSummary.from_json_dict(data)


def append_run_row(spark: SparkSession, zone: ResearchZone, summary: RunSummary) -> None:
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
    columns = [column.split() for column in RUNS_TABLE_DDL.split(",")]
    # Literals over a one-row range, not createDataFrame: on a classic session that starts a Python worker
    # (about 4 s on a small run) for one row.
    literals = [F.lit(value).cast(kind).alias(name) for value, (name, kind) in zip(row, columns, strict=True)]
    spark.range(1).select(*literals).write.format("delta").mode("append").save(zone.runs_table)
