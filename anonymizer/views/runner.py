"""Run compiled views on Spark: over an in-memory list of resources or over a research zone's Delta table."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from anonymizer.spark.research_zone import delta_path
from anonymizer.spark.resource_format import JSON, check_writable, is_variant, resource_column, resource_json
from anonymizer.views.definition import ViewDef
from anonymizer.views.errors import ViewEvaluationError
from anonymizer.views.parsed_nodes import PARSED, RAW, RESOURCE, UNPARSED
from anonymizer.views.rows_sql import compile_shared
from anonymizer.views.sql_text import ident, quote
from anonymizer.views.validate import parse_view

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

T = TypeVar("T")
_RAISED = re.compile(r"\[views\] (.*?)(?:\s+SQLSTATE|\n|\"|$)", re.S)


def _as_view(view: dict[str, Any] | ViewDef) -> ViewDef:
    return view if isinstance(view, ViewDef) else parse_view(view)


def source_resources(frame: DataFrame, column: str = "resource") -> DataFrame:
    """The resources of ``frame`` as one column ``_resource``: JSON text, or VARIANT as the zone stores it.

    The views read a VARIANT with ``variant_get`` into the R4 shape (no JSON text in between), which fails on a
    resource without the R4 shape: see :func:`variant_shape_error` and :func:`text_resources`.
    """
    from pyspark.sql import functions as F

    return frame.select(F.col(column).alias(RESOURCE))


def text_resources(frame: DataFrame, column: str = "resource") -> DataFrame:
    """The resources of ``frame`` as one JSON text column ``_resource`` (a VARIANT column is converted)."""
    return frame.select(resource_json(frame, column).alias(RESOURCE))


def variant_shape_error(exc: BaseException) -> bool:
    """Whether ``exc`` is Spark's refusal to read a VARIANT resource into the R4 shape (``INVALID_VARIANT_CAST``).

    Its message quotes the resource's value: never show it; run the views over :func:`text_resources` instead,
    which reads such a resource the shape-agnostic way.
    """
    return "INVALID_VARIANT_CAST" in str(exc)


def view_frame(view: dict[str, Any] | ViewDef, resources: DataFrame) -> DataFrame:
    """The view's rows over a frame with the resource column ``_resource`` (see :func:`source_resources`)."""
    return _generate(resources, [_as_view(view)], shared=False)


def shared_rows(views: list[ViewDef], resources: DataFrame) -> DataFrame:
    """Rows of several views of one resource type from one parse of each resource.

    One row per resource with a column ``_v<i>`` per view (``array<struct>`` of view ``i``'s rows of that
    resource, NULL when it does not pass the view's filter); ``shared_view(frame, i)`` explodes one of them.
    """
    return _generate(resources, views, shared=True)


def shared_view(frame: DataFrame, index: int) -> DataFrame:
    """View ``index``'s rows out of :func:`shared_rows`."""
    from pyspark.sql import functions as F

    return frame.select(F.expr(f"inline(_v{index})"))


def _generate(resources: DataFrame, views: list[ViewDef], *, shared: bool) -> DataFrame:
    """The views' rows: one ``inline`` generator per resource over one parse shared by the views.

    A VARIANT resource is read with ``variant_get`` (see :func:`source_resources`), JSON text with ``from_json``.
    Parse, filters and rows are one generator expression, evaluated once per resource: as separate projections
    Spark would store the parse in its binary row format, which the (interpreted) higher-order functions then read
    field by field at a high cost, and a separate filter would be pushed below the parse and parse the resource a
    second time. Only a resource without the R4 shape is parsed again (the shape-agnostic way, then reshaped).
    """
    from pyspark.sql import functions as F

    variant = is_variant(resources, RESOURCE)
    compiled = compile_shared(views, variant=variant)
    general = [f"IF(coalesce({where}, false), {rows}, NULL)" for where, rows in compiled.views]
    fields = ", ".join(f"'_v{i}', {rows}" for i, rows in enumerate(general))
    generated = f"array(named_struct({fields}))" if shared else general[0]
    options = f"map('columnNameOfCorruptRecord', {quote(UNPARSED)})"
    schema = quote(compiled.root_schema)
    parse = (
        f"variant_get({RESOURCE}, '$', {schema})"
        if variant
        else f"from_json({RESOURCE}, {schema}, {options})"
    )
    # The parse as it is, unless from_json could not give it the R4 shape or a single primitive starts like an array.
    keep = f"{PARSED}.{ident(UNPARSED)} IS NULL AND NOT {compiled.suspect}"
    try:
        shaped = (
            f"element_at(transform(array({parse}), {PARSED} -> IF({keep}, {PARSED}, {compiled.root})), 1)"
        )
        return resources.select(
            F.expr(f"inline(element_at(transform(array({shaped}), {RAW} -> {generated}), 1))")
        )
    except Exception as exc:
        # Spark 3.5's analyzer resolves one level of nested lambdas per iteration; a deep view (``repeat``) in
        # two more lambdas can exceed its limit. Then the parse is a projection (slower, same rows).
        if "Max iterations" not in str(exc):
            raise
    parsed = resources.select(RESOURCE, F.expr(parse).alias(PARSED))
    with_raw = parsed.select(RESOURCE, F.expr(f"IF({keep}, {PARSED}, {compiled.root})").alias(RAW))
    return with_raw.select(F.expr(f"inline({generated})"))


