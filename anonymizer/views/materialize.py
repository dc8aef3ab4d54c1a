"""Materialize views as Delta tables ``<zone>/views/<view name>`` with the view's URL and fingerprint.

Each view's rows are computed first (:func:`evaluated`), then its table is written in one atomic Delta commit
(``createOrReplace`` with its table properties): a view that fails on a resource (type mismatch, unexpected
collection) leaves its previous table exactly as it was. In merge
mode the table written is the previous rows of resources absent from this run plus this run's rows.
A view whose resource type has no table in the zone yields an empty table with the view's schema.
"""

from __future__ import annotations

import json
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anonymizer.spark.research_zone import create_or_replace, delta_path
from anonymizer.spark.resource_format import quoted_path, table_detail
from anonymizer.spark.resource_format import table_properties as delta_properties
from anonymizer.views.definition import ViewDef
from anonymizer.views.errors import ViewDefinitionError, ViewEvaluationError
from anonymizer.views.fhirpath_parser import Call
from anonymizer.views.merge import MODES, merged_frame, resource_key_column
from anonymizer.views.runner import (
    evaluation_errors,
    over_resources,
    shared_rows,
    shared_view,
    source_resources,
    view_frame,
)
from anonymizer.views.validate import parse_view

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

URL_PROPERTY = "fhir.view.url"
FINGERPRINT_PROPERTY = "fhir.view.fingerprint"
NAME_PROPERTY = "fhir.view.name"
#: Delta table property naming the columns Delta collects file statistics (min/max/null count) for.
STATS_COLUMNS_PROPERTY = "delta.dataSkippingStatsColumns"
_KEY_FUNCTIONS = ("getResourceKey", "getReferenceKey")


@dataclass(frozen=True)
class Materialized:
    """One written view table."""

    name: str
    path: str
    rows: int
    source_present: bool


def views_path(zone: str) -> str:
    """Folder of the views tables of a research zone."""
    return f"{zone.rstrip('/')}/views"


def load_views(paths: list[str]) -> list[ViewDef]:
    """Read and validate ViewDefinitions from JSON files or folders of ``*.json`` (sorted); names must be unique."""
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files += sorted(path.glob("*.json"))
        elif path.is_file():
            files.append(path)
        else:
            raise ViewDefinitionError(f"no view definition at {given}")
    if not files:
        raise ViewDefinitionError("no view definitions found")
    views: list[ViewDef] = []
    for file in files:
        try:
            raw: Any = json.loads(file.read_text(encoding="utf-8"))
            views.append(parse_view(raw))
        except (ValueError, ViewDefinitionError) as exc:
            raise ViewDefinitionError(f"{file.name}: {exc}") from None
        if not isinstance(raw.get("name"), str):
            raise ViewDefinitionError(f"{file.name}: a materialized view needs a name")
    names = [v.name for v in views]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ViewDefinitionError(f"view names used more than once: {duplicates}")
    return views


#: Bytes of a source table's data files per task of a view (Parquet, compressed): a view's task carries the view's
#: whole expression tree (deserialized and initialized per task), so small tables are read in fewer, fuller tasks
#: than Spark's splits give them (a local session asks for 4 per core, one per file of a small table). About 2 to 3
#: CPU-s of view evaluation per task; a larger table keeps Spark's splits.
VIEW_TASK_BYTES = 16 << 20


def source_frame(view: ViewDef, zone: str, spark: SparkSession) -> tuple[DataFrame, bool]:
    """The zone's resources of the view's type as ``_resource`` (empty when the zone has no such table).

    ``_resource`` is as the zone stores it, JSON text or VARIANT (see
    :func:`~anonymizer.views.runner.source_resources`).

    At most one task per :data:`VIEW_TASK_BYTES` of the table (``coalesce``: fewer tasks, no shuffle).
    """
    from pyspark.sql import functions as F

    path = delta_path(zone, view.resource)
    detail = table_detail(spark, path)
    if detail is not None:
        tasks = max(1, math.ceil(detail[1] / VIEW_TASK_BYTES))
        return source_resources(spark.read.format("delta").load(path).coalesce(tasks)), True
    # Built in the JVM: ``createDataFrame([])`` would start a Python worker to run the empty local relation.
    return spark.range(0).select(F.lit(None).cast("string").alias("_resource")), False


