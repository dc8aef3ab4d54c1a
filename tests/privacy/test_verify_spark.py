"""Issue #16, verify end to end: the red team's planted leaks are reported by check, category and path; a
malformed line no longer breaks the counts; readable older versions of another config fail the run until purged."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from anonymizer.spark.history import purge_history
from anonymizer.verify.counts import source_counts
from anonymizer.verify.history import check_history
from anonymizer.verify.passes import source_pass
from anonymizer.verify.pipeline import VerifyRequest, VerifyResult, run_verify
from tests.verify import builders as b

pytestmark = pytest.mark.spark

# (check, category, resource type, path) of each planted leak
PLANTED = [
    ("dicom_uid", "R", "ImagingStudy", "ImagingStudy.series.uid"),
    ("dicom_uid", "R", "ImagingStudy", "ImagingStudy.series.instance.uid"),
    ("id_in_text", "R", "Observation", "Observation.note.text"),
    ("ssn_in_text", "F", "Observation", "Observation.note.text"),
    ("age_in_text", "C", "Observation", "Observation.note.text"),
    ("zip_4_digits", "B", "Patient", "Patient.address.postalCode"),
    ("age_over_89", "C", "Observation", "Observation.component.valueQuantity.value"),
    ("birth_year_over_89", "C", "Patient", "Patient.birthDate"),
]
_NOTE = "Person seed: -5612345678901234567. SSN ending in 6789. She is ninety-six years old."


def _plant(resources: list[dict[str, Any]], patient_id: str) -> list[dict[str, Any]]:
    patient = next(r for r in resources if r["resourceType"] == "Patient" and r["id"] == patient_id)
    patient["address"] = [{"state": "MA", "postalCode": "3600"}]
    patient["birthDate"] = "1936"  # as of 2026-12-02 the year alone reads as 90
    obs = next(r for r in resources if r["resourceType"] == "Observation")
    obs["note"] = [{"text": _NOTE}]
    obs["component"] = [
        {"code": {"text": "age"}, "valueQuantity": {"value": 1100, "unit": "mo", "code": "mo"}}
    ]
    resources.append({
        "resourceType": "ImagingStudy", "id": "img-1", "status": "available",
        "subject": {"reference": f"Patient/{patient_id}"},
        "series": [{"uid": "1.2.840.99999999.1.29099167.1588766265703", "modality": {"code": "DX"},
                    "instance": [{"uid": "1.2.840.99999999.1.1.61130375.1588766265703",
                                  "sopClass": {"code": "1.2.840.10008.5.1.4.1.1.1.1"}}]}],
    })  # fmt: skip
    return resources


def _older_leaky_version(spark: Any, zone: Path) -> None:
    """Version 0 of the Patient table from an earlier run under another config; version 1 is run-1's."""
    path = str(zone / "delta" / "Patient")
    df = spark.createDataFrame([("p", None, "run-0", '{"resourceType":"Patient","id":"p"}')],
                               "id string, patient_key string, run_id string, json string")  # fmt: skip
    df.selectExpr("id", "patient_key", "cast(null as timestamp) as last_updated", "run_id",
                  "parse_json(json) as resource").write.format("delta").save(path)  # fmt: skip


def _runs(spark: Any, zone: Path) -> None:
    rows = [("run-0", "fingerprint-of-a-leaky-config"), ("run-1", "test")]
    spark.createDataFrame(rows, "run_id string, config_fingerprint string").write.format("delta").save(
        str(zone / "delta" / "_runs")
    )


@pytest.fixture(scope="module")
def planted(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("redteam")
    source = b.source_resources()
    landing = b.write_landing(root / "landing", source)
    with (landing / "Patient.000.ndjson").open("a", encoding="utf-8") as f:
        f.write("{not json\n")  # quarantined by deidentify under Patient (its file's type)
    zone = root / "zone"
    _older_leaky_version(spark, zone)
    anonymized = [b.correct_anonymization(r) for r in source]
    b.write_zone(spark, zone, _plant(anonymized, b.correct_anonymization(source[0])["id"]))
    _runs(spark, zone)
    summary = json.loads((zone / "run-summary.json").read_text())
    summary["counts"]["Patient"]["lines_in"] += 1
    summary["counts"]["Patient"]["quarantined"] = 1
    summary["totals"]["quarantined"] = 1
    summary["counts"].pop("ImagingStudy")  # planted in the zone only: not a landing line
    # totals.lines_in stays: one landing line more (the malformed one), one zone row without a line (the study)
    (zone / "run-summary.json").write_text(json.dumps(summary))
    config = root / "config.json"
    config.write_text(json.dumps(b.safe_harbor_config()))
    request = VerifyRequest(source=str(landing), output=str(zone), config=str(config),
                            report_dir=str(root / "report"), as_of=date(2026, 12, 2))  # fmt: skip
    return {"zone": zone, "result": run_verify(request, spark=spark)}


def test_each_planted_leak_is_reported_by_check_category_and_path(planted: dict[str, Any]) -> None:
    result: VerifyResult = planted["result"]
    assert not result.passed
    violations = {
        (v["check"], v["resource_type"], v["path"]) for v in result.report["precision"]["violations"]
    }
    missing = [p for p in PLANTED if (p[0], p[2], p[3]) not in violations]
    assert not missing
    found = {c["category"] for c in result.report["checklist"] if c["precision_violations"]}
    assert {p[1] for p in PLANTED} <= found
    text = json.dumps(result.report)
    assert "5612345678901234567" not in text and "99999999" not in text  # counts and paths only


def test_malformed_line_counts_under_its_files_type(planted: dict[str, Any], spark: Any) -> None:
    patient_row = next(
        t for t in planted["result"].report["counts"]["per_type"] if t["resource_type"] == "Patient"
    )
    assert patient_row["quarantined"] == 1 and patient_row["reconciled"]
    assert "unknown" not in {t["resource_type"] for t in planted["result"].report["counts"]["per_type"]}
    lines = spark.createDataFrame(
        [("file:/l/DocumentReference.000.ndjson", '{"resourceType":"DocumentReference","id":"a"}'),
         ("file:/l/DocumentReference.000.ndjson", "{not json"), ("file:/l/mixed.ndjson", "{bad")],
        "file string, line string",
    )  # fmt: skip
    assert source_counts(source_pass(lines))[0] == {"DocumentReference": 2, "unknown": 1}


def test_history_of_another_config_fails_until_purged(planted: dict[str, Any], spark: Any) -> None:
    history = planted["result"].report["history"]
    assert history["other_config_versions"] == [{"resource_type": "Patient", "version": 0, "runs": ["run-0"]}]
    assert any("time travel" in r for r in planted["result"].report["verdict"]["reasons"])
    zone = planted["zone"]
    tables = {t: str(zone / "delta" / t) for t in ("Patient", "Observation")}
    assert purge_history(spark, tables.values()) == list(tables.values())
    assert spark.conf.get("spark.databricks.delta.retentionDurationCheck.enabled", None) in (None, "true")
    after = check_history(spark, tables, str(zone / "delta" / "_runs"), "test")
    assert after.readable_older_versions == {} and after.violations == 0
    assert spark.read.format("delta").load(tables["Patient"]).count() > 0  # the latest version is intact
