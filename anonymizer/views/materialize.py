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
from anonymizer.views.errors import ViewDefinitionError
from anonymizer.views.merge import MODES, merged_frame, resource_key_column
from anonymizer.views.runner import evaluation_errors, json_resources, view_frame
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
    from delta.tables import DeltaTable

    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r} (one of {', '.join(MODES)})")
    if mode == "merge":
        for view in views:
            resource_key_column(view)  # refuse before anything is written
    out: list[Materialized] = []
    for view in views:
        target = f"{views_path(output or zone)}/{view.name}"
        source, present = source_frame(view, zone, spark)
        frame = view_frame(view, source)
        if mode == "merge" and DeltaTable.isDeltaTable(spark, target):
            fingerprint = table_properties(spark, target).get(FINGERPRINT_PROPERTY)
            frame = merged_frame(view, frame, source, target, fingerprint, spark)
        out.append(Materialized(view.name, target, write_view(view, frame, target, spark), present))
    return out


def table_properties(spark: SparkSession, path: str) -> dict[str, str]:
    """A Delta table's properties (``fhir.view.*`` among them)."""
    from delta.tables import DeltaTable

    detail = DeltaTable.forPath(spark, path).detail().select("properties").first()
    return dict(detail[0]) if detail and detail[0] else {}
