"""De-identify part of the bundled sample with the real pipeline, then verify it (correct and weakened config)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from anonymizer.engine import Anonymizer
from anonymizer.spark.pipeline import DeidentifyRequest, run_deidentify
from anonymizer.verify.pipeline import VerifyRequest, VerifyResult, run_verify
from anonymizer.verify.run_config import ConfigMismatchError

#: File -> number of leading lines taken from the 10-patient sample (kept small: local[1] on 2 shared cores).
SUBSET = {
    "Patient.000.ndjson": None,
    "Encounter.000.ndjson": 60,
    "DocumentReference.000.ndjson": 15,
    "Condition.000.ndjson": 30,
    "Device.000.ndjson": None,
    "Organization.000.ndjson": None,
    "Practitioner.000.ndjson": None,
    "Location.000.ndjson": None,
}
HUMAN_NAME_RULE = "nodesByType('HumanName')"


def _subset(sample_dir: Path, landing: Path) -> None:
    landing.mkdir(parents=True)
    for name, count in SUBSET.items():
        lines = (sample_dir / name).read_text(encoding="utf-8").splitlines(keepends=True)
        (landing / name).write_text("".join(lines if count is None else lines[:count]), encoding="utf-8")


def _deidentify_and_verify(spark: Any, root: Path, name: str, config: Path) -> VerifyResult:
    zone, quarantine = root / f"zone-{name}", root / f"quarantine-{name}"
    run_deidentify(
        DeidentifyRequest(input=str(root / "landing"), output=str(zone), config=str(config),
                          quarantine=str(quarantine), as_of=date(2026, 1, 1), allow_ephemeral_keys=True),
        spark,
    )  # fmt: skip
    return run_verify(
        VerifyRequest(source=str(root / "landing"), output=str(zone), config=str(config),
                      report_dir=str(root / f"report-{name}"), quarantine=str(quarantine)),
        spark=spark,
    )  # fmt: skip


@pytest.fixture(scope="module")
def e2e(
    spark: Any, sample_dir: Path, repo_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("verify-e2e")
    _subset(sample_dir, root / "landing")
    config = repo_root / "configs" / "hipaa-safe-harbor.json"
    weakened = json.loads(config.read_text(encoding="utf-8"))
    before = len(weakened["fhirPathRules"])
    weakened["fhirPathRules"] = [r for r in weakened["fhirPathRules"] if r.get("path") != HUMAN_NAME_RULE]
    assert len(weakened["fhirPathRules"]) == before - 1
    weak_path = root / "without-humanname.json"
    weak_path.write_text(json.dumps(weakened), encoding="utf-8")
    return {
        "root": root,
        "config": config,
        "weak_path": weak_path,
        "correct": _deidentify_and_verify(spark, root, "correct", config),
        "weakened": _deidentify_and_verify(spark, root, "weakened", weak_path),
    }


def test_safe_harbor_config_passes_verify(e2e: dict[str, Any]) -> None:
    result: VerifyResult = e2e["correct"]
    assert result.report["verdict"]["reasons"] == []
    assert result.passed
    assert result.report["counts"]["reconciled"]
    assert result.report["checklist"][0]["status"] == "removed"  # A: names


def test_config_without_humanname_rule_leaks_names(e2e: dict[str, Any]) -> None:
    result: VerifyResult = e2e["weakened"]
    assert not result.passed
    leaks = [f for f in result.report["leak_audit"]["findings"] if not f["exempt"]]
    assert {f["category"] for f in leaks} == {"A"}
    assert any(f["path"].startswith("Patient.name") for f in leaks)
    statuses = {c["category"]: c["status"] for c in result.report["checklist"]}
    assert statuses["A"] == "found"


def test_rule_hits_of_the_run_are_in_the_report(e2e: dict[str, Any]) -> None:
    # The same engine over the same lines in this process: what the partitions' hit counters must sum to.
    engine = Anonymizer.from_config_file(e2e["config"], as_of=date(2026, 1, 1), allow_ephemeral_keys=True)
    lines = 0
    for file in sorted((e2e["root"] / "landing").glob("*.ndjson")):
        for line in file.read_text(encoding="utf-8").splitlines():
            engine.anonymize(json.loads(line))
            lines += 1
    expected = [{"rule_index": i, "method": m, "count": n} for (i, m), n in sorted(engine.rule_hits.items())]
    report = e2e["correct"].report
    assert report["changes"]["rule_hits"] == expected
    rules = json.loads(e2e["config"].read_text(encoding="utf-8"))["fhirPathRules"]
    id_rule = next(h for h in expected if rules[h["rule_index"]].get("path") == "Resource.id")
    assert id_rule == {
        "rule_index": id_rule["rule_index"],
        "method": "cryptohash",
        "count": lines,
    }  # one id each
    assert "Values changed per rule" in Path(e2e["correct"].report_html).read_text(encoding="utf-8")


def test_run_summary_names_the_engine_that_ran(e2e: dict[str, Any]) -> None:
    summary = json.loads((e2e["root"] / "zone-correct" / "run-summary.json").read_text(encoding="utf-8"))
    assert summary["engine"] == {"engine": "compiled", "fallback_reasons": []}


def test_verify_refuses_a_config_other_than_the_runs(spark: Any, e2e: dict[str, Any]) -> None:
    root = e2e["root"]
    request = VerifyRequest(source=str(root / "landing"), output=str(root / "zone-correct"),
                            config=str(e2e["weak_path"]), report_dir=str(root / "report-mismatch"))  # fmt: skip
    with pytest.raises(ConfigMismatchError, match="config fingerprint"):
        run_verify(request, spark=spark)
    assert not (root / "report-mismatch").exists()
