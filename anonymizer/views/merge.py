"""``--mode merge``: upsert a view's rows by the resource they come from, in one atomic Delta commit.

A merged view needs a column that is the resource's key (``getResourceKey()`` in a selection that does not
iterate, e.g. ``id`` or ``claim_id``). Every row of the existing table whose key is a resource present in this
run's source table is replaced by the rows the view yields now (possibly none: a resource that no longer passes
the view's ``where``); rows of resources absent from the source are kept. The new table (kept rows plus this
run's rows) is written with ``createOrReplace``, so a failing view leaves the table exactly as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from anonymizer.spark.resource_format import is_variant
from anonymizer.views.definition import SelectDef, ViewDef
from anonymizer.views.errors import ViewDefinitionError
from anonymizer.views.fhirpath_parser import Call

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

MODES = ("overwrite", "merge")


def resource_key_column(view: ViewDef) -> str:
    """The column holding the resource's key, which merge replaces rows by (ViewDefinitionError when none)."""

    def search(select: SelectDef) -> str | None:
        if select.iterate is not None:
            return None
        for column in select.columns:
            ast = column.ast
            is_key = isinstance(ast, Call) and ast.name == "getResourceKey" and ast.source is None
            if is_key and not column.collection:
                return column.name
        for nested in select.selects:
            found = search(nested)
            if found:
                return found
        return None

    found = search(view.root)
    if found is None:
        raise ViewDefinitionError(
            f"view {view.name!r}: --mode merge needs a column with path getResourceKey() outside forEach"
        )
    return found


def merged_frame(
    view: ViewDef,
    rows: DataFrame,
    source: DataFrame,
    target: str,
    fingerprint: str | None,
    spark: SparkSession,
) -> DataFrame:
    """The table's rows after the merge: existing rows of resources not in ``source``, plus ``rows``.

    ``source`` has the run's resources in ``_resource`` (JSON text or VARIANT); ``fingerprint`` is the existing table's
    ``fhir.view.fingerprint`` (the merge is refused when the definition changed since: its rows would not match).
    """
    from pyspark.sql import functions as F

    if fingerprint != view.fingerprint:
        raise ViewDefinitionError(
            f"view {view.name!r} changed since its table was written (fingerprint differs): use --mode overwrite"
        )
    key = resource_key_column(view)
    keys = "struct<resourceType:STRING,id:STRING>"
    present = (
        source.select(
            F.expr(
                f"try_variant_get(_resource, '$', '{keys}')"
                if is_variant(source, "_resource")
                else f"from_json(_resource, '{keys}')"
            ).alias("_r")
        )
        .where(F.col("_r.resourceType") == view.resource)
        .select(F.col("_r.id").alias("_key"))
        .where(F.col("_key").isNotNull())
        .distinct()
    )
    existing = spark.read.format("delta").load(target)
    kept = existing.join(present, existing[key] == present["_key"], "left_anti")
    return kept.select(*rows.columns).unionByName(rows)
