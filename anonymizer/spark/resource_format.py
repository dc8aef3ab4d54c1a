"""How a research-zone table stores ``resource``: a JSON string (``json``, every reader) or ``VARIANT``.

``json`` is the default: Delta 3.x (Spark 3.5 runtimes, Fabric, Synapse), delta-rs, DuckDB and polars read it.
``variant`` needs a writer with ``parse_json`` (Spark 4, Databricks) and readers that know the ``variantType``
table feature. Each table records its format in the table property :data:`FORMAT_PROPERTY`; readers in this
package look at the column's type, so they read both without being told (:func:`resource_json`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from anonymizer.errors import AnonymizerError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

JSON = "json"
VARIANT = "variant"
RESOURCE_FORMATS = (JSON, VARIANT)
DEFAULT_RESOURCE_FORMAT = JSON
#: Table property naming the table's resource format (``json`` or ``variant``).
FORMAT_PROPERTY = "fhir_anonymizer.resource_format"


class ResourceFormatError(AnonymizerError, ValueError):
    """A resource format this Spark cannot write, or one that differs from the existing table's."""


def supports_variant(spark: SparkSession) -> bool:
    """True when this Spark has ``parse_json`` (VARIANT): probed, not inferred from the version."""
    try:
        return bool(spark.sql("SELECT parse_json('{}') AS v").schema.fields)  # analysis only, no job
    except Exception:  # noqa: BLE001 - any analysis error means the function is not there
        return False


def check_writable(spark: SparkSession, resource_format: str) -> None:
    """Raise :class:`ResourceFormatError` when this session cannot write ``resource_format``."""
    if resource_format not in RESOURCE_FORMATS:
        raise ResourceFormatError(
            f"unknown resource format {resource_format!r}; expected one of {', '.join(RESOURCE_FORMATS)}"
        )
    if resource_format == VARIANT and not supports_variant(spark):
        raise ResourceFormatError(
            "--resource-format variant needs a Spark with VARIANT (parse_json: Spark 4, Databricks Runtime 15.3+); "
            "this one has none: use --resource-format json"
        )


def resource_column(resource_format: str, json_column: str = "resource_json") -> Column:
    """The ``resource`` column to write, from the engine's JSON text in ``json_column``."""
    from pyspark.sql import functions as F

    if resource_format == VARIANT:
        return F.expr(f"parse_json({json_column})").alias("resource")
    return F.col(json_column).alias("resource")


def is_variant(table: DataFrame, column: str = "resource") -> bool:
    """Whether ``column`` of ``table`` holds VARIANT values (else JSON text)."""
    return bool(table.schema[column].dataType.typeName() == "variant")


def resource_json(table: DataFrame, column: str = "resource") -> Column:
    """``column`` of a research-zone table as JSON text, whatever the table's format."""
    from pyspark.sql import functions as F

    if table.schema[column].dataType.typeName() == "string":
        return F.col(column)
    return F.to_json(F.col(column))


def quoted_path(path: str) -> str:
    """``delta.`<path>``` for SQL, backticks in the path escaped; plain paths made absolute (Delta 3.x takes
    only absolute paths as table identifiers)."""
    from anonymizer.spark.zone_fs import absolute

    return "delta.`" + absolute(path).replace("`", "``") + "`"


def table_detail(spark: SparkSession, path: str) -> tuple[dict[str, str], int] | None:
    """The table properties and the bytes of the data files of the Delta table at ``path`` (None without one)."""
    from pyspark.errors import AnalysisException

    try:
        detail = spark.sql(f"DESCRIBE DETAIL {quoted_path(path)}")
        rows = detail.select("format", "properties", "sizeInBytes").collect()
    except AnalysisException:
        return None
    if not rows or rows[0]["format"] != "delta":
        return None
    return dict(rows[0]["properties"] or {}), int(rows[0]["sizeInBytes"] or 0)


def table_properties(spark: SparkSession, path: str) -> dict[str, str] | None:
    """The table properties of the Delta table at ``path``, or None when there is no Delta table there."""
    detail = table_detail(spark, path)
    return None if detail is None else detail[0]


def table_resource_format(spark: SparkSession, path: str) -> str | None:
    """The resource format of an existing table (its property, else its column type); None without a table."""
    properties = table_properties(spark, path)
    if properties is None:
        return None
    recorded = properties.get(FORMAT_PROPERTY)
    if recorded in RESOURCE_FORMATS:
        return recorded
    table = spark.read.format("delta").load(path)
    return JSON if table.schema["resource"].dataType.typeName() == "string" else VARIANT
