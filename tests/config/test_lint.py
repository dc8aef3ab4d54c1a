"""check-config: dead rules (with did-you-mean), shadowed rules, missing keys and the Safe Harbor coverage table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from anonymizer.cli.main import main
from anonymizer.config.lint import ERROR, WARNING, lint_config
from anonymizer.config.lint.safe_harbor import CATEGORIES

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"cryptoHashKey": "env:SOME_KEY", "dateShiftKey": "env:OTHER_KEY"}


def _config(*rules: tuple[str, str], **params: object) -> dict:
    return {
        "fhirVersion": "R4",
        "fhirPathRules": [{"path": p, "method": m} for p, m in rules],
        "parameters": {**KEYS, **params},
    }


def _codes(report: object) -> list[tuple[str, str, str]]:
    return [(f.severity, f.code, f.subject) for f in report.findings]  # type: ignore[attr-defined]


def test_misspelt_element_is_an_error_with_the_suggestion() -> None:
    report = lint_config(_config(("Patient.nmae", "redact")))
    assert _codes(report) == [(ERROR, "dead_rule", "rule #1 (Patient.nmae)")]
    assert "did you mean Patient.name?" in report.findings[0].message


@pytest.mark.parametrize(
    ("path", "hint"),
    [
        ("Patinet.name", "Patient.name"),
        ("nodesByType('HumanNmae')", "nodesByType('HumanName')"),
        ("Patient.address.citty", "Patient.address.city"),
        ("Observation.valueQuantity", "Observation.value.ofType(Quantity)"),
    ],
)
def test_dead_paths_of_every_kind_get_a_suggestion(path: str, hint: str) -> None:
    [finding] = lint_config(_config((path, "redact"))).findings
    assert finding.code == "dead_rule"
    assert finding.message.endswith(f"did you mean {hint}?")


@pytest.mark.parametrize(
    "path",
    [
        "Patient.name",
        "Observation.value.ofType(Quantity)",
        "Condition.onset as Age",
        "nodesByType('Extension')",
        "Patient.extension('http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName')",
        "Patient.name.where(use = 'official').given",
        "Bundle.entry.resource",
        "Resource.id",
        "Condition.abatement | Condition.onset",
        "nodesByName('display')",
        "Device.udiCarrier.descendants()",
    ],
)
def test_paths_that_can_match_are_not_reported(path: str) -> None:
    assert lint_config(_config((path, "redact"))).findings == []


def test_a_type_that_no_element_of_the_resource_has_is_dead() -> None:
    [finding] = lint_config(_config(("Patient.nodesByType('ElementDefinition')", "redact"))).findings
    assert finding.code == "dead_rule"
    assert "no element of type ElementDefinition under Patient" in finding.message


def test_allow_dead_rules_reports_them_as_warnings() -> None:
    report = lint_config(_config(("Patient.nmae", "redact")), allow_dead_rules=True)
    assert _codes(report) == [(WARNING, "dead_rule", "rule #1 (Patient.nmae)")]
    assert not report.errors


def test_a_rule_fully_shadowed_by_earlier_rules_is_a_warning() -> None:
    report = lint_config(
        _config(
            ("nodesByType('HumanName')", "redact"), ("Patient.name.family", "keep"), ("Patient.name", "keep")
        )
    )
    assert _codes(report) == [
        (WARNING, "shadowed_rule", "rule #2 (Patient.name.family)"),
        (WARNING, "shadowed_rule", "rule #3 (Patient.name)"),
    ]
    assert "rule #1 (nodesByType('HumanName'))" in report.findings[0].message


def test_a_partly_shadowed_or_conditional_earlier_rule_does_not_shadow() -> None:
    report = lint_config(
        _config(
            ("Patient.name.where(use = 'official')", "redact"),
            ("Patient.name", "keep"),  # applies to the other names
            ("Patient.address.city", "redact"),
            ("nodesByType('Address')", "redact"),  # applies to every other address part
        )
    )
    assert report.findings == []


def test_a_method_that_needs_a_key_without_one_is_an_error() -> None:
    config = _config(("Patient.id", "cryptoHash"), ("Patient.birthDate", "dateShift"))
    config["parameters"] = {}
    report = lint_config(config)
    assert {(f.severity, f.subject) for f in report.findings} == {
        (ERROR, "parameters.cryptoHashKey"),
        (ERROR, "parameters.dateShiftKey"),
    }
    assert lint_config(config, allow_ephemeral_keys=True).findings == []


def test_key_references_are_checked_for_presence_never_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOME_KEY", raising=False)
    config = _config(("Patient.id", "cryptoHash"), cryptoHashKey="dbsecret:nowhere/crypto-hash-key")
    assert lint_config(config).findings == []


def test_invalid_configs_are_one_error_naming_the_problem() -> None:
    [finding] = lint_config(_config(("Patient.name", "mask"))).findings
    assert finding.severity == ERROR and "MASK not supported" in finding.message


def test_coverage_table_names_rules_and_uncovered_elements() -> None:
    report = lint_config(
        _config(("Patient.name", "redact"), ("Resource.id", "cryptoHash")), with_coverage=True
    )
    rows = {row.letter: row for row in report.coverage or []}
    assert list(rows) == list(CATEGORIES)
    names = rows["A"]
    assert 0 in names.rules
    gaps = {g.location: g for g in names.gaps}
    assert "HumanName.family" in gaps and gaps["HumanName.family"].kept_by is None
    assert not gaps["HumanName.family"].example.startswith("Patient.name")
    assert 1 in rows["R"].rules
    assert "Resource.id" not in {g.location for g in rows["R"].gaps}

    whole = lint_config(_config(("nodesByType('HumanName')", "redact")), with_coverage=True)
    assert "HumanName.family" not in {g.location for g in whole.coverage[0].gaps}  # type: ignore[index]


def test_a_keep_rule_is_a_gap_named_by_the_rule() -> None:
    config = _config(("Organization.telecom", "keep"), ("nodesByType('ContactPoint')", "redact"))
    report = lint_config(config, with_coverage=True)
    phone = next(r for r in report.coverage or [] if r.letter == "D")
    [gap] = phone.gaps
    assert (gap.location, gap.example, gap.kept_by) == ("ContactPoint.value", "Organization.telecom.value", 0)
    assert phone.rules == (1,)


@pytest.mark.parametrize("name", ["hipaa-safe-harbor", "hipaa-safe-harbor-keep-notes", "limited-dataset"])
def test_shipped_profiles_pass_with_no_findings(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["check-config", str(ROOT / "configs" / f"{name}.json")])
    out = capsys.readouterr().out
    assert "0 errors, 0 warnings" in out
    for letter, (title, _) in CATEGORIES.items():
        assert any(line.startswith(f"{letter:<4}{title[:20]}") for line in out.splitlines()), letter


def test_microsofts_sample_needs_its_two_allowances(capsys: pytest.CaptureFixture[str]) -> None:
    sample = str(ROOT / "configs" / "ms-r4-configuration-sample.json")
    with pytest.raises(SystemExit) as exc:
        main(["check-config", "--no-coverage", sample])
    assert exc.value.code == 1
    out = capsys.readouterr().out
    assert "notAvaliable" in out and "did you mean HealthcareService.notAvailable.description?" in out
    main(["check-config", "--allow-dead-rules", "--allow-ephemeral-keys", sample])
    out = capsys.readouterr().out
    assert "0 errors, 1 warning" in out
    assert "Organization.telecom.value: kept by rule #3 (Organization.telecom)" in out


def test_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as usage:
        main(["check-config", str(tmp_path / "missing.json")])
    assert usage.value.code == 2
    bad = tmp_path / "typo.json"
    bad.write_text(json.dumps(_config(("Patient.nmae", "redact"))))
    with pytest.raises(SystemExit) as errors:
        main(["check-config", str(bad)])
    assert errors.value.code == 1
    assert "did you mean Patient.name?" in capsys.readouterr().out


def test_microsofts_test_configs_have_no_errors_with_allow_dead_rules() -> None:
    folder = ROOT / "tests" / "fixtures" / "ms-anonymizer" / "functional" / "configs"
    for path in sorted(folder.glob("*.json")):
        report = lint_config(path, allow_dead_rules=True, allow_ephemeral_keys=True)
        assert not report.errors, (path.name, report.errors)
