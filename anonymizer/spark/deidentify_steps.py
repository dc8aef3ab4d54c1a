"""The named steps of ``run_deidentify``: read, transform, stage, quarantine, publish, deletions, summarize.

Each step is a function of one :class:`DeidentifyRun` (the run's request, zone, engine and what the earlier steps
produced); :func:`anonymizer.spark.pipeline.run_deidentify` calls them in order under one
:class:`~anonymizer.spark.step_timer.StepTimer`, whose seconds go into the run summary (``<step>_s``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anonymizer.errors import AnonymizerError
from anonymizer.spark import line_schema as ls
from anonymizer.spark import zone_fs
from anonymizer.spark.failures import diagnose
from anonymizer.spark.history import purge_history
from anonymizer.spark.input_files import FileCheck, InputFilesError, check_inputs, unreadable_message
from anonymizer.spark.landing_exports import InputSelection, select_completed_exports
from anonymizer.spark.patient_context import needs_patient_identifiers, with_patient_identifiers
from anonymizer.spark.quarantine import append_quarantine, append_unreadable_files, with_line_numbers
from anonymizer.spark.research_zone import (
    clear_ndjson,
    delete_ids,
    merge_into_table,
    table_rows,
    write_ndjson,
)
from anonymizer.spark.summary import RuleHit, TypeCounts
from anonymizer.spark.transform import TransformOptions, make_partition_transform, sum_rule_hits
from anonymizer.spark.zone import QuarantineZone, ResearchZone

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from anonymizer.spark.deidentify_request import DeidentifyRequest

log = logging.getLogger("anonymizer.spark")
_MERGE_THREADS = 4


class DeidentifyError(AnonymizerError, RuntimeError):
    """The run stopped; the message is safe to show (file and line, never content)."""


@dataclass
class DeidentifyRun:
    """One run: its inputs, and what each step leaves for the next."""

    spark: SparkSession
    request: DeidentifyRequest
    zone: ResearchZone
    quarantine: QuarantineZone
    run_id: str
    anonymizer: Any
    selection: InputSelection | None = None
    unreadable: list[FileCheck] = field(default_factory=list)
    lines: DataFrame | None = None
    staged: DataFrame | None = None
    counts: dict[str, TypeCounts] = field(default_factory=dict)
    duplicated: set[str] = field(default_factory=set)
    tables: dict[str, str] = field(default_factory=dict)
    rule_hits: list[RuleHit] = field(default_factory=list)

    @property
    def staging(self) -> str:
        """The run's staged engine output (PHI: under the quarantine)."""
        return self.quarantine.staging(self.run_id)


def read(run: DeidentifyRun) -> None:
    """Select the completed exports, check every input file, and open the lines (a lazy DataFrame)."""
    from anonymizer.spark.reader import read_lines

    try:
        run.selection = select_completed_exports(run.spark, run.request.input)
    except ValueError as exc:
        raise DeidentifyError(str(exc)) from None
    if run.selection.skipped:
        log.warning("skipped incomplete exports (no manifest.json): %s", ", ".join(run.selection.skipped))
    run.unreadable, readable = _check_input(run)
    # Lines as in the file (no Java copy of each): the Python steps decode them with line_text.line_texts.
    run.lines = read_lines(
        run.spark, list(run.selection.paths), readable if run.unreadable else None, decoded=False
    )


def _check_input(run: DeidentifyRun) -> tuple[list[FileCheck], list[str]]:
    """``(unreadable files, paths of the readable ones)``; stops unless skipping (and some file is readable)."""
    try:
        checks = check_inputs(run.spark, run.selection.paths if run.selection else ())
    except InputFilesError as exc:
        raise DeidentifyError(str(exc)) from None
    unreadable = [c for c in checks if c.reason]
    readable = [c.path for c in checks if not c.reason]
    if unreadable and (not run.request.skip_unreadable_files or not readable):
        message = unreadable_message(unreadable, len(checks))
        if not readable:
            message = message.replace("and de-identify the rest", "(no file of this input is readable)")
        raise DeidentifyError(message)
    for c in unreadable:
        log.warning("skipping unreadable file %s (%d bytes): %s", c.path, c.size, c.reason)
    return unreadable, readable


