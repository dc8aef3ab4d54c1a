"""The Spark de-identification pipeline on small inputs: reconciliation, quarantine, idempotency, incremental, joins."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import pytest

from anonymizer.spark.pipeline import DeidentifyError, DeidentifyRequest, run_deidentify
from anonymizer.spark.resource_format import table_resource_format
from tests.strong_keys import HASH_KEY

pytestmark = pytest.mark.spark

CONFIG = {
    "fhirVersion": "R4",
    "processingErrors": "raise",
    "fhirPathRules": [
        {"path": "Resource.id", "method": "cryptoHash"},
        {"path": "nodesByType('Reference').reference", "method": "cryptoHash"},
        {"path": "nodesByType('HumanName')", "method": "redact"},
        {"path": "nodesByType('date')", "method": "redact"},
    ],
    "parameters": {
        "cryptoHashKey": HASH_KEY,
        "enablePartialDatesForRedact": True,
        "referenceHashing": "joinable",
    },
}
AS_OF = date(2026, 1, 1)


def _patient(pid: str, family: str, updated: str = "2024-01-01T00:00:00Z") -> dict:
    return {
        "resourceType": "Patient",
        "id": pid,
        "meta": {"lastUpdated": updated},
        "name": [{"family": family}],
        "birthDate": "1970-05-06",
    }


def _obs(oid: str, pid: str) -> dict:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"text": "x"},
        "subject": {"reference": f"Patient/{pid}"},
    }


def _write(folder: Path, name: str, lines: list[str], gz: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    data = ("\n".join(lines) + "\n").encode("utf-8")
    if gz:
        (folder / name).write_bytes(gzip.compress(data))
    else:
        (folder / name).write_bytes(data)


@pytest.fixture()
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(CONFIG))
    return path


def _request(tmp_path: Path, landing: Path, config: Path, **kw: object) -> DeidentifyRequest:
    return DeidentifyRequest(
        input=str(landing), output=str(tmp_path / "research"), config=str(config), as_of=AS_OF, **kw
    )


def test_reconciles_quarantines_bad_lines_and_joins(spark, tmp_path: Path, config_file: Path) -> None:
    landing = tmp_path / "landing"
    _write(
        landing,
        "Patient.000.ndjson",
        [json.dumps(_patient("p1", "Smith")), json.dumps(_patient("p2", "Jones"))],
    )
    _write(
        landing,
        "Observation-job1-1.ndjson.gz",
        [
            json.dumps(_obs("o1", "p1")),
            "{not json",
            "[1, 2]",
            '{"status": "final"}',
            '{"resourceType": "Alien"}',
            json.dumps(_obs("o2", "p2")),
        ],
        gz=True,
    )
    _write(landing, "1.Observation.ndjson", ["", json.dumps(_obs("o3", "p1"))])
    (landing / "manifest.json").write_text("{}")
    result = run_deidentify(_request(tmp_path, landing, config_file, ndjson=True), spark)
    counts = result.summary.counts
    assert result.summary.reconciled
    assert (counts["Patient"].lines_in, counts["Patient"].rows_out) == (2, 2)
    assert (
        counts["Observation"].lines_in,
        counts["Observation"].rows_out,
        counts["Observation"].quarantined,
    ) == (8, 3, 5)

    quarantine = spark.read.format("delta").load(str(tmp_path / "research-quarantine" / "quarantine"))
    reasons = {(r.source_file.rsplit("/", 1)[-1], r.line_number, r.reason) for r in quarantine.collect()}
    assert reasons == {
        ("Observation-job1-1.ndjson.gz", 2, "malformed_json"),
        ("Observation-job1-1.ndjson.gz", 3, "not_an_object"),
        ("Observation-job1-1.ndjson.gz", 4, "missing_resource_type"),
        ("Observation-job1-1.ndjson.gz", 5, "unknown_resource_type"),
        ("1.Observation.ndjson", 1, "empty_line"),
    }
    research = tmp_path / "research"
    assert not any("quarantine" in p.name for p in research.iterdir()), (
        "PHI must stay outside the research zone"
    )
    patients = spark.read.format("delta").load(str(research / "delta" / "Patient"))
    observations = spark.read.format("delta").load(str(research / "delta" / "Observation"))
    joined = observations.join(patients.select("patient_key"), "patient_key")
    assert joined.count() == 3
    # The default resource format: a JSON string column, recorded as a table property.
    assert patients.schema["resource"].dataType.typeName() == "string"
    assert table_resource_format(spark, str(research / "delta" / "Patient")) == "json"
    assert patients.selectExpr("get_json_object(resource, '$.birthDate') as b").first().b == "1970"
    # File statistics on the key columns only, not on the resource text (read from the commit's add actions).
    stats = [
        json.loads(json.loads(line)["add"]["stats"])
        for log in (research / "delta" / "Patient" / "_delta_log").glob("*.json")
        for line in log.read_text().splitlines()
        if '"add"' in line
    ]
    assert stats and all(
        set(s["minValues"]) == {"id", "patient_key", "last_updated", "run_id"} for s in stats
    )
    assert "Smith" not in "".join(r.resource for r in patients.select("resource").collect())
    ndjson = list((research / "ndjson" / "Patient").glob("part-*.ndjson"))
    assert sum(len(p.read_text().splitlines()) for p in ndjson) == 2


def test_rerun_is_idempotent_and_incremental_upserts_and_deletes(
    spark, tmp_path: Path, config_file: Path
) -> None:
    first = tmp_path / "landing1"
    _write(
        first,
        "Patient.000.ndjson",
        [json.dumps(_patient("p1", "A")), json.dumps(_patient("p2", "B")), json.dumps(_patient("p2", "B"))],
    )
    request = _request(tmp_path, first, config_file, ndjson=True)
    run_deidentify(request, spark)
    run_deidentify(request, spark)
    assert (tmp_path / "research" / "ndjson" / "Patient").is_dir()
    table = str(tmp_path / "research" / "delta" / "Patient")
    assert spark.read.format("delta").load(table).count() == 2, (
        "duplicates in one export and re-runs collapse"
    )

    second = tmp_path / "landing2"
    _write(second, "Patient.000.ndjson", [json.dumps(_patient("p3", "C", "2025-01-01T00:00:00Z"))])
    deleted = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"request": {"method": "DELETE", "url": "Patient/p1"}}],
    }
    _write(second / "deleted", "del.ndjson", [json.dumps(deleted)])
    result = run_deidentify(_request(tmp_path, second, config_file, ndjson=False), spark)
    assert result.summary.counts["Patient"].deleted == 1
    assert spark.read.format("delta").load(table).count() == 2  # p2, p3 (p1 deleted)
    assert not (tmp_path / "research" / "ndjson").exists(), "a run with --no-ndjson leaves no earlier NDJSON"
    runs = spark.read.format("delta").load(str(tmp_path / "research" / "delta" / "_runs"))
    assert runs.count() == 3
    assert dict(runs.dtypes)["lines_in"] == "bigint" and runs.filter("reconciled").count() == 3

    third = tmp_path / "landing3"
    _write(third, "Patient.000.ndjson", [json.dumps(_patient("p4", "D"))])
    run_deidentify(_request(tmp_path, third, config_file, mode="overwrite"), spark)
    assert spark.read.format("delta").load(table).count() == 1, "overwrite keeps only this run's rows"


def test_processing_error_raise_names_file_and_line(spark, tmp_path: Path) -> None:
    config = dict(
        CONFIG,
        fhirPathRules=[{"path": "Patient.gender", "method": "generalize", "cases": {"$this > 5": "'x'"}}],
    )
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
    landing = tmp_path / "landing"
    _write(
        landing,
        "Patient.000.ndjson",
        [json.dumps(_patient("p1", "A")), json.dumps({**_patient("p2", "Secretname"), "gender": "female"})],
    )
    with pytest.raises(DeidentifyError) as exc:
        run_deidentify(_request(tmp_path, landing, path), spark)
    assert "Patient.000.ndjson line 2" in str(exc.value)
    assert "Secretname" not in str(exc.value) and "female" not in str(exc.value)

    path.write_text(json.dumps({**config, "processingErrors": "skip"}))
    result = run_deidentify(_request(tmp_path, landing, path), spark)
    c = result.summary.counts["Patient"]
    assert (c.lines_in, c.rows_out, c.quarantined, c.skipped) == (2, 2, 1, 1) and result.summary.reconciled


def test_quarantine_inside_output_is_refused(spark, tmp_path: Path, config_file: Path) -> None:
    with pytest.raises(DeidentifyError, match="must not be inside"):
        run_deidentify(
            _request(tmp_path, tmp_path / "x", config_file, quarantine=str(tmp_path / "research" / "q")),
            spark,
        )


def test_keys_never_appear_in_the_plan(spark, tmp_path: Path, config_file: Path) -> None:
    from anonymizer.engine import Anonymizer
    from anonymizer.spark import line_schema as ls
    from anonymizer.spark.reader import read_lines
    from anonymizer.spark.transform import TransformOptions, make_partition_transform

    landing = tmp_path / "landing"
    _write(landing, "Patient.000.ndjson", [json.dumps(_patient("p1", "A"))])
    anon = Anonymizer.from_config_file(str(config_file), as_of=AS_OF)
    df = read_lines(spark, str(landing)).mapInArrow(
        make_partition_transform(anon, TransformOptions()), ls.TRANSFORMED_DDL
    )
    plan = df._jdf.queryExecution().toString()
    assert HASH_KEY not in plan
    assert HASH_KEY not in spark.sparkContext.getConf().toDebugString()


def test_the_staged_write_setting_is_the_sessions_again_after_the_write(spark) -> None:
    """The staged write turns Spark's concurrent writers on for its own write only (no sort of each task's rows
    by type); the session's own value, or its absence, is back afterwards, also after a failure."""
    from anonymizer.spark.deidentify_steps import (
        CONCURRENT_WRITERS,
        STAGING_WRITERS,
        unsorted_partition_writes,
    )

    spark.conf.unset(CONCURRENT_WRITERS)
    with unsorted_partition_writes(spark):
        assert spark.conf.get(CONCURRENT_WRITERS) == str(STAGING_WRITERS)
    assert spark.conf.get(CONCURRENT_WRITERS, None) in (None, "0")
    spark.conf.set(CONCURRENT_WRITERS, "3")
    try:
        with pytest.raises(RuntimeError), unsorted_partition_writes(spark):
            raise RuntimeError("the write failed")
        assert spark.conf.get(CONCURRENT_WRITERS) == "3"
    finally:
        spark.conf.unset(CONCURRENT_WRITERS)


class _RefusingConf:
    """A session's ``conf`` that refuses to set anything, as Databricks serverless does for most settings."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.values.get(key, default)

    def set(self, key: str, value: str) -> None:
        raise RuntimeError(f"[CONFIG_NOT_AVAILABLE] Configuration {key} is not available.")

    def unset(self, key: str) -> None:
        raise AssertionError("nothing was set, so nothing may be unset")


def test_the_staged_write_goes_on_sorted_where_the_setting_is_refused() -> None:
    """The concurrent writers are a speed-up only: where the session refuses the setting, the block still runs
    (the write sorts as Spark's default does) and an error inside it still propagates."""
    from types import SimpleNamespace

    from anonymizer.spark.deidentify_steps import unsorted_partition_writes

    session = SimpleNamespace(conf=_RefusingConf())
    ran = []
    with unsorted_partition_writes(session):  # type: ignore[arg-type]
        ran.append(True)
    assert ran == [True]
    with pytest.raises(ValueError), unsorted_partition_writes(session):  # type: ignore[arg-type]
        raise ValueError("the write failed")
