"""``run_verify``: counts, changes, leak audit, precision checks and checklist, written as report.json/.html."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anonymizer.config.lint import check_before_run
from anonymizer.spark.step_timer import StepTimer
from anonymizer.spark.summary import RunSummary
from anonymizer.spark.zone import QuarantineZone, ResearchZone
from anonymizer.verify import counts as counts_mod
from anonymizer.verify.changes import ChangesResult, run_changes
from anonymizer.verify.checklist import build_checklist
from anonymizer.verify.harvest_frame import prepare_harvest
from anonymizer.verify.history import HistoryResult, check_history
from anonymizer.verify.identifier_checks import address_keeping_types, identifier_findings
from anonymizer.verify.leak_audit import LeakAuditResult, run_leak_audit
from anonymizer.verify.passes import output_pass, source_pass
from anonymizer.verify.precision_checks import (
    PrecisionResult,
    precision_from_records,
    promises_from_config,
)
from anonymizer.verify.report_html import write_report_html
from anonymizer.verify.report_json import build_report, write_report_json
from anonymizer.verify.run_config import VerifyConfig, check_same_config, load_verify_config
from anonymizer.verify.zone import (
    check_source_files,
    output_types,
    read_output,
    read_quarantine_counts,
    read_run_summary,
    read_source_lines,
    source_paths,
)
from anonymizer.views.audit import views_audit_frame

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger("anonymizer.verify")


@dataclass(frozen=True)
class VerifyRequest:
    """What to compare and where to write the report.

    Attributes:
        source: landing folder of NDJSON files (``.ndjson`` / ``.ndjson.gz``, any names, searched recursively).
        output: research zone (``DIR/delta/<Type>``, ``DIR/run-summary.json``).
        config: the rules file the zone was produced with.
        report_dir: folder for ``report.json`` and ``report.html``.
        quarantine: quarantine folder (``DIR/quarantine`` Delta table); else counts come from the run summary.
        as_of: reference date for the "age over 89" checks; default: the run summary's, else today.
        allow_dead_rules: rules that can never match are warnings, not errors (Microsoft's test configs).
    """

    source: str
    output: str
    config: str
    report_dir: str
    quarantine: str | None = None
    as_of: date | None = None
    allow_dead_rules: bool = False


@dataclass
class VerifyResult:
    """Outcome of a verification; ``report`` is what was written to report.json."""

    passed: bool
    leaks: int
    precision_violations: int
    counts_reconciled: bool
    report_json: Path | str
    report_html: Path | str
    report: dict[str, Any] = field(repr=False)


def run_verify(request: VerifyRequest, spark: SparkSession | None = None) -> VerifyResult:
    """Run every verification step as Spark jobs and write the report (see docs/verify.md)."""
    if spark is None:
        from anonymizer.spark.session import active_or_new_session

        spark = active_or_new_session()
    started = datetime.now(UTC)
    check_before_run(request.config, allow_dead_rules=request.allow_dead_rules, what="verification")
    given = load_verify_config(request.config)
    config = given.config
    zone = ResearchZone(request.output)
    summary = read_run_summary(spark, zone)
    check_same_config(given, summary, request.output)
    as_of = request.as_of or _summary_as_of(summary) or date.today()

    paths = source_paths(spark, request.source)
    files, unreadable, file_problems = check_source_files(spark, paths, summary)
    source_lines = read_source_lines(spark, paths, files)
    promises = promises_from_config(config)
    audit_dates = promises.dates in ("year", "removed")
    timer = StepTimer(log, "verify", digits=1)
    # Each zone is parsed once, by one Python pass; every check aggregates its part of the records.
    with timer.step("source_pass"):
        source = source_pass(source_lines).persist()
        harvest = prepare_harvest(source, audit_dates=audit_dates)
    output: DataFrame | None = None
    try:
        with timer.step("output_pass"):
            views = views_audit_frame(
                spark, request.output
            )  # the views tables are searched like the resources
            types = output_types(spark, zone)  # listed once: the history step checks the same tables
            output_rows = read_output(spark, zone, types)
            audited = output_rows if views is None else output_rows.unionByName(views)
            zip_exempt = address_keeping_types(config)
            run_id = summary.run_id if summary else None
            output = output_pass(audited, harvest.bloom, promises, as_of, zip_exempt, run_id).persist()
            output.count()
        with timer.step("counts"):
            counts = _counts(spark, request, source, output, summary)
            counts.add_unreadable_files(unreadable, file_problems)
        with timer.step("changes"):
            changes = run_changes(source, output, summary)
        with timer.step("leak_audit"):
            audit = run_leak_audit(spark, source_lines, harvest, output)
            if not audit_dates:
                audit.notes.append(
                    f"calendar dates are not searched: the config's date promise is '{promises.dates}', "
                    "so an equal date proves nothing; see the dates-per-decade chart"
                )
        with timer.step("precision"):
            precision = precision_from_records(source, output, promises)
            precision.violations.extend(identifier_findings(output))
        with timer.step("history"):
            history = check_history(
                spark,
                {t: zone.table(t) for t in types},
                zone.runs_table,
                summary.config_fingerprint if summary else None,
            )
    finally:
        source.unpersist()
        if output is not None:
            output.unpersist()
    checks = _Checks(counts, changes, audit, precision, history, audit_dates)
    return _report(spark, request, given, summary, as_of, started, timer.seconds, checks)


def _counts(
    spark: SparkSession,
    request: VerifyRequest,
    source: DataFrame,
    output: DataFrame,
    summary: RunSummary | None,
) -> counts_mod.CountsResult:
    run_id = summary.run_id if summary else None
    src_counts, dups = counts_mod.source_counts(source)
    out_counts = counts_mod.output_counts(output)
    if request.quarantine:
        quarantined = read_quarantine_counts(spark, QuarantineZone(request.quarantine), run_id)
        q_source = "quarantine table"
    else:
        quarantined = counts_mod.quarantine_from_summary(summary)
        q_source = "run summary" if summary else "none (no run-summary.json)"
    return counts_mod.reconcile(src_counts, dups, out_counts, quarantined, q_source, summary)


@dataclass
class _Checks:
    """What the verification steps found (aggregates only)."""

    counts: counts_mod.CountsResult
    changes: ChangesResult
    audit: LeakAuditResult
    precision: PrecisionResult
    history: HistoryResult
    dates_audited: bool


def _report(
    spark: SparkSession,
    request: VerifyRequest,
    given: VerifyConfig,
    summary: RunSummary | None,
    as_of: date,
    started: datetime,
    timings: dict[str, float],
    checks: _Checks,
) -> VerifyResult:
    """The verdict, report.json and report.html."""
    audit, precision, counts, history = checks.audit, checks.precision, checks.counts, checks.history
    checklist = build_checklist(
        given.config, audit.harvested, audit.hits, precision.violations, dates_audited=checks.dates_audited
    )
    reasons = []
    if audit.leaks:
        reasons.append(f"{audit.leaks} identifier leaks (counted per resource, path and category)")
    if precision.total:
        reasons.append(f"{precision.total} precision violations")
    if not counts.reconciled:
        reasons.append("counts do not reconcile")
    if history.violations:
        reasons.append(
            f"{history.violations} older table versions written under another configuration are still readable "
            "by Delta time travel (deidentify --mode overwrite --purge-history removes them)"
        )
    passed = not reasons
    report = build_report(
        tool={"name": "fhir-anonymizer verify", "version": _version(), "timings_seconds": timings},
        generated_at=started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        inputs={
            "source": request.source,
            "output": request.output,
            "config": request.config,
            "config_sha256": given.sha256,
            "config_fingerprint": given.fingerprint,
            "quarantine": request.quarantine,
            "run_id": summary.run_id if summary else None,
            "run_config_fingerprint": summary.config_fingerprint if summary else None,
            "as_of": as_of.isoformat(),
        },
        verdict={
            "passed": passed,
            "leaks": audit.leaks,
            "precision_violations": precision.total,
            "counts_reconciled": counts.reconciled,
            "reasons": reasons,
        },
        counts=counts.to_dict(),
        changes=checks.changes.to_dict(),
        leak_audit=audit.to_dict(),
        precision=precision.to_dict(),
        checklist=checklist,
        history=history.to_dict(),
    )
    json_path = write_report_json(report, request.report_dir, spark)
    html_path = write_report_html(report, request.report_dir, spark)
    return VerifyResult(passed, audit.leaks, precision.total, counts.reconciled, json_path, html_path, report)


def _summary_as_of(summary: RunSummary | None) -> date | None:
    try:
        return date.fromisoformat(summary.as_of) if summary and summary.as_of else None
    except ValueError:
        return None


def _version() -> str:
    try:
        return metadata.version("fhir-lake-anonymizer")
    except metadata.PackageNotFoundError:
        return "unknown"