def key_columns(view: ViewDef) -> list[str]:
    """The view's single-valued key columns (``getResourceKey()``, ``getReferenceKey(...)``), in output order."""
    return [
        column.name
        for column in view.columns()
        if not column.collection and isinstance(column.ast, Call) and column.ast.name in _KEY_FUNCTIONS
    ]


def write_view(
    view: ViewDef, frame: DataFrame, target: str, spark: SparkSession, rows: int | None = None
) -> int:
    """Replace (or create) the table at ``target`` with ``frame`` in one commit; returns the number of rows written.

    ``rows``: the number of rows of ``frame`` when known (else it is read back from the table's history).
    Delta collects file statistics only for the key columns when the view has any: those are what analysts
    join and filter on, and statistics of the other columns (codes, displays, years of unclustered rows) cost
    a fifth to a quarter of the write's CPU (Observation, Claim rows) without ever skipping a file.
    Delta SQL only (no ``DeltaTable`` API, which Spark Connect serves only with Delta's Connect plugin).
    """
    writer = frame.writeTo(quoted_path(target)).using("delta")
    writer = writer.tableProperty(NAME_PROPERTY, view.name).tableProperty(
        FINGERPRINT_PROPERTY, view.fingerprint
    )
    if view.url:
        writer = writer.tableProperty(URL_PROPERTY, view.url)
    keys = key_columns(view)
    if keys:
        writer = writer.tableProperty(STATS_COLUMNS_PROPERTY, ",".join(keys))
    with evaluation_errors():
        create_or_replace(target, lambda replace: writer.createOrReplace() if replace else writer.create())
    if rows is not None:
        return rows
    history = spark.sql(f"DESCRIBE HISTORY {quoted_path(target)} LIMIT 1")
    metrics = history.select("operationMetrics").first()
    return int((metrics[0] or {}).get("numOutputRows", 0)) if metrics else 0


def evaluated(frame: DataFrame) -> DataFrame | None:
    """``frame``'s rows computed now and held by the executors (``localCheckpoint``); None where not supported.

    The write that follows then plans a scan of rows already computed instead of the view's expression tree: a
    view is thousands of characters of SQL, and Spark and Delta analyze and optimize a write's query again in the
    write command (more driver CPU than writing the rows). Errors of the view surface here, before any commit.
    The rows stay in the executors' block stores (memory, spilling to disk) until the frame is released (Spark
    Connect) or garbage collected. Spark Connect before 4.0 has no checkpoint, and Databricks serverless refuses
    to hold rows: then None, and the caller writes ``frame`` itself.
    """
    try:
        with evaluation_errors():
            return frame.localCheckpoint(eager=True)
    except ViewEvaluationError:
        raise
    except Exception as exc:
        if _not_supported(exc):
            return None
        raise


def _not_supported(exc: Exception) -> bool:
    """Whether ``exc`` says the session does not support the operation (rather than that it failed)."""
    from pyspark.errors import PySparkException, PySparkNotImplementedError

    if isinstance(exc, PySparkNotImplementedError | NotImplementedError):
        return True
    if isinstance(exc, PySparkException):
        state = exc.getSqlState() or ""
        condition = exc.getCondition() if hasattr(exc, "getCondition") else exc.getErrorClass()
        return state.startswith("0A") or "NOT_SUPPORTED" in (condition or "")
    return False


#: Resource types whose views are materialized at the same time (threads of the driver). Spark runs the jobs of
#: several threads at once, so the driver's analysis and Delta commits of one view overlap the tasks of another.
VIEW_THREADS = 4


