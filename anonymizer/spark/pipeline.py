"""``run_deidentify``: landing NDJSON -> engine (one pass) -> research-zone Delta tables + NDJSON + quarantine.

The run is a sequence of named steps (:mod:`anonymizer.spark.deidentify_steps`): read, transform, stage,
quarantine, publish, deletions, summarize; their seconds are in the run summary's ``timings_s``.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from anonymizer.config.lint import check_before_run
from anonymizer.spark import deidentify_steps as steps
from anonymizer.spark import zone_fs
from anonymizer.spark.deidentify_request import DeidentifyRequest
from anonymizer.spark.deidentify_steps import DeidentifyError, DeidentifyRun
from anonymizer.spark.preflight import PreflightError, require_delta, require_writable
from anonymizer.spark.resource_format import ResourceFormatError, check_writable
from anonymizer.spark.step_timer import StepTimer
from anonymizer.spark.summary import RunSummary, append_run_row, write_summary
from anonymizer.spark.zone import QuarantineZone, ResearchZone
from anonymizer.storage.locations import is_at_or_below

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["DeidentifyError", "DeidentifyRequest", "DeidentifyResult", "default_quarantine", "run_deidentify"]
log = logging.getLogger("anonymizer.spark")
#: The steps of a run, in order (each a function of :class:`DeidentifyRun` in ``deidentify_steps``).
STEPS = ("read", "transform", "stage", "quarantine", "publish", "deletions", "summarize")


@dataclass
class DeidentifyResult:
    """Outcome of a run: the summary plus where things are."""

    summary: RunSummary
    summary_path: str
    tables: dict[str, str] = field(default_factory=dict)
    skipped_inputs: tuple[str, ...] = ()  # incomplete export folders of the landing, not read
    ndjson: bool = False  # the NDJSON copy was written (``ndjson/<Type>/``)


def default_quarantine(output: str) -> str:
    """``<output>-quarantine``: beside the research zone, never inside it."""
    return QuarantineZone.beside(ResearchZone(output)).root


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_deidentify(request: DeidentifyRequest, spark: SparkSession | None = None) -> DeidentifyResult:
    """De-identify the landing zone into the research zone; see :class:`DeidentifyRequest`."""
    from anonymizer.spark.session import active_or_new_session

    spark = spark or active_or_new_session()
    request = _checked(spark, request)
    started, timer = _now(), StepTimer(log, "deidentify")
    run = _start(spark, request)
    for name in STEPS:
        with timer.step(name):
            getattr(steps, name)(run)
    summary = RunSummary(
        run_id=run.run_id,
        started_at=started,
        finished_at=_now(),
        as_of=run.anonymizer.as_of.isoformat(),
        config=str(request.config),
        config_fingerprint=run.anonymizer.fingerprint,
        input=request.input,
        output=request.output,
        quarantine=run.quarantine.root,
        counts=run.counts,
        timings_s={**{f"{k}_s": v for k, v in timer.seconds.items()}, "total_s": timer.total()},
        tables=run.tables,
        unreadable_files=[{"path": c.path, "size": c.size, "reason": c.reason} for c in run.unreadable],
        resource_format=request.resource_format,
        rule_hits=run.rule_hits,
        config_file_fingerprint=_file_fingerprint(request.config),
        engine=run.anonymizer.engine_report,
    )
    append_run_row(spark, run.zone, summary)
    write_summary(spark, run.zone, summary)
    steps.remove_staging(run)
    return DeidentifyResult(
        summary=summary,
        summary_path=run.zone.summary_path,
        tables=run.tables,
        skipped_inputs=run.selection.skipped if run.selection else (),
        ndjson=request.ndjson and bool(run.tables),
    )


def _checked(spark: SparkSession, request: DeidentifyRequest) -> DeidentifyRequest:
    """The request with absolute paths, after the checks that need no input: options, locations, formats."""
    if request.purge_history and request.mode != "overwrite":
        raise DeidentifyError("--purge-history needs --mode overwrite (a merge keeps older rows on purpose)")
    # Plain paths become absolute here: Delta 3.x accepts only absolute table paths in SQL.
    request = replace(
        request,
        input=zone_fs.absolute(request.input),
        output=zone_fs.absolute(request.output),
        quarantine=zone_fs.absolute(request.quarantine) if request.quarantine else None,
    )
    quarantine = request.quarantine or default_quarantine(request.output)
    if is_at_or_below(quarantine, request.output):
        raise DeidentifyError("the quarantine holds PHI and must not be inside the research zone (--output)")
    if is_at_or_below(request.output, request.input):
        raise DeidentifyError("--output must not be inside --input")
    try:
        check_writable(spark, request.resource_format)
        if request.mode == "merge":
            _check_existing_formats(spark, ResearchZone(request.output), request.resource_format)
    except ResourceFormatError as exc:
        raise DeidentifyError(str(exc)) from None
    return request


def _start(spark: SparkSession, request: DeidentifyRequest) -> DeidentifyRun:
    """Check the config, build the engine (keys resolved here, on the driver) and check the locations."""
    from anonymizer.engine import Anonymizer

    zone = ResearchZone(request.output)
    quarantine = QuarantineZone(request.quarantine) if request.quarantine else QuarantineZone.beside(zone)
    run_id = request.run_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:8]
    check_before_run(request.config, allow_dead_rules=request.allow_dead_rules, what="de-identification")
    anonymizer = Anonymizer.from_config_file(
        request.config,
        as_of=request.as_of,
        allow_ephemeral_keys=request.allow_ephemeral_keys,
        keys_from=request.keys_from,
        allow_weak_test_keys=request.allow_weak_test_keys,
    )
    try:
        require_writable(zone.root, "--output")
        require_writable(quarantine.root, "--quarantine")
        require_delta(spark, f"{quarantine.staging_root}/_no_such_table")
    except PreflightError as exc:
        raise DeidentifyError(str(exc)) from exc
    _refuse_ephemeral_merge(spark, request, zone, anonymizer.ephemeral_keys)
    return DeidentifyRun(spark, request, zone, quarantine, run_id, anonymizer)


def _refuse_ephemeral_merge(
    spark: SparkSession, request: DeidentifyRequest, zone: ResearchZone, ephemeral: tuple[str, ...]
) -> None:
    """Refuse to merge a run with random keys into tables an earlier run wrote.

    Its pseudonyms and shifted dates match no earlier run's: the merge would keep every earlier row beside this
    run's as another patient (and references across the two runs would point nowhere).
    """
    if request.mode != "merge" or not ephemeral:
        return
    existing = zone.resource_types(spark)
    if existing:
        raise DeidentifyError(
            f"this run's {', '.join(ephemeral)} {'is' if len(ephemeral) == 1 else 'are'} ephemeral (random for this "
            f"run only), so its pseudonyms match none of the {len(existing)} table(s) already in the research zone: "
            "a merge would keep their rows as other patients. Use --mode overwrite to replace them, or give the "
            "keys the zone was written with"
        )


def _file_fingerprint(config: str) -> str:
    """Fingerprint of the rules file as given (before ``--keys-from``): what ``verify`` compares with."""
    from anonymizer.config.loader import fingerprint, read_raw_config

    return fingerprint(read_raw_config(config))


def _check_existing_formats(spark: SparkSession, zone: ResearchZone, resource_format: str) -> None:
    """Refuse to MERGE into tables of the other resource format (before the engine pass, not half-way)."""
    for name in zone.resource_types(spark):
        existing = zone.resource_format(spark, name)
        if existing is not None and existing != resource_format:
            raise ResourceFormatError(
                f"the research zone stores resources as {existing} ({name}), this run writes "
                f"{resource_format}: use --resource-format {existing}, or --mode overwrite to rewrite the tables"
            )
