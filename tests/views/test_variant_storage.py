"""Views over VARIANT storage read the VARIANT into the R4 shape and give the rows JSON storage gives (Spark 4).

A resource without the R4 shape makes Spark refuse the VARIANT read (``INVALID_VARIANT_CAST``, a message that
quotes the resource): the views then read the resources' JSON text the shape-agnostic way, with the same rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from anonymizer.views import ViewEvaluationError, evaluate, parse_view
from anonymizer.views.materialize import materialize
from anonymizer.views.runner import evaluate_many, variant_shape_error

pytestmark = pytest.mark.spark

SECRET = "Quillon-Marchbanks-8812"


@pytest.fixture(autouse=True)
def _needs_variant(spark: Any) -> None:
    from anonymizer.spark.resource_format import supports_variant

    if not supports_variant(spark):
        pytest.skip("this Spark has no VARIANT (Spark 3.5): VARIANT storage is refused there")


def _observation(oid: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "category": [{"coding": [{"code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2", "display": "Height"}]},
        "valueQuantity": {"value": 172.5, "unit": "cm"},
        "component": [{"code": {"coding": [{"code": "a"}]}, "valueQuantity": {"value": 0.00001}}],
    }
    return {**base, **fields}


R4_SHAPED = [
    _observation("o1"),
    _observation("o2", valueQuantity={"value": 12345678901234567, "unit": "1"}, component=[]),
    _observation("o3", code={"text": SECRET}, status=None),
]
#: Each one breaks the R4 shape once: a single element given as an array, a repeating one as an object, an
#: element as a primitive, a complex array with a primitive element, a single primitive as an array of one.
NOT_R4_SHAPED = [
    _observation("x1", code=[{"coding": [{"code": "one-in-an-array"}]}]),
    _observation("x2", category={"coding": [{"code": "lonely"}]}),
    _observation("x3", subject="Patient/p1"),
    _observation("x4", component=[{"code": {"coding": [{"code": "b"}]}}, 5]),
    _observation("x5", status=["final"]),
]

CODES = {
    "name": "codes",
    "resource": "Observation",
    "select": [
        {
            "column": [
                {"name": "id", "path": "getResourceKey()", "type": "string"},
                {"name": "patient", "path": "subject.getReferenceKey(Patient)", "type": "string"},
                {"name": "status", "path": "status", "type": "code"},
                {"name": "value", "path": "value.ofType(Quantity).value", "type": "decimal"},
                {"name": "value_text", "path": "valueQuantity.value.toString()", "type": "string"},
                {"name": "categories", "path": "category.coding.code", "type": "code", "collection": True},
            ]
        },
        {"forEachOrNull": "code.coding", "column": [{"name": "code", "path": "code", "type": "code"}]},
    ],
}
COMPONENTS = {
    "name": "components",
    "resource": "Observation",
    "select": [
        {"column": [{"name": "id", "path": "getResourceKey()", "type": "string"}]},
        {
            "forEach": "component",
            "column": [
                {"name": "code", "path": "code.coding.first().code", "type": "code"},
                {"name": "value", "path": "valueQuantity.value", "type": "decimal"},
            ],
        },
    ],
}


def _zone(spark: Any, root: Path, resources: list[dict[str, Any]], resource_format: str) -> str:
    from anonymizer.spark.resource_format import resource_column

    rows = [(r["id"], json.dumps({k: v for k, v in r.items() if v is not None})) for r in resources]
    frame = spark.createDataFrame(rows, "id string, resource_json string")
    frame.select("id", resource_column(resource_format)).write.format("delta").save(
        str(root / "delta" / "Observation")
    )
    return str(root)


def _tables(spark: Any, zone: str) -> dict[str, list[tuple[Any, ...]]]:
    return {
        name: sorted(
            (tuple(r) for r in spark.read.format("delta").load(f"{zone}/views/{name}").collect()), key=repr
        )
        for name in ("codes", "components")
    }


@pytest.mark.parametrize("resources", [R4_SHAPED, R4_SHAPED + NOT_R4_SHAPED], ids=["r4", "not-r4"])
def test_materialized_views_over_variant_storage_equal_those_over_json(
    spark: Any, tmp_path: Path, resources: list[dict[str, Any]]
) -> None:
    views = [parse_view(CODES), parse_view(COMPONENTS)]
    tables = {}
    for resource_format in ("json", "variant"):
        zone = _zone(spark, tmp_path / resource_format, resources, resource_format)
        written = materialize(views, zone, spark)
        assert [w.rows for w in written] == [len(_tables(spark, zone)[v.name]) for v in views]
        tables[resource_format] = _tables(spark, zone)
    assert tables["variant"] == tables["json"]
    codes = {row[0]: row for row in tables["json"]["codes"]}
    if len(resources) > len(R4_SHAPED):
        assert codes["x1"][6] == "one-in-an-array" and codes["x2"][5] == ["lonely"]
        assert codes["x3"][1] is None and codes["x5"][2] == "final"


@pytest.mark.parametrize(("resources", "fallbacks"), [(R4_SHAPED, 0), (R4_SHAPED + NOT_R4_SHAPED, 1)])
def test_only_resources_without_the_r4_shape_make_variant_storage_read_json_text(
    spark: Any, monkeypatch: pytest.MonkeyPatch, resources: list[dict[str, Any]], fallbacks: int
) -> None:
    import anonymizer.views.runner as runner

    calls: list[str] = []
    text_resources = runner.text_resources

    def spy(frame: Any, column: str = "resource") -> Any:
        calls.append(column)
        return text_resources(frame, column)

    monkeypatch.setattr(runner, "text_resources", spy)
    variant = evaluate(COMPONENTS, resources, spark=spark, resource_format="variant")
    assert len(calls) == fallbacks
    json_rows = evaluate(COMPONENTS, resources, spark=spark, resource_format="json")
    assert sorted(variant, key=repr) == sorted(json_rows, key=repr)


def test_variant_errors_name_the_view_and_id_and_show_no_value(spark: Any, tmp_path: Path) -> None:
    broken = {**CODES, "select": [{"column": [{"name": "c", "path": "code.text", "type": "integer"}]}]}
    for resources in (R4_SHAPED, R4_SHAPED + NOT_R4_SHAPED):
        with pytest.raises(ViewEvaluationError) as raised:
            evaluate(broken, resources, spark=spark, resource_format="variant")
        message = str(raised.value)
        assert "'codes'" in message and "o3" in message and SECRET not in message
        assert raised.value.__context__ is None or SECRET not in str(raised.value.__context__)


def test_spark_refuses_a_variant_without_the_r4_shape_and_the_error_is_recognized(spark: Any) -> None:
    from pyspark.sql import functions as F

    frame = spark.createDataFrame([('{"code": [1, 2]}',)], "j string").select(F.parse_json("j").alias("v"))
    with pytest.raises(Exception) as raised:
        frame.select(F.expr("variant_get(v, '$', 'struct<code:struct<text:string>>')")).collect()
    assert variant_shape_error(raised.value)
    assert not variant_shape_error(ValueError("[views] view 'v' column 'c': not an INT in resource r"))


def test_evaluate_many_keeps_definition_errors_in_place_over_variant(spark: Any) -> None:
    outcomes = evaluate_many(
        [CODES, {"resource": "Observation"}, COMPONENTS],
        R4_SHAPED + NOT_R4_SHAPED,
        spark=spark,
        resource_format="variant",
    )
    assert isinstance(outcomes[0], list) and isinstance(outcomes[2], list)
    assert isinstance(outcomes[1], Exception)