def transform(run: DeidentifyRun) -> None:
    """The single engine pass, written once to the staging folder (partitioned by type, so that each table's
    write reads its own rows only); everything after this reads the staged result, never the input again."""
    assert run.lines is not None
    options = TransformOptions(
        max_line_bytes=run.request.max_line_bytes, source_folder=Path(run.request.input.rstrip("/")).name
    )
    source = run.lines
    if needs_patient_identifiers(run.anonymizer.config):
        # Contextual scrubText: each patient's identifying values joined to that patient's lines.
        source = with_patient_identifiers(run.lines, run.request.max_line_bytes)
    transformed = source.mapInArrow(make_partition_transform(run.anonymizer, options), ls.TRANSFORMED_DDL)
    log.info("run %s: anonymizing %s", run.run_id, run.request.input)
    try:
        with unsorted_partition_writes(run.spark):
            transformed.write.mode("overwrite").partitionBy("resource_type").parquet(run.staging)
    except Exception as exc:
        remove_staging(run)
        raise DeidentifyError(_engine_failure_message(exc)) from exc


#: Spark's setting for writing a partitioned output with one open file per partition value instead of sorting
#: the task's rows by it first.
CONCURRENT_WRITERS = "spark.sql.maxConcurrentOutputFileWriters"
#: Open files per task at most (one per resource type in the task's split; beyond it Spark sorts the rest).
STAGING_WRITERS = 32


@contextmanager
def unsorted_partition_writes(spark: SparkSession) -> Iterator[None]:
    """Partitioned writes inside the block keep an open file per partition value (up to :data:`STAGING_WRITERS`
    per task) instead of sorting each task's rows by the partition column first: the sort held a whole split's
    transformed rows (about 150 MB at a 128 MB split) in the JVM heap, and spilled them, before writing the
    first row. The session's own setting is restored after the block. A session that refuses the setting
    (Databricks serverless accepts only a few Spark settings) writes as before: sorted, same rows."""
    previous = spark.conf.get(CONCURRENT_WRITERS, None)
    try:
        spark.conf.set(CONCURRENT_WRITERS, str(STAGING_WRITERS))
    except Exception as exc:  # noqa: BLE001 - a speed-up only; the message names a setting, never data
        log.info(
            "staged write: %s not settable here (%s); writing sorted", CONCURRENT_WRITERS, type(exc).__name__
        )
        yield
        return
    try:
        yield
    finally:
        if previous is None:
            spark.conf.unset(CONCURRENT_WRITERS)
        else:
            spark.conf.set(CONCURRENT_WRITERS, previous)


def stage(run: DeidentifyRun) -> None:
    """Open the staged rows and count them per type and status; find the types whose ids repeat."""
    from pyspark.sql import functions as F

    run.staged = run.spark.read.schema(ls.TRANSFORMED_DDL).parquet(
        run.staging
    )  # resource_type: partition column
    status, good = F.col("status"), F.col("status") != ls.STATUS_QUARANTINED
    # One aggregation over the staged rows: lines per status, and distinct ids among the rows that are written
    # (a null id counts in the rows but not in the ids: such rows take the de-duplicating path too).
    per_type = run.staged.groupBy("resource_type").agg(
        F.count("*").alias("lines"),
        F.count(F.when(status == ls.STATUS_OK, 1)).alias("ok"),
        F.count(F.when(status == ls.STATUS_SKIPPED, 1)).alias("skipped"),
        F.count(F.when(good, 1)).alias("good"),
        # Distinct 64-bit hashes of the ids, not the ids (64-character HMACs): as many as the rows only when no id
        # repeats; fewer also when two ids' hashes collide, which sends the type down the de-duplicating path,
        # correct for any rows (it keeps the newest row per id), only slower.
        F.countDistinct(F.when(good & F.col("id").isNotNull(), F.xxhash64("id"))).alias("ids"),
    )
    for row in per_type.collect():
        c = run.counts.setdefault(row["resource_type"] or "unknown", TypeCounts())
        c.lines_in += row["lines"]
        c.rows_out += row["ok"] + row["skipped"]
        c.skipped += row["skipped"]
        c.quarantined += row["lines"] - row["ok"]  # skipped lines are written and quarantined
        if row["good"] != row["ids"]:
            run.duplicated.add(row["resource_type"])
    log.info(
        "run %s: %d lines, %d types",
        run.run_id,
        sum(c.lines_in for c in run.counts.values()),
        len(run.counts),
    )


def _good(run: DeidentifyRun) -> DataFrame:
    assert run.staged is not None
    return run.staged.filter(f"status <> '{ls.STATUS_QUARANTINED}'")


def quarantine(run: DeidentifyRun) -> None:
    """Append the quarantined lines (with exact line numbers) and the unreadable files' records."""
    assert run.staged is not None and run.lines is not None
    bad = run.staged.filter(f"status <> '{ls.STATUS_OK}'")
    if any(c.quarantined for c in run.counts.values()):
        append_quarantine(with_line_numbers(run.spark, bad, run.lines), run.quarantine, run.run_id)
    if run.unreadable:
        append_unreadable_files(
            run.spark, [(c.path, c.size, c.reason or "") for c in run.unreadable], run.quarantine, run.run_id
        )


