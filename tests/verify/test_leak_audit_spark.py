"""End-to-end verify on hand-made research zones: a correct run passes, each planted leak is caught."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from anonymizer.verify.pipeline import VerifyRequest, VerifyResult, run_verify
from tests.verify import builders as b

# (name, category, resource type, path) of each planted leak.
PLANTED = [
    ("name left in a note", "A", "Observation", "Observation.note.text"),
    ("SSN in an identifier", "G", "Patient", "Patient.identifier.value"),
    ("full birth date", "C", "Patient", "Patient.birthDate"),
    ("five-digit ZIP", "B", "Patient", "Patient.address.postalCode"),
    ("phone with other punctuation", "D", "Patient", "Patient.telecom.value"),
    ("name kept where it was", "A", "Patient", "Patient.name.family"),
]


def _plant(resources: list[dict[str, Any]], source: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_id = {r["id"]: r for r in resources}
    pat = by_id[b.correct_anonymization(source[0])["id"]]
    obs = next(r for r in resources if r["resourceType"] == "Observation")
    obs["note"] = [{"text": "Seen with SUMIKO254  larue605, tolerated well."}]
    pat["identifier"][1]["value"] = "999-88-8662"
    pat["birthDate"] = "1970-05-12"
    pat["address"][0]["postalCode"] = "02215"
    pat["telecom"] = [{"system": "phone", "value": "+1 (555) 810.7203"}]
    other = by_id[b.correct_anonymization(source[1])["id"]]
    other["name"] = source[1]["name"]  # the same value at the same path must still be a leak
    return resources


@pytest.fixture(scope="module")
def zones(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("verify")
    source = b.source_resources()
    b.write_landing(root / "landing", source)
    correct = [b.correct_anonymization(r) for r in source]
    b.write_zone(spark, root / "correct", correct)
    b.write_zone(spark, root / "leaky", _plant([b.correct_anonymization(r) for r in source], source))
    (root / "config.json").write_text(json.dumps(b.safe_harbor_config()), encoding="utf-8")
    shifting = b.safe_harbor_config()
    shifting["fhirPathRules"] = [
        {"path": p["path"], "method": "dateShift"} if "date" in p["path"] else p
        for p in shifting["fhirPathRules"]
    ]
    (root / "shift-config.json").write_text(json.dumps(shifting), encoding="utf-8")
    leaky = _plant([b.correct_anonymization(r) for r in source], source)
    b.write_zone(spark, root / "leaky-shift", leaky, config=shifting)
    return {"root": root, "landing": root / "landing", "correct": root / "correct", "leaky": root / "leaky",
            "leaky-shift": root / "leaky-shift"}  # fmt: skip


def _verify(spark: Any, zones: dict[str, Path], zone: str, config: str = "config.json") -> VerifyResult:
    request = VerifyRequest(
        source=str(zones["landing"]),
        output=str(zones[zone]),
        config=str(zones["root"] / config),
        report_dir=str(zones["root"] / f"report-{zone}-{config}"),
    )
    return run_verify(request, spark=spark)


@pytest.fixture(scope="module")
def correct_result(spark: Any, zones: dict[str, Path]) -> VerifyResult:
    return _verify(spark, zones, "correct")


@pytest.fixture(scope="module")
def leaky_result(spark: Any, zones: dict[str, Path]) -> VerifyResult:
    return _verify(spark, zones, "leaky")


def test_correct_run_passes(correct_result: VerifyResult) -> None:
    report = correct_result.report
    assert correct_result.passed, report["verdict"]
    assert report["verdict"]["leaks"] == 0
    assert report["counts"]["reconciled"]
    assert report["counts"]["totals"]["source_lines"] == 8
    checklist = {c["category"]: c for c in report["checklist"]}
    for letter in "ABCDFGHK":
        assert checklist[letter]["status"] == "removed", letter
    assert checklist["E"]["status"] == "not_present"


def test_correct_run_reports_kept_facility_city_as_exempt(correct_result: VerifyResult) -> None:
    exempt = [f for f in correct_result.report["leak_audit"]["findings"] if f["exempt"]]
    assert {(f["category"], f["resource_type"]) for f in exempt} >= {("B", "Organization")}


@pytest.mark.parametrize(("name", "category", "rtype", "path"), PLANTED, ids=[p[0] for p in PLANTED])
def test_planted_leak_is_found(
    leaky_result: VerifyResult, name: str, category: str, rtype: str, path: str
) -> None:
    findings = [f for f in leaky_result.report["leak_audit"]["findings"] if not f["exempt"]]
    assert any(
        f["category"] == category and f["resource_type"] == rtype and f["path"] == path for f in findings
    ), (name, [(f["category"], f["path"]) for f in findings])


def test_leaky_run_fails_and_names_categories(leaky_result: VerifyResult) -> None:
    assert not leaky_result.passed
    checklist = {c["category"]: c["status"] for c in leaky_result.report["checklist"]}
    assert {k for k, v in checklist.items() if v == "found"} == {"A", "B", "C", "D", "G"}
    checks = {v["check"] for v in leaky_result.report["precision"]["violations"]}
    assert {"date_precision", "zip_not_3_digits"} <= checks


def test_reports_hold_no_identifying_values(leaky_result: VerifyResult) -> None:
    texts = [leaky_result.report_json.read_text(), leaky_result.report_html.read_text()]
    for secret in (
        "Larue605",
        "larue605",
        "999-88-8662",
        "999888862",
        "1970-05-12",
        "02215",
        "8107203",
        "Boston",
    ):
        for text in texts:
            assert secret not in text


def test_html_is_self_contained(correct_result: VerifyResult) -> None:
    html = correct_result.report_html.read_text()
    assert "contains no identifying values" in html
    assert "<svg" in html and "<script" not in html
    assert "src=" not in html and "href=" not in html and "@import" not in html


def test_date_shift_config_does_not_search_dates(spark: Any, zones: dict[str, Path]) -> None:
    result = _verify(spark, zones, "leaky-shift", "shift-config.json")
    report = result.report
    assert report["precision"]["promises"]["dates"] == "shifted"
    categories = {f["category"] for f in report["leak_audit"]["findings"] if not f["exempt"]}
    assert categories == {"A", "B", "D", "G"}  # the kept birth date is not judged by equality
    checklist = {c["category"]: c["status"] for c in report["checklist"]}
    assert checklist["C"] == "not_checked"
    assert any("not searched" in note for note in report["leak_audit"]["notes"])
