"""``run_deidentify``: landing NDJSON -> engine (one pass) -> research-zone Delta tables + NDJSON + quarantine."""

from __future__ import annotations

import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anonymizer.config.lint import check_before_run
from anonymizer.errors import AnonymizerError
from anonymizer.spark import line_schema as ls
from anonymizer.spark import zone_fs
from anonymizer.spark.failures import diagnose
from anonymizer.spark.history import purge_history
from anonymizer.spark.input_files import FileCheck, InputFilesError, check_inputs, unreadable_message
from anonymizer.spark.landing_exports import InputSelection, select_completed_exports
from anonymizer.spark.patient_context import needs_patient_identifiers, with_patient_identifiers
from anonymizer.spark.preflight import PreflightError, require_delta, require_writable
from anonymizer.spark.quarantine import append_quarantine, append_unreadable_files, with_line_numbers
from anonymizer.spark.research_zone import (
    clear_ndjson,
    delete_ids,
    delta_path,
    merge_into_table,
    table_rows,
    write_ndjson,
)
from anonymizer.spark.resource_format import (
    DEFAULT_RESOURCE_FORMAT,
    ResourceFormatError,
    check_writable,
    table_resource_format,
)
from anonymizer.spark.summary import RunSummary, TypeCounts, append_run_row, write_summary_file
from anonymizer.spark.transform import DEFAULT_MAX_LINE_BYTES, TransformOptions, make_partition_transform
from anonymizer.storage.locations import is_at_or_below

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger("anonymizer.spark")
_MERGE_THREADS = 4


class DeidentifyError(AnonymizerError, RuntimeError):
    """The run stopped; the message is safe to show (file and line, never content)."""


@dataclass(frozen=True)
class DeidentifyRequest:
    """What to de-identify and where to put it.

    Attributes:
        input: landing folder or Hadoop URI with NDJSON (``.ndjson``/``.ndjson.gz``, any names, searched recursively;
            a ``deleted/`` sub-folder holds Bundles of deleted resources).
        output: research zone root (``delta/<Type>``, ``ndjson/<Type>``, ``delta/_runs``, ``run-summary.json``).
        config: rules file (Microsoft's format).
        quarantine: where quarantined lines go (PHI); default ``<output>-quarantine``; never inside ``output``.
        as_of: reference date of the "age over 89" rule; default today (UTC).
        allow_ephemeral_keys: random keys for missing ones (demo only).
        allow_weak_test_keys: accept short or repeated keys (Microsoft's test fixtures only).
        keys_from: read the keys from ``<prefix>/crypto-hash-key`` ... (e.g. ``dbsecret:<scope>``), overriding the config.
        mode: ``merge`` (upsert by id, the default) or ``overwrite`` (each written table holds only this run's rows).
        purge_history: with ``overwrite``: then remove every older version's files of the tables written
            (``VACUUM RETAIN 0 HOURS``), so time travel cannot reach a leaky earlier run.
        allow_dead_rules: rules that can never match are warnings, not errors (Microsoft's test configs).
        skip_unreadable_files: quarantine unreadable input files (one record each) and go on, instead of stopping.
        resource_format: ``json`` (a JSON string column every Delta reader opens, the default) or ``variant``.
    """

    input: str
    output: str
    config: str
    quarantine: str | None = None
    as_of: date | None = None
    run_id: str | None = None
    allow_ephemeral_keys: bool = False
    allow_weak_test_keys: bool = False
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    keys_from: str | None = None
    mode: str = "merge"
    purge_history: bool = False
    allow_dead_rules: bool = False
    skip_unreadable_files: bool = False
    resource_format: str = DEFAULT_RESOURCE_FORMAT


@dataclass
class DeidentifyResult:
    """Outcome of a run: the summary plus where things are."""

    summary: RunSummary
    summary_path: str
    tables: dict[str, str] = field(default_factory=dict)
    skipped_inputs: tuple[str, ...] = ()  # incomplete export folders of the landing, not read


def default_quarantine(output: str) -> str:
    """``<output>-quarantine``: beside the research zone, never inside it."""
    return output.rstrip("/") + "-quarantine"