def materialize(
    views: list[ViewDef],
    zone: str,
    spark: SparkSession,
    output: str | None = None,
    mode: str = "overwrite",
    threads: int = VIEW_THREADS,
) -> list[Materialized]:
    """Write every view; returns the written tables in the order of ``views``.

    ``mode`` overwrite replaces each table; merge replaces only the rows of the resources in the zone's
    tables (see :mod:`anonymizer.views.merge`). Either way each table changes in one commit or not at all.

    The views of one resource type are written one after another (in their order, over one read and one parse
    of the type's table); up to ``threads`` resource types at once. When a view fails: its table is left as it
    was, no further view is started, the views already being written finish (each in its one commit), and the
    error raised is that of the first failing view in the order of ``views``. With ``threads=1`` the types are
    written in the order of their first view, and nothing after the failing view is written.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r} (one of {', '.join(MODES)})")
    if threads < 1:
        raise ValueError("threads must be at least 1")
    if mode == "merge":
        for view in views:
            resource_key_column(view)  # refuse before anything is written
    groups: dict[str, list[int]] = {}  # resource type -> positions of its views in ``views``
    for index, view in enumerate(views):
        groups.setdefault(view.resource, []).append(index)
    stop = threading.Event()
    failures: list[tuple[int, Exception]] = []
    done: dict[int, Materialized] = {}
    lock = threading.Lock()

    def write_type(positions: list[int]) -> None:
        if stop.is_set():
            return
        group = [views[index] for index in positions]
        results = _materialize_type(group, zone, spark, output or zone, mode, stop)
        for index, written in zip(positions, results, strict=False):
            with lock:
                if isinstance(written, Exception):
                    failures.append((index, written))
                    stop.set()
                else:
                    done[index] = written

    if threads == 1 or len(groups) == 1:
        for positions in groups.values():
            write_type(positions)
    else:
        # Types with more views first: their views are written one after another, so they are the longest
        # chains; started last they would run alone at the end while the other threads are idle.
        ordered = sorted(groups.values(), key=len, reverse=True)
        with ThreadPoolExecutor(max_workers=min(threads, len(groups))) as pool:
            for future in [pool.submit(write_type, positions) for positions in ordered]:
                future.result()
    if failures:
        raise min(failures, key=lambda failure: failure[0])[1]
    return [done[index] for index in sorted(done)]


def _materialize_type(
    group: list[ViewDef], zone: str, spark: SparkSession, output: str, mode: str, stop: threading.Event
) -> list[Materialized | Exception]:
    """Write the views of one resource type in order: each view's table, the last one possibly its error.

    The type's table is read once. Each view's rows are computed before its table is written
    (:func:`evaluated`); with several views, one parse is shared by all of them
    (:func:`~anonymizer.views.runner.shared_rows`), computed once and each view's rows taken from it. When a view
    fails on the shared rows, the type falls back to one parse per view, so a failure is reported by the view
    that fails. Stops before the next view once ``stop`` is set.
    """
    out: list[Materialized | Exception] = []
    try:
        source, present = source_frame(group[0], zone, spark)
    except Exception as exc:
        return [exc]
    shared: DataFrame | None = None
    if present and len(group) > 1:
        try:
            shared, source = over_resources(source, partial(_shared_evaluated, group))
        except ViewEvaluationError:
            shared = None  # a view fails: each view on its own, so that the failing one reports it
        except Exception as exc:
            return [exc]
    for index, view in enumerate(group):
        if stop.is_set():
            break
        target = f"{views_path(output)}/{view.name}"
        try:
            write = partial(
                _write_one,
                view,
                shared_view(shared, index) if shared is not None else None,
                target,
                mode,
                spark,
            )
            written, source = over_resources(source, write)
        except Exception as exc:
            out.append(exc)
            break
        out.append(Materialized(view.name, target, written, present))
    return out


def _shared_evaluated(group: list[ViewDef], resources: DataFrame) -> DataFrame | None:
    return evaluated(shared_rows(group, resources))


def _write_one(
    view: ViewDef, shared: DataFrame | None, target: str, mode: str, spark: SparkSession, resources: DataFrame
) -> int:
    """Write one view's table from its rows already computed (``shared``) or computed now over ``resources``."""
    if shared is not None:
        rows, computed = shared, True
    else:
        direct = view_frame(view, resources)
        held = evaluated(direct)
        rows, computed = (direct, False) if held is None else (held, True)
    merged = _merged(view, rows, resources, target, mode, spark)
    # Rows already computed are counted from the executors' blocks, not read back from the table's log.
    count = rows.count() if computed and merged is rows else None
    return write_view(view, merged, target, spark, count)


def _merged(
    view: ViewDef, frame: DataFrame, source: DataFrame, target: str, mode: str, spark: SparkSession
) -> DataFrame:
    """The rows to write: ``frame``, or in merge mode with an existing table, the merged rows."""
    if mode != "merge":
        return frame
    properties = delta_properties(spark, target)
    if properties is None:
        return frame
    return merged_frame(view, frame, source, target, properties.get(FINGERPRINT_PROPERTY), spark)


def table_properties(spark: SparkSession, path: str) -> dict[str, str]:
    """A Delta table's properties (``fhir.view.*`` among them); empty when there is no table."""
    return delta_properties(spark, path) or {}
