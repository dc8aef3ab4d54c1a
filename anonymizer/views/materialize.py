"""Materialize views as Delta tables ``<zone>/views/<view name>`` with the view's URL and fingerprint.

Each table is written in one atomic Delta commit (``createOrReplace`` with its table properties): a view that
fails on a resource (type mismatch, unexpected collection) leaves its previous table exactly as it was. In merge
mode the table written is the previous rows of resources absent from this run plus this run's rows.
A view whose resource type has no table in the zone yields an empty table with the view's schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anonymizer.spark.research_zone import delta_path
from anonymizer.views.definition import ViewDef
from anonymizer.views.errors import ViewDefinitionError, ViewEvaluationError
from anonymizer.views.merge import MODES, merged_frame, resource_key_column
from anonymizer.views.runner import evaluation_errors, json_resources, shared_rows, shared_view, view_frame
from anonymizer.views.validate import parse_view

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

URL_PROPERTY = "fhir.view.url"
FINGERPRINT_PROPERTY = "fhir.view.fingerprint"
NAME_PROPERTY = "fhir.view.name"


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


def source_frame(view: ViewDef, zone: str, spark: SparkSession) -> tuple[DataFrame, bool]:
    """The zone's resources of the view's type as ``_resource`` JSON (empty when the zone has no such table)."""
    from delta.tables import DeltaTable

    path = delta_path(zone, view.resource)
    if DeltaTable.isDeltaTable(spark, path):
        return json_resources(spark.read.format("delta").load(path)), True
    return spark.createDataFrame([], "_resource string"), False


def write_view(view: ViewDef, frame: DataFrame, target: str, spark: SparkSession) -> int:
    """Replace the table at ``target`` with ``frame`` in one commit; returns the number of rows written."""
    from delta.tables import DeltaTable

    writer = frame.writeTo(f"delta.`{target}`").using("delta")
    writer = writer.tableProperty(NAME_PROPERTY, view.name).tableProperty(
        FINGERPRINT_PROPERTY, view.fingerprint
    )
    if view.url:
        writer = writer.tableProperty(URL_PROPERTY, view.url)
    with evaluation_errors():
        writer.createOrReplace()
    metrics = DeltaTable.forPath(spark, target).history(1).select("operationMetrics").first()
    return int((metrics[0] or {}).get("numOutputRows", 0)) if metrics else 0


def materialize(
    views: list[ViewDef],
    zone: str,
    spark: SparkSession,
    output: str | None = None,
    mode: str = "overwrite",
) -> list[Materialized]:
    """Write every view; stops at the first failing view (earlier tables are written, later ones untouched).

    ``mode`` overwrite replaces each table; merge replaces only the rows of the resources in the zone's
    tables (see :mod:`anonymizer.views.merge`). Either way each table changes in one commit or not at all.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r} (one of {', '.join(MODES)})")
    if mode == "merge":
        for view in views:
            resource_key_column(view)  # refuse before anything is written
    out: list[Materialized] = []
    shared = _SharedParses(views)
    try:
        for view in views:
            target = f"{views_path(output or zone)}/{view.name}"
            source, present = source_frame(view, zone, spark)
            frame = shared.frame(view, source) if present else None
            own = frame is None
            try:
                rows = view_frame(view, source) if frame is None else frame
                written = write_view(view, _merged(view, rows, source, target, mode, spark), target, spark)
            except ViewEvaluationError:
                if own:
                    raise
                # Another view sharing the parse may be the one that failed: this view on its own.
                shared.drop(view.resource)
                frame = _merged(view, view_frame(view, source), source, target, mode, spark)
                written = write_view(view, frame, target, spark)
            out.append(Materialized(view.name, target, written, present))
            shared.done(view)
    finally:
        shared.close()
    return out


def _merged(
    view: ViewDef, frame: DataFrame, source: DataFrame, target: str, mode: str, spark: SparkSession
) -> DataFrame:
    """The rows to write: ``frame``, or in merge mode with an existing table, the merged rows."""
    from delta.tables import DeltaTable

    if mode == "merge" and DeltaTable.isDeltaTable(spark, target):
        fingerprint = table_properties(spark, target).get(FINGERPRINT_PROPERTY)
        return merged_frame(view, frame, source, target, fingerprint, spark)
    return frame


class _SharedParses:
    """Per resource type read by several views: one parse for all of them, its rows cached while they are written.

    A view's frame is its column of :func:`~anonymizer.views.runner.shared_rows` over the type's source table,
    persisted on first use and released once the type's last view is written. When evaluation fails, the type
    falls back to one parse per view (:meth:`drop`), so a failure is reported by the view that fails.
    """

    def __init__(self, views: list[ViewDef]) -> None:
        self.groups: dict[str, list[ViewDef]] = {}
        for view in views:
            self.groups.setdefault(view.resource, []).append(view)
        self.pending = {rtype: len(group) for rtype, group in self.groups.items()}
        self.cached: dict[str, DataFrame] = {}
        self.dropped: set[str] = set()

    def frame(self, view: ViewDef, source: DataFrame) -> DataFrame | None:
        """The view's rows from the shared parse of ``source`` (None: alone on its type, or its type fell back)."""
        group = self.groups[view.resource]
        if len(group) < 2 or view.resource in self.dropped:
            return None
        rows = self.cached.get(view.resource)
        if rows is None:
            rows = self.cached[view.resource] = shared_rows(group, source).persist()
        return shared_view(rows, group.index(view))

    def drop(self, rtype: str) -> None:
        """Stop sharing the parse of ``rtype`` (its remaining views run one by one)."""
        self.dropped.add(rtype)
        rows = self.cached.pop(rtype, None)
        if rows is not None:
            rows.unpersist()

    def done(self, view: ViewDef) -> None:
        """``view`` is written: release its type's cached rows after the type's last view."""
        self.pending[view.resource] -= 1
        if self.pending[view.resource] == 0 and view.resource in self.cached:
            self.cached.pop(view.resource).unpersist()

    def close(self) -> None:
        """Release every cached parse (after a failure)."""
        for rows in self.cached.values():
            rows.unpersist()
        self.cached.clear()


def table_properties(spark: SparkSession, path: str) -> dict[str, str]:
    """A Delta table's properties (``fhir.view.*`` among them)."""
    from delta.tables import DeltaTable

    detail = DeltaTable.forPath(spark, path).detail().select("properties").first()
    return dict(detail[0]) if detail and detail[0] else {}
