"""``run``: the whole pipeline as one library call, export -> de-identify -> verify (-> views), one report back.

What ``fhir-anonymizer run`` and the notebooks call::

    from anonymizer.pipeline import PipelineRequest, run

    report = run(PipelineRequest(output="/data/run-1", config="configs/hipaa-safe-harbor.json",
                                 landing="/data/landing/2026-11-28"), spark)
    report.passed, report.verify.report_html, report.deidentify.summary.totals

Folders under ``output``: ``landing/`` (the default landing), ``research/`` (the research zone), ``quarantine/``
(PHI, beside the zone, never inside it) and ``report/`` (``report.json``, ``report.html``). Failures that stop the
chain raise an :class:`~anonymizer.errors.AnonymizerError` (config, export, input, Spark, zone); a verification
that does not pass is not an error but a report with ``passed`` False, and then no view is materialized.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from anonymizer.errors import UsageError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from anonymizer.export.client import ExportRequest, ExportResult, PollPolicy
    from anonymizer.spark.pipeline import DeidentifyResult
    from anonymizer.verify.pipeline import VerifyResult
    from anonymizer.views.materialize import Materialized

log = logging.getLogger("anonymizer.pipeline")


@dataclass(frozen=True)
class PipelineRequest:
    """What to run.

    Attributes:
        output: folder for ``research/``, ``quarantine/``, ``report/`` (and ``landing/`` unless ``landing`` is given).
        config: rules file (Microsoft's format), checked before anything else runs.
        landing: landing folder to de-identify (default ``<output>/landing``); with ``export`` the export lands
            there and this run's export folder is what gets de-identified.
        export: a Bulk Data ``$export`` to run first (``None``: the landing already holds the data).
        export_poll: how to poll the export (default: the client's).
        as_of: reference date of the "age over 89" rule (default today, UTC).
        allow_ephemeral_keys: random keys for empty ones (throw-away demos only).
        mode: how the research zone's tables take this run's rows: ``merge`` (upsert by pseudonymized id, the
            default) or ``overwrite`` (each table written holds only this run's rows; what a run with ephemeral
            keys needs, whose pseudonyms match no earlier run's).
        allow_dead_rules: rules that can never match are warnings, not errors (Microsoft's test configs).
        views: ViewDefinition files or folders materialized under ``research/views/`` after a passing verification.
    """

    output: str
    config: str
    landing: str | None = None
    export: ExportRequest | None = None
    export_poll: PollPolicy | None = None
    as_of: date | None = None
    allow_ephemeral_keys: bool = False
    mode: str = "merge"
    allow_dead_rules: bool = False
    views: tuple[str, ...] = ()

    @property
    def research(self) -> str:
        """The research zone: ``<output>/research``."""
        return _under(self.output, "research")

    @property
    def quarantine(self) -> str:
        """The quarantine (PHI): ``<output>/quarantine``."""
        return _under(self.output, "quarantine")

    @property
    def report_dir(self) -> str:
        """The verification report's folder: ``<output>/report``."""
        return _under(self.output, "report")

    @property
    def landing_dir(self) -> str:
        """The landing folder: ``landing``, else ``<output>/landing``."""
        return self.landing or _under(self.output, "landing")


@dataclass
class PipelineReport:
    """What a run did: each step's own result, the views written and the seconds per step."""

    landing: str
    deidentify: DeidentifyResult
    verify: VerifyResult
    export: ExportResult | None = None
    views: list[Materialized] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Verification passed (no leak, no precision violation, counts reconciled)."""
        return self.verify.passed


def run(
    request: PipelineRequest, spark: SparkSession | Callable[[], SparkSession] | None = None
) -> PipelineReport:
    """Check the config, export (if asked), de-identify, verify and, when verification passes, materialize views.

    ``spark`` is a session, a function that returns one (called once the export is done), or ``None`` for the
    active session (or a new local one, as :func:`anonymizer.spark.session.active_or_new_session` decides).
    """
    from anonymizer.config.lint import check_before_run
    from anonymizer.spark.pipeline import DeidentifyRequest, run_deidentify
    from anonymizer.spark.zone_fs import has_scheme
    from anonymizer.verify.pipeline import VerifyRequest, run_verify

    check_before_run(request.config, allow_dead_rules=request.allow_dead_rules, what="run")
    timings: dict[str, float] = {}
    clock = _Clock(timings)
    exported = None
    landing = request.landing_dir
    if request.export is not None:
        exported = _export(request.export, landing, request.export_poll)
        landing = exported.folder
        clock.done("export")
    elif not has_scheme(landing) and not Path(landing).exists():
        raise UsageError(f"no landing data at {landing}: give an export, or a landing folder that exists")
    session = _session(spark)
    clock.restart()
    deidentified = run_deidentify(
        DeidentifyRequest(
            input=landing,
            output=request.research,
            config=request.config,
            quarantine=request.quarantine,
            as_of=request.as_of,
            allow_ephemeral_keys=request.allow_ephemeral_keys,
            allow_dead_rules=request.allow_dead_rules,
            mode=request.mode,
        ),
        session,
    )
    totals = deidentified.summary.totals
    log.info(
        "deidentify: %d lines in, %d rows out, %d quarantined",
        totals.lines_in,
        totals.rows_out,
        totals.quarantined,
    )
    clock.done("deidentify")
    verified = run_verify(
        VerifyRequest(
            source=landing,
            output=request.research,
            config=request.config,
            report_dir=request.report_dir,
            quarantine=request.quarantine,
            allow_dead_rules=request.allow_dead_rules,
        ),
        spark=session,
    )
    log.info("verify: %s (%s)", "passed" if verified.passed else "did not pass", verified.report_html)
    clock.done("verify")
    report = PipelineReport(landing, deidentified, verified, exported, timings=timings)
    if verified.passed and request.views:
        report.views = _materialize(request.views, request.research, session)
        clock.done("views")
    return report


def _export(export: ExportRequest, landing: str, poll: PollPolicy | None) -> ExportResult:
    """Run the export into a local landing folder; a partial export (server error files) stops the run."""
    from anonymizer.export.errors import ExportError
    from anonymizer.export.runner import partial_export_message, run_export
    from anonymizer.storage.landing import LocalLanding

    result = run_export(
        export, LocalLanding(Path(landing)), policy=poll, progress=lambda m: log.info("export: %s", m)
    )
    if result.errors:
        raise ExportError(partial_export_message(result))
    log.info(
        "export %s: %d resources in %.1fs -> %s",
        result.export_id,
        sum(result.counts.values()),
        result.seconds,
        result.folder,
    )
    return result


def _materialize(paths: Sequence[str], research: str, spark: SparkSession) -> list[Materialized]:
    """The views over the verified zone, one Delta table each under ``research/views/``."""
    from anonymizer.views.materialize import load_views, materialize

    return materialize(load_views(list(paths)), research, spark)


def _session(spark: SparkSession | Callable[[], SparkSession] | None) -> SparkSession:
    if spark is None:
        from anonymizer.spark.session import active_or_new_session

        return active_or_new_session()
    return spark() if callable(spark) else spark


def _under(root: str, name: str) -> str:
    """``root/name`` for a local folder (made absolute) or a URI."""
    from anonymizer.spark.zone_fs import has_scheme

    return f"{root.rstrip('/')}/{name}" if has_scheme(root) else str(Path(root).resolve() / name)


class _Clock:
    """Seconds per step into ``timings``."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self.started = time.monotonic()

    def restart(self) -> None:
        self.started = time.monotonic()

    def done(self, step: str) -> None:
        now = time.monotonic()
        self.timings[step] = now - self.started
        self.started = now
