"""Pure-Python tests: config promises, precision checks, reconciliation, checklist, report schema."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from anonymizer.spark.summary import RunSummary
from anonymizer.verify.checklist import CATEGORIES, build_checklist
from anonymizer.verify.counts import reconcile
from anonymizer.verify.precision_checks import Promises, check_resource, promises_from_config
from anonymizer.verify.report_html import render_html
from anonymizer.verify.report_json import SCHEMA_VERSION, TOP_LEVEL_KEYS, build_report, write_report_json
from tests.verify import builders as b

AS_OF = date(2026, 1, 1)
YEAR = Promises("year", "zip3", True, ("036", "059", "102", "203"))


def _checks(resource: dict, promises: Promises = YEAR) -> dict[str, int]:
    out: dict[str, int] = {}
    for (check, _path), n in check_resource(resource, promises, AS_OF).items():
        if not check.startswith("decade:"):
            out[check] = out.get(check, 0) + n
    return out


def test_promises_of_a_safe_harbor_config() -> None:
    p = promises_from_config(b.typed(b.safe_harbor_config()))
    assert (p.dates, p.zip, p.ages) == ("year", "zip3", True)
    assert p.restricted_zip3 == ("036", "059", "102", "203")


def test_promises_of_a_date_shift_config() -> None:
    config = {"fhirPathRules": [{"path": "nodesByType('dateTime')", "method": "dateShift"}], "parameters": {}}
    config["parameters"] = {"dateShiftKey": "env:NOT_RESOLVED_BY_VERIFY"}
    p = promises_from_config(b.typed(config))
    assert (p.dates, p.zip, p.ages) == ("shifted", "kept", False)
    assert len(p.restricted_zip3) == 19  # the documented union when the config lists none


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"resourceType": "Patient", "birthDate": "1970"}, {"precision:year": 1}),
        ({"resourceType": "Patient", "birthDate": "1970-05-12"}, {"precision:day": 1, "date_precision": 1}),
        (
            {"resourceType": "Encounter", "period": {"start": "2019-04"}},
            {"precision:month": 1, "date_precision": 1},
        ),
        ({"resourceType": "Patient", "birthDate": "1930"}, {"precision:year": 1, "birth_year_over_89": 1}),
        # the year alone reads as 90 (issue #16 point 3): flagged even though the person may be 89
        ({"resourceType": "Patient", "birthDate": "1936"}, {"precision:year": 1, "birth_year_over_89": 1}),
        ({"resourceType": "Patient", "birthDate": "1937"}, {"precision:year": 1}),
        ({"resourceType": "Observation", "valueQuantity": {"value": 93, "unit": "a"}}, {"age_over_89": 1}),
        ({"resourceType": "Observation", "valueQuantity": {"value": 89, "code": "a"}}, {}),
        ({"resourceType": "Observation", "valueQuantity": {"value": 93, "unit": "kg"}}, {}),
        ({"resourceType": "Patient", "address": [{"postalCode": "02100"}]}, {}),
        ({"resourceType": "Patient", "address": [{"postalCode": "02215"}]}, {"zip_not_3_digits": 1}),
        ({"resourceType": "Patient", "address": [{"postalCode": "03600"}]}, {"zip_restricted_prefix": 1}),
        ({"resourceType": "Patient", "address": [{"postalCode": "00000"}]}, {}),
        ({"resourceType": "Patient", "address": [{"postalCode": "021"}]}, {}),
        ({"resourceType": "Observation", "note": [{"text": "seen 2019-04-01"}]}, {"date_in_text": 1}),
        ({"resourceType": "Patient", "photo": [{"contentType": "image/jpeg", "data": "AAAA"}]}, {"image": 1}),
    ],
)
def test_precision_checks(resource: dict, expected: dict[str, int]) -> None:
    assert _checks(resource) == expected


def test_shifted_dates_are_not_precision_violations() -> None:
    shifted = Promises("shifted", "kept", False, ())
    assert _checks({"resourceType": "Patient", "birthDate": "1970-05-12"}, shifted) == {"precision:day": 1}


def test_reconcile_counts_quarantine_and_duplicates() -> None:
    result = reconcile(
        {"Patient": 10, "unknown": 2},
        {"Patient": 1},
        {"Patient": 8},
        {"Patient": 1, "unknown": 2},
        "table",
        None,
    )
    assert result.reconciled
    assert result.totals == {
        "source_lines": 12,
        "output_rows": 8,
        "quarantined": 3,
        "duplicates": 1,
        "skipped": 0,
    }


def _summary(counts: dict) -> RunSummary:
    return RunSummary.from_json_dict({"run_id": "r", "counts": counts})


def test_reconcile_skipped_lines_are_written_and_quarantined() -> None:
    summary = _summary({"Patient": {"lines_in": 5, "rows_out": 5, "quarantined": 2, "skipped": 2}})
    assert reconcile({"Patient": 5}, {}, {"Patient": 5}, {"Patient": 2}, "run summary", summary).reconciled


def test_reconcile_finds_lost_rows_and_summary_disagreement() -> None:
    summary = _summary({"Patient": {"lines_in": 11, "rows_out": 9}})
    result = reconcile({"Patient": 10}, {}, {"Patient": 9}, {}, "run summary", summary)
    assert not result.reconciled
    # rows lost; the summary's type count and total disagree with the landing; the summary does not reconcile
    assert len(result.problems) == 4
    assert not result.per_type[0].reconciled


def test_checklist_statuses() -> None:
    harvested = {"A": {"name part": 3}, "G": {"social security number": 1}, "C": {"other full date": 4}}
    findings = [{"category": "G", "hits": 2, "exempt": False}, {"category": "A", "hits": 5, "exempt": True}]
    violations = [{"check": "date_precision", "count": 7}]
    items = {
        i["category"]: i
        for i in build_checklist(b.typed(b.safe_harbor_config()), harvested, findings, violations)
    }
    assert list(items) == list(CATEGORIES) and len(items) == 18
    assert items["A"]["status"] == "removed"
    assert items["G"]["status"] == "found" and items["G"]["leaks"] == 2
    assert items["C"]["status"] == "found" and items["C"]["precision_violations"] == 7
    assert items["D"]["status"] == "not_present"
    assert items["P"]["status"] == "not_checked"
    assert [r["rule_index"] for r in items["A"]["rules"]] == [2, 7]


def _minimal_report() -> dict:
    checklist = build_checklist(b.typed(b.safe_harbor_config()), {}, [], [])
    return build_report(
        tool={"name": "fhir-anonymizer verify", "version": "0"},
        generated_at="2026-01-01T00:00:00Z",
        inputs={"source": "s", "output": "o", "config": "c"},
        verdict={"passed": True, "leaks": 0, "precision_violations": 0, "counts_reconciled": True, "reasons": []},
        counts={"per_type": [], "totals": {"source_lines": 0, "output_rows": 0, "quarantined": 0, "duplicates": 0},
                "reconciled": True, "quarantine_source": "none", "problems": []},
        changes={"status_counts": {}, "paths": [], "security_labels": {}, "rule_hits": None},
        leak_audit={"leaks": 0, "exempt_matches": 0, "harvested": {}, "findings": [], "notes": []},
        precision={"promises": YEAR.to_dict(), "violations": [], "violation_count": 0, "date_precision": {},
                   "images_in_person_data": 0},
        checklist=checklist,
        history={"audited": "latest version of every table", "current_config_fingerprint": None,
                 "tables_checked": 0, "readable_older_versions": {}, "other_config_versions": [],
                 "violations": 0, "notes": []},
    )  # fmt: skip


def test_report_schema_order_and_version(tmp_path: Path) -> None:
    report = _minimal_report()
    assert tuple(report) == TOP_LEVEL_KEYS
    assert report["schema_version"] == SCHEMA_VERSION
    assert report["contains_identifying_values"] is False
    assert write_report_json(report, tmp_path).read_text().startswith('{\n  "schema_version"')


def test_report_missing_section_is_an_error() -> None:
    with pytest.raises(ValueError, match="checklist"):
        build_report(
            tool={},
            generated_at="",
            inputs={},
            verdict={},
            counts={},
            changes={},
            leak_audit={},
            precision={},
        )


def test_html_escapes_paths_and_renders_empty_report() -> None:
    html = render_html(_minimal_report())
    assert html.startswith("<!DOCTYPE html>") and "PASSED" in html
    assert "Safe Harbor checklist" in html


def test_date_decades() -> None:
    from anonymizer.verify.precision_checks import date_decades

    resource = {"resourceType": "Encounter", "period": {"start": "1971-02-03", "end": "1979"}, "x": "2019-04"}
    assert date_decades(resource) == {"1970s": 2, "2010s": 1}