def publish(run: DeidentifyRun) -> None:
    """Per type: MERGE (or overwrite) into its Delta table and (unless ``--no-ndjson``) write its NDJSON; then purge history
    if asked."""
    good = _good(run)
    types = sorted(t for t, c in run.counts.items() if c.rows_out)
    run.tables = {t: run.zone.table(t) for t in types}
    overwrite = run.request.mode == "overwrite"

    def publish_one(resource_type: str) -> None:
        rows = good.filter(good.resource_type == resource_type)
        table = run.tables[resource_type]
        shaped = table_rows(
            rows,
            run.run_id,
            has_duplicates=resource_type in run.duplicated,
            resource_format=run.request.resource_format,
        )
        try:
            merge_into_table(
                run.spark, shaped, table, overwrite=overwrite, resource_format=run.request.resource_format
            )
        except Exception as exc:
            known = diagnose(exc, table=table)
            if known is None:
                raise
            raise DeidentifyError(known) from exc
        if run.request.ndjson:
            write_ndjson(rows, run.zone, resource_type)
        log.info("run %s: %s -> %d rows", run.run_id, resource_type, run.counts[resource_type].rows_out)

    if types:
        clear_ndjson(run.spark, run.zone)  # also with --no-ndjson: no earlier run's NDJSON stays
    # Per-type MERGEs and NDJSON writes are small independent jobs: a few at once keep every core busy.
    with ThreadPoolExecutor(max_workers=_MERGE_THREADS) as pool:
        list(pool.map(publish_one, types))
    if run.request.purge_history:
        purged = purge_history(run.spark, run.tables.values())
        log.info("run %s: history of %d tables purged", run.run_id, len(purged))


def deletions(run: DeidentifyRun) -> None:
    """Delete the ids the export lists as deleted (Bundles under ``<export>/deleted/``), hashed like the rows."""
    for path in run.selection.paths if run.selection else ():
        for resource_type, ids in _deleted_ids(run.spark, path, run.anonymizer).items():
            run.counts.setdefault(resource_type, TypeCounts()).deleted += delete_ids(
                run.spark, run.zone.table(resource_type), ids
            )


def summarize(run: DeidentifyRun) -> None:
    """Sum the engine's rule hits over the staged batches (the summary's other figures are counted already)."""
    assert run.staged is not None
    run.rule_hits = sum_rule_hits(run.staged)


def _deleted_ids(spark: SparkSession, input_path: str, anonymizer: Any) -> dict[str, list[str]]:
    """Pseudonymized ids listed as deleted by the export (Bundles under ``<input>/deleted/``)."""
    import orjson

    folder = f"{input_path.rstrip('/')}/deleted"
    if not zone_fs.exists(spark, folder):
        return {}
    out: dict[str, list[str]] = {}
    for row in spark.read.text(folder).collect():  # deletion lists are small: ids only
        try:
            bundle = orjson.loads(row.value)
        except orjson.JSONDecodeError:
            continue
        for entry in bundle.get("entry", []) if isinstance(bundle, dict) else []:
            request = entry.get("request") or {}
            if str(request.get("method", "")).upper() != "DELETE":
                continue
            resource_type, _, raw_id = str(request.get("url", "")).partition("/")
            if resource_type and raw_id:
                # Hash the id exactly as the engine hashes the resource's own id.
                hashed = anonymizer.anonymize_raising({"resourceType": resource_type, "id": raw_id}).get("id")
                if hashed:
                    out.setdefault(resource_type, []).append(hashed)
    return out


def _engine_failure_message(exc: BaseException) -> str:
    text = str(exc)
    marker = "LineProcessingAbort: "
    if marker in text:
        return text.split(marker, 1)[1].splitlines()[0]
    known = diagnose(exc)
    if known:
        return f"the anonymization pass failed: {known}"
    first = text.strip().splitlines()[0][:300] if text.strip() else ""
    return f"the anonymization pass failed: {type(exc).__name__}: {first}"


def remove_staging(run: DeidentifyRun) -> None:
    """Remove this run's staging folder, and ``_staging`` itself when no other run's is left in it.

    Where the driver cannot reach the folder, Spark's own overwrite empties it instead.
    """
    if zone_fs.remove_tree(run.staging):
        zone_fs.remove_empty_dir(run.quarantine.staging_root)
    else:
        run.spark.createDataFrame([], ls.TRANSFORMED_DDL).write.mode("overwrite").parquet(run.staging)