def _inside(child: str, parent: str) -> bool:
    return is_at_or_below(child, parent)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_deidentify(request: DeidentifyRequest, spark: SparkSession | None = None) -> DeidentifyResult:
    """De-identify the landing zone into the research zone; see :class:`DeidentifyRequest`."""
    from anonymizer.engine import Anonymizer
    from anonymizer.spark.session import active_or_new_session

    if request.purge_history and request.mode != "overwrite":
        raise DeidentifyError("--purge-history needs --mode overwrite (a merge keeps older rows on purpose)")
    spark = spark or active_or_new_session()
    # Plain paths become absolute here: Delta 3.x accepts only absolute table paths in SQL.
    request = replace(
        request,
        input=zone_fs.absolute(request.input),
        output=zone_fs.absolute(request.output),
        quarantine=zone_fs.absolute(request.quarantine) if request.quarantine else None,
    )
    quarantine = request.quarantine or default_quarantine(request.output)
    if _inside(quarantine, request.output):
        raise DeidentifyError("the quarantine holds PHI and must not be inside the research zone (--output)")
    if _inside(request.output, request.input):
        raise DeidentifyError("--output must not be inside --input")
    try:
        check_writable(spark, request.resource_format)
        if request.mode == "merge":
            _check_existing_formats(spark, request.output, request.resource_format)
    except ResourceFormatError as exc:
        raise DeidentifyError(str(exc)) from None
    run_id = request.run_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:8]
    started, clock = _now(), time.monotonic()
    timings: dict[str, float] = {}
    check_before_run(request.config, allow_dead_rules=request.allow_dead_rules, what="de-identification")
    anonymizer = Anonymizer.from_config_file(
        request.config,
        as_of=request.as_of,
        allow_ephemeral_keys=request.allow_ephemeral_keys,
        keys_from=request.keys_from,
        allow_weak_test_keys=request.allow_weak_test_keys,
    )
    options = TransformOptions(
        max_line_bytes=request.max_line_bytes, source_folder=Path(request.input.rstrip("/")).name
    )
    _preflight(spark, request, quarantine)
    selection = _select_input(spark, request.input)
    unreadable, readable = _check_input(spark, request, selection.paths)
    timings["check_files_s"] = round(time.monotonic() - clock, 3)

    lines = _read_input(spark, list(selection.paths), readable if unreadable else None)
    staging = f"{quarantine.rstrip('/')}/_staging/{run_id}"
    source = lines
    if needs_patient_identifiers(anonymizer.config):
        # Contextual scrubText: each patient's identifying values joined to that patient's lines.
        source = with_patient_identifiers(lines, request.max_line_bytes)
    transformed = source.mapInArrow(make_partition_transform(anonymizer, options), ls.TRANSFORMED_DDL)
    log.info("run %s: anonymizing %s", run_id, request.input)
    try:
        # The single engine pass: everything after this reads the staged result, never the input again.
        # Partitioned by type, so that each table's write reads its own rows only.
        transformed.write.mode("overwrite").partitionBy("resource_type").parquet(staging)
    except Exception as exc:
        _remove_staging(spark, staging)
        raise DeidentifyError(_engine_failure_message(exc)) from exc
    timings["anonymize_s"] = round(time.monotonic() - clock, 3)
    step = time.monotonic()
    staged = spark.read.schema(ls.TRANSFORMED_DDL).parquet(staging)  # resource_type: the partition column
    counts = _count(staged)
    timings["count_s"] = round(time.monotonic() - step, 3)
    log.info("run %s: %d lines, %d types", run_id, sum(c.lines_in for c in counts.values()), len(counts))

    step = time.monotonic()
    bad = staged.filter(f"status <> '{ls.STATUS_OK}'")
    if any(c.quarantined for c in counts.values()):
        append_quarantine(with_line_numbers(spark, bad, lines), quarantine, run_id)
    if unreadable:
        append_unreadable_files(
            spark, [(c.path, c.size, c.reason or "") for c in unreadable], quarantine, run_id
        )
    timings["quarantine_s"] = round(time.monotonic() - step, 3)

    step = time.monotonic()
    good = staged.filter(f"status <> '{ls.STATUS_QUARANTINED}'")
    types = sorted(t for t, c in counts.items() if c.rows_out)
    tables = {t: delta_path(request.output, t) for t in types}

    duplicated = _types_with_duplicate_ids(good)

    def merge_one(resource_type: str) -> None:
        rows = good.filter(good.resource_type == resource_type)
        try:
            merge_into_table(
                spark,
                table_rows(
                    rows,
                    run_id,
                    has_duplicates=resource_type in duplicated,
                    resource_format=request.resource_format,
                ),
                tables[resource_type],
                overwrite=request.mode == "overwrite",
                resource_format=request.resource_format,
            )
        except Exception as exc:
            known = diagnose(exc, table=tables[resource_type])
            if known is None:
                raise
            raise DeidentifyError(known) from exc
        write_ndjson(rows, request.output, resource_type)
        log.info("run %s: %s -> %d rows", run_id, resource_type, counts[resource_type].rows_out)

    if types:
        clear_ndjson(spark, request.output)
    # Per-type MERGEs and NDJSON writes are small independent jobs: a few at once keep every core busy.
    with ThreadPoolExecutor(max_workers=_MERGE_THREADS) as pool:
        list(pool.map(merge_one, types))
    timings["delta_s"] = round(time.monotonic() - step, 3)
    for path in selection.paths:
        for resource_type, ids in _deleted_ids(spark, path, anonymizer).items():
            counts.setdefault(resource_type, TypeCounts()).deleted += delete_ids(
                spark, delta_path(request.output, resource_type), ids
            )
    timings["write_s"] = round(time.monotonic() - step, 3)
    if request.purge_history:
        step = time.monotonic()
        purged = purge_history(spark, tables.values())
        timings["purge_s"] = round(time.monotonic() - step, 3)
        log.info("run %s: history of %d tables purged", run_id, len(purged))

    summary = RunSummary(
        run_id=run_id,
        started_at=started,
        finished_at=_now(),
        as_of=anonymizer.as_of.isoformat(),
        config=str(request.config),
        config_fingerprint=anonymizer.fingerprint,
        input=request.input,
        output=request.output,
        quarantine=quarantine,
        counts=counts,
        timings_s={**timings, "total_s": round(time.monotonic() - clock, 3)},
        tables=tables,
        unreadable_files=[{"path": c.path, "size": c.size, "reason": c.reason} for c in unreadable],
        resource_format=request.resource_format,
    )
    summary_path = f"{request.output.rstrip('/')}/run-summary.json"
    append_run_row(spark, summary, f"{request.output.rstrip('/')}/delta/_runs")
    write_summary_file(spark, summary, summary_path)
    _remove_staging(spark, staging)
    return DeidentifyResult(
        summary=summary, summary_path=summary_path, tables=tables, skipped_inputs=selection.skipped
    )


