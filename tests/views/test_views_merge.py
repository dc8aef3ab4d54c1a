"""``views --mode merge``: rows replaced per resource of the run, others kept, one commit or none (Spark + Delta)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from anonymizer.views import ViewDefinitionError, ViewEvaluationError, parse_view
from anonymizer.views.materialize import materialize
from anonymizer.views.merge import resource_key_column

pytestmark = pytest.mark.spark

NAMES_VIEW = {
    "name": "names",
    "resource": "Patient",
    "select": [
        {
            "column": [
                {"name": "id", "path": "getResourceKey()", "type": "string"},
                {"name": "birth_year", "path": "birthDate.substring(0, 4)", "type": "integer"},
            ]
        },
        {"forEach": "name", "column": [{"name": "family", "path": "family", "type": "string"}]},
    ],
}


def _patient(pid: str, families: list[str], birth: str = "1970") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "birthDate": birth,
        "name": [{"family": f} for f in families],
    }


def _write_zone(spark: Any, zone: Path, patients: list[dict[str, Any]], *, variant: bool = False) -> str:
    from pyspark.sql import functions as F

    frame = spark.createDataFrame([(p["id"], json.dumps(p)) for p in patients], "id string, resource string")
    if variant:
        frame = frame.select("id", F.parse_json("resource").alias("resource"))
    frame.write.format("delta").mode("overwrite").save(str(zone / "delta" / "Patient"))
    return str(zone)


def _rows(spark: Any, path: str) -> list[tuple[Any, ...]]:
    return sorted(tuple(r) for r in spark.read.format("delta").load(path).collect())


def _version(spark: Any, path: str) -> int:
    from delta.tables import DeltaTable

    return int(DeltaTable.forPath(spark, path).history(1).first()["version"])


@pytest.mark.parametrize("variant", [False, True], ids=["json", "variant"])
def test_merge_replaces_rows_of_resources_in_the_run_and_keeps_the_others(
    spark: Any, tmp_path: Path, variant: bool
) -> None:
    from anonymizer.spark.resource_format import supports_variant

    if variant and not supports_variant(spark):
        pytest.skip(
            "this Spark has no parse_json (Spark 3.5): VARIANT storage is refused there (tests/matrix)"
        )
    view = parse_view(NAMES_VIEW)
    first = _write_zone(spark, tmp_path / "run1", [_patient("p1", ["A"]), _patient("p2", ["B", "C"])])
    output = str(tmp_path / "out")
    materialize([view], first, spark, output=output, mode="merge")  # no table yet: written in full
    target = f"{output}/views/names"
    assert _rows(spark, target) == [("p1", 1970, "A"), ("p2", 1970, "B"), ("p2", 1970, "C")]

    # p2 changed (one name instead of two), p3 is new, p1 is not in this run.
    second = _write_zone(
        spark, tmp_path / "run2", [_patient("p2", ["D"], "1980"), _patient("p3", ["E"])], variant=variant
    )
    written = materialize([view], second, spark, output=output, mode="merge")
    assert _rows(spark, target) == [("p1", 1970, "A"), ("p2", 1980, "D"), ("p3", 1970, "E")]
    assert written[0].rows == 3

    materialize([view], second, spark, output=output, mode="overwrite")
    assert _rows(spark, target) == [("p2", 1980, "D"), ("p3", 1970, "E")]


def test_a_resource_that_now_yields_no_rows_loses_its_old_rows(spark: Any, tmp_path: Path) -> None:
    view = parse_view(NAMES_VIEW)
    output = str(tmp_path / "out")
    zone = _write_zone(spark, tmp_path / "run1", [_patient("p1", ["A"]), _patient("p2", ["B"])])
    materialize([view], zone, spark, output=output)
    zone = _write_zone(spark, tmp_path / "run2", [_patient("p1", [])])  # forEach over no names: no row
    materialize([view], zone, spark, output=output, mode="merge")
    assert _rows(spark, f"{output}/views/names") == [("p2", 1970, "B")]


def test_a_failing_merge_leaves_the_table_unchanged(spark: Any, tmp_path: Path) -> None:
    view = parse_view(NAMES_VIEW)
    output = str(tmp_path / "out")
    target = f"{output}/views/names"
    zone = _write_zone(spark, tmp_path / "run1", [_patient("p1", ["A"])])
    materialize([view], zone, spark, output=output)
    version, before = _version(spark, target), _rows(spark, target)

    zone = _write_zone(spark, tmp_path / "run2", [_patient("p1", ["Z"]), _patient("p9", ["Y"], "19x0")])
    with pytest.raises(ViewEvaluationError, match="'birth_year'.*p9"):
        materialize([view], zone, spark, output=output, mode="merge")
    assert _version(spark, target) == version
    assert _rows(spark, target) == before


def test_merge_refuses_a_changed_definition_and_a_view_without_key(spark: Any, tmp_path: Path) -> None:
    output = str(tmp_path / "out")
    zone = _write_zone(spark, tmp_path / "run1", [_patient("p1", ["A"])])
    materialize([parse_view(NAMES_VIEW)], zone, spark, output=output)
    changed = parse_view({**NAMES_VIEW, "description": "now with a description"})
    with pytest.raises(ViewDefinitionError, match="changed since.*--mode overwrite"):
        materialize([changed], zone, spark, output=output, mode="merge")

    keyless = parse_view(
        {
            "name": "births",
            "resource": "Patient",
            "select": [{"column": [{"name": "b", "path": "birthDate"}]}],
        }
    )
    with pytest.raises(ViewDefinitionError, match="getResourceKey"):
        materialize([keyless], zone, spark, output=output, mode="merge")
    assert not Path(output, "views", "births").exists()


def test_the_key_column_is_the_resource_key_outside_for_each() -> None:
    assert resource_key_column(parse_view(NAMES_VIEW)) == "id"
    inside = {
        "name": "x",
        "resource": "Patient",
        "select": [{"forEach": "name", "column": [{"name": "k", "path": "getResourceKey()"}]}],
    }
    with pytest.raises(ViewDefinitionError):
        resource_key_column(parse_view(inside))


def test_cli_views_merge(spark: Any, tmp_path: Path, capsys: Any) -> None:
    from anonymizer.cli.main import main

    zone = _write_zone(spark, tmp_path / "zone", [_patient("p1", ["A"])])
    (tmp_path / "names.json").write_text(json.dumps(NAMES_VIEW))
    args = ["views", "--research", zone, "--views", str(tmp_path / "names.json"), "--mode", "merge"]
    main(args)
    assert "view names: 1 rows" in capsys.readouterr().out
