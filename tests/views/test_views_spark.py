"""Evaluation errors, storage formats and Delta materialization of views (local Spark + Delta)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from anonymizer.views import ViewEvaluationError, evaluate, parse_view, run
from anonymizer.views.materialize import (
    FINGERPRINT_PROPERTY,
    STATS_COLUMNS_PROPERTY,
    URL_PROPERTY,
    load_views,
    materialize,
    table_properties,
)

pytestmark = pytest.mark.spark

SECRET = "Zebediah-Quillfeather-4471"
PATIENTS = [
    {
        "resourceType": "Patient",
        "id": "pk-1",
        "gender": "female",
        "birthDate": "1970",
        "name": [{"family": SECRET}],
    },
    {"resourceType": "Patient", "id": "pk-2", "gender": "male", "name": [{"given": ["a", "b"]}]},
    {"resourceType": "Observation", "id": "o-1", "status": "final"},
]
VIEW = {
    "resourceType": "ViewDefinition",
    "url": "https://example.org/ViewDefinition/people",
    "name": "people",
    "resource": "Patient",
    "select": [
        {"column": [{"name": "id", "path": "getResourceKey()", "type": "string"}]},
        {
            "column": [
                {"name": "birth_year", "path": "birthDate.substring(0, 4).toInteger()", "type": "integer"}
            ]
        },
    ],
}


def _view(**changes: Any) -> dict[str, Any]:
    return {**json.loads(json.dumps(VIEW)), **changes}


def test_type_mismatch_names_view_column_and_id_but_no_value(spark: Any) -> None:
    bad = _view(select=[{"column": [{"name": "family_number", "path": "name.family", "type": "integer"}]}])
    with pytest.raises(ViewEvaluationError) as caught:
        evaluate(bad, PATIENTS, spark=spark)
    message = str(caught.value)
    assert "'people'" in message and "'family_number'" in message and "pk-1" in message
    assert SECRET not in message and SECRET not in repr(caught.value.__cause__ or "")


def test_unexpected_collection_is_an_error(spark: Any) -> None:
    bad = _view(select=[{"column": [{"name": "given", "path": "name.given", "type": "string"}]}])
    with pytest.raises(ViewEvaluationError, match="multiple values.*pk-2"):
        evaluate(bad, PATIENTS, spark=spark)


def test_repeat_deeper_than_the_limit_is_an_error_not_a_truncation(spark: Any) -> None:
    from anonymizer.views.rows_sql import REPEAT_DEPTH

    def nested(depth: int) -> dict[str, Any]:
        item: dict[str, Any] = {"linkId": str(depth)}
        for level in range(depth - 1, 0, -1):
            item = {"linkId": str(level), "item": [item]}
        return {
            "resourceType": "QuestionnaireResponse",
            "id": f"qr-{depth}",
            "status": "completed",
            "item": [item],
        }

    view = {
        "resource": "QuestionnaireResponse",
        "select": [{"repeat": ["item"], "column": [{"name": "link", "path": "linkId", "type": "string"}]}],
    }
    assert len(evaluate(view, [nested(REPEAT_DEPTH)], spark=spark)) == REPEAT_DEPTH
    with pytest.raises(
        ViewEvaluationError, match=f"repeat deeper than {REPEAT_DEPTH} levels in resource qr-"
    ):
        evaluate(view, [nested(REPEAT_DEPTH + 1)], spark=spark)


def _zone(spark: Any, root: Path, *, variant: bool) -> str:
    from pyspark.sql import functions as F

    rows = [(r["id"], json.dumps(r)) for r in PATIENTS if r["resourceType"] == "Patient"]
    frame = spark.createDataFrame(rows, "id string, resource string")
    if variant:
        frame = frame.select("id", F.parse_json("resource").alias("resource"))
    frame.write.format("delta").mode("overwrite").save(str(root / "delta" / "Patient"))
    return str(root)


@pytest.mark.parametrize("variant", [False, True], ids=["json", "variant"])
def test_run_over_both_storage_formats(spark: Any, tmp_path: Path, variant: bool) -> None:
    from anonymizer.spark.resource_format import supports_variant

    if variant and not supports_variant(spark):
        pytest.skip(
            "this Spark has no parse_json (Spark 3.5): VARIANT storage is refused there (tests/matrix)"
        )
    zone = _zone(spark, tmp_path, variant=variant)
    rows = sorted(run(VIEW, zone, spark).collect())
    assert [tuple(r) for r in rows] == [("pk-1", 1970), ("pk-2", None)]


def test_materialize_writes_properties_and_a_failed_view_leaves_the_table(spark: Any, tmp_path: Path) -> None:
    from delta.tables import DeltaTable

    zone = _zone(spark, tmp_path, variant=False)
    views_dir = tmp_path / "defs"
    views_dir.mkdir()
    (views_dir / "people.json").write_text(json.dumps(VIEW))
    written = materialize(load_views([str(views_dir)]), zone, spark)
    assert [(w.name, w.rows) for w in written] == [("people", 2)]
    target = f"{zone}/views/people"
    props = table_properties(spark, target)
    assert props[URL_PROPERTY] == VIEW["url"]
    assert props[FINGERPRINT_PROPERTY] == parse_view(VIEW).fingerprint
    version = DeltaTable.forPath(spark, target).history(1).first()["version"]

    broken = _view(select=[{"column": [{"name": "id", "path": "name.family", "type": "integer"}]}])
    with pytest.raises(ViewEvaluationError):
        materialize([parse_view(broken)], zone, spark)
    assert DeltaTable.forPath(spark, target).history(1).first()["version"] == version
    assert sorted(r["id"] for r in spark.read.format("delta").load(target).collect()) == ["pk-1", "pk-2"]
    assert table_properties(spark, target)[FINGERPRINT_PROPERTY] == props[FINGERPRINT_PROPERTY]


def test_a_new_view_table_is_created_an_existing_one_replaced(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from delta.tables import DeltaTable

    import anonymizer.spark.research_zone as research_zone

    zone = _zone(spark, tmp_path, variant=False)
    views = [parse_view(VIEW)]
    target = f"{zone}/views/people"

    def operations() -> list[str]:
        history = DeltaTable.forPath(spark, target).history().orderBy("version").collect()
        return [row["operation"] for row in history]

    materialize(views, zone, spark)
    assert operations() == ["CREATE TABLE AS SELECT"]
    materialize(views, zone, spark)
    assert operations()[1:] == ["CREATE OR REPLACE TABLE AS SELECT"]
    # A table that appears after the check (another writer) is replaced: the refused CREATE is done again.
    monkeypatch.setattr(research_zone, "_surely_missing", lambda path: True)
    assert [w.rows for w in materialize(views, zone, spark)] == [2]
    assert operations()[2:] == ["CREATE OR REPLACE TABLE AS SELECT"]
    assert sorted(r["id"] for r in spark.read.format("delta").load(target).collect()) == ["pk-1", "pk-2"]


def test_view_tables_keep_file_statistics_for_their_key_columns_only(spark: Any, tmp_path: Path) -> None:
    zone = _zone(spark, tmp_path, variant=False)
    views_dir = tmp_path / "defs"
    views_dir.mkdir()
    (views_dir / "people.json").write_text(json.dumps(VIEW))
    materialize(load_views([str(views_dir)]), zone, spark)
    target = Path(zone) / "views" / "people"
    assert table_properties(spark, str(target))[STATS_COLUMNS_PROPERTY] == "id"
    stats = [
        json.loads(action["add"]["stats"])
        for log in sorted((target / "_delta_log").glob("*.json"))
        for action in map(json.loads, log.read_text().splitlines())
        if "add" in action
    ]
    assert stats and all(s["numRecords"] >= 0 for s in stats)
    assert {key for s in stats for key in s.get("nullCount", {})} == {"id"}
    assert {key for s in stats for key in s.get("minValues", {})} == {"id"}
    assert min(s["minValues"]["id"] for s in stats) == "pk-1"


def test_a_small_source_table_is_read_in_one_task_and_a_large_one_keeps_its_splits(
    spark: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    """A view's task carries the whole compiled view: a small table's files are read in one task, not one each."""
    from anonymizer.views import materialize as module

    rows = [(f"p{i}", json.dumps({"resourceType": "Patient", "id": f"p{i}"})) for i in range(40)]
    table = str(tmp_path / "delta" / "Patient")
    spark.createDataFrame(rows, "id string, resource string").repartition(4).write.format("delta").save(table)
    view = parse_view(VIEW)
    spark.conf.set("spark.sql.files.openCostInBytes", "1")  # one split per file, as for large files
    try:
        split = spark.read.format("delta").load(table).rdd.getNumPartitions()
        assert split > 1
        small, present = module.source_frame(view, str(tmp_path), spark)
        assert present and small.rdd.getNumPartitions() == 1
        monkeypatch.setattr(module, "VIEW_TASK_BYTES", 1)  # every table "large": Spark's splits kept
        assert module.source_frame(view, str(tmp_path), spark)[0].rdd.getNumPartitions() == split
    finally:
        spark.conf.unset("spark.sql.files.openCostInBytes")


def test_view_over_a_missing_type_is_an_empty_table(spark: Any, tmp_path: Path) -> None:
    zone = _zone(spark, tmp_path, variant=False)
    claims = {
        "name": "claims",
        "resource": "Claim",
        "select": [{"column": [{"name": "id", "path": "id", "type": "id"}]}],
    }
    written = materialize([parse_view(claims)], zone, spark)
    assert written[0].rows == 0 and not written[0].source_present
    assert spark.read.format("delta").load(f"{zone}/views/claims").columns == ["id"]


def test_cli_views_and_conformance_report(spark: Any, tmp_path: Path, repo_root: Path, capsys: Any) -> None:
    from anonymizer.cli.main import main

    zone = _zone(spark, tmp_path, variant=False)
    view_file = tmp_path / "people.json"
    view_file.write_text(json.dumps(VIEW))
    main(["views", "--research", zone, "--views", str(view_file)])
    assert "view people: 2 rows" in capsys.readouterr().out

    suite = tmp_path / "suite"
    suite.mkdir()
    for name in ("fn_first.json", "validate.json"):
        (suite / name).write_text((repo_root / "tests/fixtures/sql-on-fhir-v2/tests" / name).read_text())
    report_file = tmp_path / "report.json"
    main(["views", "conformance", str(suite), "--report", str(report_file)])
    report = json.loads(report_file.read_text())
    assert sorted(report) == ["fn_first.json", "validate.json"]
    assert all(t["result"]["passed"] for f in report.values() for t in f["tests"])
    assert "all: 5/5 passed" in capsys.readouterr().out

    from anonymizer.spark.resource_format import supports_variant

    if supports_variant(spark):
        main(
            ["views", "conformance", str(suite), "--report", str(report_file), "--resource-format", "variant"]
        )
        assert "all: 5/5 passed" in capsys.readouterr().out


def test_compiled_sql_needs_no_python_and_no_jvm_access() -> None:
    import anonymizer.views as views_package

    assert views_package.PYTHON_UDFS == ()
    source = "\n".join(p.read_text() for p in Path(views_package.__file__).parent.glob("*.py"))
    for forbidden in (".rdd", "sparkContext", "_jvm", "broadcast(", "udf(", "pandas_udf", "mapInArrow"):
        assert forbidden not in source, forbidden


def test_views_of_one_type_share_a_parse_and_a_failing_one_fails_alone(spark: Any, tmp_path: Path) -> None:
    from delta.tables import DeltaTable

    zone = _zone(spark, tmp_path, variant=False)
    genders = _view(
        name="genders", select=[{"column": [{"name": "gender", "path": "gender", "type": "code"}]}]
    )
    written = materialize([parse_view(VIEW), parse_view(genders)], zone, spark)
    assert [(w.name, w.rows) for w in written] == [("people", 2), ("genders", 2)]
    people = sorted(tuple(r) for r in spark.read.format("delta").load(f"{zone}/views/people").collect())
    assert people == sorted(tuple(r) for r in run(VIEW, zone, spark).collect())
    assert sorted(r[0] for r in spark.read.format("delta").load(f"{zone}/views/genders").collect()) == [
        "female",
        "male",
    ]

    # The second view fails on pk-2's two given names: the first is still written from its own parse.
    broken = _view(
        name="given", select=[{"column": [{"name": "given", "path": "name.given", "type": "string"}]}]
    )
    output = str(tmp_path / "out")
    with pytest.raises(ViewEvaluationError, match="'given' column 'given': multiple values"):
        materialize([parse_view(VIEW), parse_view(broken)], zone, spark, output=output)
    assert sorted(r["id"] for r in spark.read.format("delta").load(f"{output}/views/people").collect()) == [
        "pk-1",
        "pk-2",
    ]
    assert not DeltaTable.isDeltaTable(spark, f"{output}/views/given")


def test_types_run_concurrently_and_the_first_failing_view_in_order_is_raised(
    spark: Any, tmp_path: Path
) -> None:
    from delta.tables import DeltaTable

    zone = _zone(spark, tmp_path, variant=False)
    observations = [(r["id"], json.dumps(r)) for r in PATIENTS if r["resourceType"] == "Observation"]
    spark.createDataFrame(observations, "id string, resource string").write.format("delta").save(
        f"{zone}/delta/Observation"
    )
    statuses = {
        "name": "statuses",
        "resource": "Observation",
        "select": [{"column": [{"name": "status", "path": "status", "type": "code"}]}],
    }
    genders = _view(
        name="genders", select=[{"column": [{"name": "gender", "path": "gender", "type": "code"}]}]
    )
    views = [parse_view(VIEW), parse_view(statuses), parse_view(genders)]
    written = materialize(views, zone, spark, output=str(tmp_path / "ok"), threads=3)
    assert [(w.name, w.rows) for w in written] == [("people", 2), ("statuses", 1), ("genders", 2)]

    # Two failing views of two types written at once: the error is the first failing one in the given order.
    bad_status = {**statuses, "name": "bad_status"}
    bad_status["select"] = [{"column": [{"name": "status", "path": "status", "type": "integer"}]}]
    given = _view(
        name="given", select=[{"column": [{"name": "given", "path": "name.given", "type": "string"}]}]
    )
    output = str(tmp_path / "both")
    with pytest.raises(ViewEvaluationError, match="'bad_status' column 'status'"):
        materialize([parse_view(bad_status), parse_view(given)], zone, spark, output=output, threads=2)
    for name in ("bad_status", "given"):
        assert not DeltaTable.isDeltaTable(spark, f"{output}/views/{name}")

    # One at a time: nothing after the failing view is started.
    output = str(tmp_path / "serial")
    with pytest.raises(ViewEvaluationError, match="'bad_status'"):
        materialize([parse_view(bad_status), parse_view(VIEW)], zone, spark, output=output, threads=1)
    assert not DeltaTable.isDeltaTable(spark, f"{output}/views/people")


def test_reference_pattern_extracts_what_the_anchored_pattern_does(spark: Any) -> None:
    from anonymizer.views.fhirpath_functions import _REFERENCE

    anchored = "'^(?:.*/)?([A-Z][A-Za-z]+)/([A-Za-z0-9.\\\\-]{1,64})(?:/_history/[^/]+)?$'"
    references = [
        "Patient/p-1", "Patient/Patient/x", "Foo/Bar/x", "http://x.org/fhir/Patient/a.b", "Patient/1/_history/2",
        "A/B/_history/C", "Patient/xPatient/_history/h", "Patient/", "patient/1", "Patient/" + "a" * 65,
        "urn:uuid:0f3c", "//Encounter/e", "Encounter/e/", "x/Claim/c-1/_history/v/w", "",
    ]  # fmt: skip
    rows = spark.createDataFrame([(r,) for r in references], "r string").selectExpr(
        *(
            f"regexp_extract(r, {p}, {g}) AS {n}{g}"
            for p, n in ((anchored, "a"), (_REFERENCE, "s"))
            for g in (1, 2)
        ),
        f"r RLIKE {anchored} AS am",
        f"r RLIKE {_REFERENCE} AS sm",
    )
    for row in rows.collect():
        assert (row.a1, row.a2, row.am) == (row.s1, row.s2, row.sm)
    assert sum(row.am for row in rows.collect()) == 7