def _select_input(spark: SparkSession, path: str) -> InputSelection:
    """Completed exports only; the incomplete export folders skipped are logged and returned."""
    try:
        selection = select_completed_exports(spark, path)
    except ValueError as exc:
        raise DeidentifyError(str(exc)) from None
    if selection.skipped:
        log.warning("skipped incomplete exports (no manifest.json): %s", ", ".join(selection.skipped))
    return selection


def _check_input(
    spark: SparkSession, request: DeidentifyRequest, paths: tuple[str, ...]
) -> tuple[list[FileCheck], list[str]]:
    """Check every input file of the selected exports first: ``(unreadable ones, paths of the readable ones)``.

    Stops unless skipping; an export without files is fine as long as the selection as a whole has lines.
    """
    try:
        checks = check_inputs(spark, paths)
    except InputFilesError as exc:
        raise DeidentifyError(str(exc)) from None
    unreadable = [c for c in checks if c.reason]
    readable = [c.path for c in checks if not c.reason]
    if unreadable and (not request.skip_unreadable_files or not readable):
        message = unreadable_message(unreadable, len(checks))
        if not readable:
            message = message.replace("and de-identify the rest", "(no file of this input is readable)")
        raise DeidentifyError(message)
    for c in unreadable:
        log.warning("skipping unreadable file %s (%d bytes): %s", c.path, c.size, c.reason)
    return unreadable, readable


def _read_input(spark: SparkSession, paths: list[str], files: list[str] | None) -> DataFrame:
    from anonymizer.spark.reader import read_lines

    return read_lines(spark, paths, files)


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


def _preflight(spark: SparkSession, request: DeidentifyRequest, quarantine: str) -> None:
    """Writable output and quarantine, Delta available: checked before anything is read or written."""
    try:
        require_writable(request.output, "--output")
        require_writable(quarantine, "--quarantine")
        require_delta(spark, f"{quarantine.rstrip('/')}/_staging/_no_such_table")
    except PreflightError as exc:
        raise DeidentifyError(str(exc)) from exc


def _types_with_duplicate_ids(good: DataFrame) -> set[str]:
    """Resource types whose rows repeat an id (Patient and Group exports repeat shared resources)."""
    from pyspark.sql import functions as F

    per_type = good.groupBy("resource_type").agg(F.count("*").alias("n"), F.countDistinct("id").alias("ids"))
    # A null id counts in n but not in ids: such rows take the de-duplicating path too.
    return {row["resource_type"] for row in per_type.collect() if row["n"] != row["ids"]}


def _count(staged: DataFrame) -> dict[str, TypeCounts]:
    counts: dict[str, TypeCounts] = {}
    for row in staged.groupBy("resource_type", "status").count().collect():
        c = counts.setdefault(row["resource_type"] or "unknown", TypeCounts())
        c.lines_in += row["count"]
        if row["status"] == ls.STATUS_OK:
            c.rows_out += row["count"]
        elif row["status"] == ls.STATUS_SKIPPED:
            c.rows_out += row["count"]
            c.quarantined += row["count"]
            c.skipped += row["count"]
        else:
            c.quarantined += row["count"]
    return counts


def _check_existing_formats(spark: SparkSession, output: str, resource_format: str) -> None:
    """Refuse to MERGE into tables of the other resource format (before the engine pass, not half-way)."""
    for name in zone_fs.list_delta_tables(spark, f"{output.rstrip('/')}/delta"):
        if name.startswith("_"):
            continue
        existing = table_resource_format(spark, delta_path(output, name))
        if existing is not None and existing != resource_format:
            raise ResourceFormatError(
                f"the research zone stores resources as {existing} ({name}), this run writes "
                f"{resource_format}: use --resource-format {existing}, or --mode overwrite to rewrite the tables"
            )


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


def _remove_staging(spark: SparkSession, staging: str) -> None:
    """Remove this run's staging folder, and ``_staging`` itself when no other run's is left in it.

    Where the driver cannot reach the folder, Spark's own overwrite empties it instead.
    """
    if zone_fs.remove_tree(staging):
        zone_fs.remove_empty_dir(staging.rstrip("/").rsplit("/", 1)[0])
    else:
        spark.createDataFrame([], ls.TRANSFORMED_DDL).write.mode("overwrite").parquet(staging)