@contextmanager
def evaluation_errors() -> Iterator[None]:
    """Turn the errors the compiled SQL raises (type mismatch, unexpected collection) into ViewEvaluationError."""
    try:
        yield
    except ViewEvaluationError:
        raise
    except Exception as exc:
        found = _RAISED.search(str(exc))
        if found is None:
            raise
        raise ViewEvaluationError(found.group(1).strip()) from None


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def default_session() -> SparkSession:
    """The active session, or the project's local one."""
    from pyspark.sql import SparkSession

    from anonymizer.spark.session import local_session

    return SparkSession.getActiveSession() or local_session("local[1]", app_name="fhir-anonymizer views")


def resources_frame(
    resources: list[dict[str, Any]], spark: SparkSession, resource_format: str = JSON
) -> DataFrame:
    """Resources in a research zone's storage form: column ``resource``, JSON text or VARIANT (``variant``)."""
    check_writable(spark, resource_format)
    rows = [(json.dumps(r, separators=(",", ":")),) for r in resources]
    return spark.createDataFrame(rows, "resource_json string").select(resource_column(resource_format))


def over_resources(source: DataFrame, compute: Callable[[DataFrame], T]) -> tuple[T, DataFrame]:
    """``compute(source)`` and ``source``; where Spark refuses to read a VARIANT resource into the R4 shape, the
    same over the resources' JSON text (read the shape-agnostic way) and that text source, for what follows.

    Spark's refusal quotes the resource: it is dropped here, never shown (see :func:`variant_shape_error`).
    """
    try:
        return compute(source), source
    except Exception as exc:
        if not variant_shape_error(exc):
            raise
    text = text_resources(source, RESOURCE)
    return compute(text), text


def evaluate(
    view: dict[str, Any],
    resources: list[dict[str, Any]],
    *,
    spark: SparkSession | None = None,
    resource_format: str = JSON,
) -> list[dict[str, Any]]:
    """Rows of ``view`` over ``resources`` as JSON-compatible dicts (column name -> value, lists for collections).

    ``resource_format``: the research zone's storage form to give the resources in, ``json`` or ``variant``
    (Spark 4; see :mod:`anonymizer.spark.resource_format`).
    Raises ViewDefinitionError for an invalid view and ViewEvaluationError for a resource it cannot evaluate.
    """
    outcome = evaluate_many([view], resources, spark=spark, resource_format=resource_format)[0]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


Outcome = list[dict[str, Any]] | Exception


def evaluate_many(
    views: list[dict[str, Any]],
    resources: list[dict[str, Any]],
    *,
    spark: SparkSession | None = None,
    resource_format: str = JSON,
) -> list[Outcome]:
    """:func:`evaluate` for several views over the same resources in one Spark job where possible.

    Each outcome is the view's rows, or the ViewDefinitionError/ViewEvaluationError it raised. The valid views
    run together (rows serialized as JSON and unioned); if that job fails, each view runs on its own.
    """
    from anonymizer.views.errors import ViewDefinitionError

    session = spark or default_session()
    outcomes: list[Outcome] = []
    compiled: dict[int, ViewDef] = {}
    for position, view in enumerate(views):
        try:
            compiled[position] = _as_view(view)
            outcomes.append([])
        except ViewDefinitionError as exc:
            outcomes.append(exc)
    if not compiled:
        return outcomes
    source = source_resources(resources_frame(resources, session, resource_format))
    return over_resources(source, partial(_outcomes, compiled, outcomes))[0]


def _outcomes(compiled: dict[int, ViewDef], given: list[Outcome], source: DataFrame) -> list[Outcome]:
    """``given`` (the outcomes of invalid views) completed with the valid views' outcomes over ``source``."""
    from pyspark.sql import functions as F

    outcomes: list[Outcome] = [[] if isinstance(o, list) else o for o in given]
    source = source.cache()
    try:
        frames = [
            view_frame(view, source).select(
                F.lit(position).alias("_view"), F.to_json(F.struct("*")).alias("_row")
            )
            for position, view in compiled.items()
        ]
        union = frames[0]
        for frame in frames[1:]:
            union = union.unionAll(frame)
        try:
            with evaluation_errors():
                rows = union.coalesce(1).collect()
        except ViewEvaluationError:
            rows = None
        if rows is not None:
            for row in rows:
                outcome = outcomes[row["_view"]]
                assert isinstance(outcome, list)
                outcome.append(_json_row(compiled[row["_view"]], row["_row"]))
            return outcomes
        for position, compiled_view in compiled.items():
            try:
                with evaluation_errors():
                    collected = view_frame(compiled_view, source).collect()
                outcomes[position] = [
                    {k: _plain(v) for k, v in r.asDict(recursive=True).items()} for r in collected
                ]
            except ViewEvaluationError as exc:
                outcomes[position] = exc
        return outcomes
    finally:
        source.unpersist()


def _json_row(view: ViewDef, text: str) -> dict[str, Any]:
    """A row serialized by ``to_json`` back as a dict in column order (``to_json`` drops NULL fields)."""
    values = json.loads(text)
    return {c.name: values.get(c.name) for c in view.columns()}


def run(view: dict[str, Any] | ViewDef, research_zone: str, spark: SparkSession) -> DataFrame:
    """The view over the research zone's Delta table of its resource type (lazy: errors surface on action).

    A VARIANT resource is read as JSON text here: a lazy frame cannot fall back when ``variant_get`` refuses a
    resource without the R4 shape (:func:`variant_shape_error`), and that error would show the resource.
    """
    compiled = _as_view(view)
    table = spark.read.format("delta").load(delta_path(research_zone, compiled.resource))
    return view_frame(compiled, text_resources(table))
