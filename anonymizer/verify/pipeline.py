"""``run_verify``: counts, changes, leak audit, precision checks and checklist, written as report.json/.html."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anonymizer.config.lint import check_before_run
from anonymizer.spark.zone_fs import read_local_bytes
from anonymizer.verify import counts as counts_mod
from anonymizer.verify.changes import run_changes
from anonymizer.verify.checklist import build_checklist
from anonymizer.verify.history import check_history
from anonymizer.verify.identifier_checks import run_identifier_checks
from anonymizer.verify.leak_audit import run_leak_audit
from anonymizer.verify.precision_checks import (
    promises_from_config,
    run_precision_checks,
    source_date_decades,
)
from anonymizer.verify.report_html import write_report_html
from anonymizer.verify.report_json import build_report, write_report_json
from anonymizer.verify.zone import (
    ZoneError,
    check_source_files,
    delta_root,
    output_types,
    read_output,
    read_quarantine_counts,
    read_run_summary,
    read_source_lines,
    source_paths,
)
from anonymizer.views.audit import views_audit_frame

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

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


def load_config(path: str) -> tuple[dict[str, Any], str]:
    """The config as a dict and the SHA-256 of its bytes (key references are names, not keys)."""
    try:
        raw = read_local_bytes(path)
        return json.loads(raw), hashlib.sha256(raw).hexdigest()
    except (OSError, ValueError) as exc:
        raise ZoneError(f"cannot read config {path}: {type(exc).__name__}") from None


def run_verify(request: VerifyRequest, spark: SparkSession | None = None) -> VerifyResult:
    """Run every verification step as Spark jobs and write the report (see docs/verify.md)."""
    if spark is None:
        from anonymizer.spark.session import active_or_new_session

        spark = active_or_new_session()
    started = datetime.now(UTC)
    config, config_sha = load_config(request.config)
    check_before_run(request.config, allow_dead_rules=request.allow_dead_rules, what="verification")
    summary = read_run_summary(spark, request.output)
    as_of = request.as_of or _summary_as_of(summary) or date.today()

    paths = source_paths(spark, request.source)
    files, unreadable, file_problems = check_source_files(spark, paths, summary)
    source_lines = read_source_lines(spark, paths, files).cache()
    output = read_output(spark, request.output).cache()
    try:
        timer = _StepTimer()
        src_counts, dups = counts_mod.source_counts(source_lines)
        out_counts = counts_mod.output_counts(output, (summary or {}).get("run_id"))
        if request.quarantine:
            quarantined = read_quarantine_counts(spark, request.quarantine, (summary or {}).get("run_id"))
            q_source = "quarantine table"
        else:
            quarantined = counts_mod.quarantine_from_summary(summary)
            q_source = "run summary" if summary else "none (no run-summary.json)"
        counts = counts_mod.reconcile(src_counts, dups, out_counts, quarantined, q_source, summary)
        counts.add_unreadable_files(unreadable, file_problems)
        timer.done("counts")
        changes = run_changes(source_lines, output, summary)
        timer.done("changes")
        promises = promises_from_config(config)
        audit_dates = promises.dates in ("year", "removed")
        views = views_audit_frame(spark, request.output)  # the views tables are audited like the resources
        audited = output if views is None else output.unionByName(views)
        audit = run_leak_audit(spark, source_lines, audited, audit_dates=audit_dates)
        if not audit_dates:
            audit.notes.append(
                f"calendar dates are not searched: the config's date promise is '{promises.dates}', "
                "so an equal date proves nothing; see the dates-per-decade chart"
            )
        timer.done("leak_audit")
        precision = run_precision_checks(output, promises, as_of)
        precision.decades_source = source_date_decades(source_lines)
        precision.violations.extend(run_identifier_checks(output, promises, config))
        timer.done("precision")
        history = check_history(
            spark,
            {t: f"{delta_root(request.output)}/{t}" for t in output_types(spark, request.output)},
            f"{delta_root(request.output)}/_runs",
            (summary or {}).get("config_fingerprint"),
        )
        timer.done("history")
    finally:
        source_lines.unpersist()
        output.unpersist()

    checklist = build_checklist(
        config, audit.harvested, audit.hits, precision.violations, dates_audited=audit_dates
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
        tool={"name": "fhir-anonymizer verify", "version": _version(), "timings_seconds": timer.seconds},
        generated_at=started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        inputs={
            "source": request.source,
            "output": request.output,
            "config": request.config,
            "config_sha256": config_sha,
            "quarantine": request.quarantine,
            "run_id": (summary or {}).get("run_id"),
            "run_config_fingerprint": (summary or {}).get("config_fingerprint"),
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
        changes=changes.to_dict(),
        leak_audit=audit.to_dict(),
        precision=precision.to_dict(),
        checklist=checklist,
        history=history.to_dict(),
    )
    json_path = write_report_json(report, request.report_dir, spark)
    html_path = write_report_html(report, request.report_dir, spark)
    return VerifyResult(passed, audit.leaks, precision.total, counts.reconciled, json_path, html_path, report)


class _StepTimer:
    """Wall-clock seconds per verification step (logged and written to the report)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.monotonic()

    def done(self, step: str) -> None:
        now = time.monotonic()
        self.seconds[step] = round(now - self._last, 1)
        self._last = now
        log.info("verify: %s done in %.1fs", step, self.seconds[step])


def _summary_as_of(summary: dict[str, Any] | None) -> date | None:
    value = (summary or {}).get("as_of")
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _version() -> str:
    try:
        return metadata.version("fhir-lake-anonymizer")
    except metadata.PackageNotFoundError:
        return "unknown"
