"""Issue #16, verify: each planted leak the red team found is reported by check and path; clean output is not."""

from __future__ import annotations

import base64
from datetime import date

from anonymizer.verify.checklist import build_checklist
from anonymizer.verify.identifier_checks import address_keeping_types, check_resource
from anonymizer.verify.precision_checks import Promises
from anonymizer.verify.precision_checks import check_resource as precision_check
from tests.verify.builders import typed

STRICT = Promises(dates="year", zip="zip3", ages=True, restricted_zip3=("036", "059"))
AS_OF = date(2026, 12, 2)


def _note(text: str) -> dict:
    data = base64.b64encode(text.encode()).decode()
    return {"resourceType": "DocumentReference", "id": "d", "subject": {"reference": "Patient/x"},
            "description": text, "content": [{"attachment": {"contentType": "text/plain", "data": data}}]}  # fmt: skip


def test_dicom_uids_are_found_and_pseudonyms_and_standard_uids_are_not() -> None:
    leaky = {"resourceType": "ImagingStudy", "id": "i",
             "identifier": [{"system": "urn:dicom:uid", "value": "urn:oid:1.2.840.99999999.56191522.1588766265703"}],
             "series": [{"uid": "1.2.840.99999999.1.29099167.1588766265703",
                         "instance": [{"uid": "1.2.840.99999999.1.1.61130375.1588766265703",
                                       "sopClass": {"system": "urn:ietf:rfc:3986", "code": "1.2.840.10008.5.1.4.1.1.1.1"}}]}]}  # fmt: skip
    found = check_resource(leaky, STRICT)
    assert found == {
        ("dicom_uid", "ImagingStudy.identifier.value"): 1,
        ("dicom_uid", "ImagingStudy.series.uid"): 1,
        ("dicom_uid", "ImagingStudy.series.instance.uid"): 1,
    }
    clean = {"resourceType": "ImagingStudy", "id": "i",
             "series": [{"uid": "2.25.123456789012345678901234567890",
                         "instance": [{"sopClass": {"code": "1.2.840.10008.5.1.4.1.1.1.1"}}]}]}  # fmt: skip
    assert check_resource(clean, STRICT) == {}


def test_numbers_ssn_last_four_and_ages_in_text_are_found() -> None:
    found = check_resource(
        _note(
            "Person seed: -5612345678901234567. Card 999/88/8662. SSN ending in 6789. Aged 96. A ninety-six-year-old."
        ),
        STRICT,
    )
    for path in ("DocumentReference.description", "DocumentReference.content.attachment.data"):
        assert found[("id_in_text", path)] == 2
        assert found[("ssn_in_text", path)] == 1
        assert found[("age_in_text", path)] == 2
    assert check_resource(_note("[NAME], a [AGE]-year-old, seen; BP 120/80, 1-2 tablets."), STRICT) == {}


def test_four_digit_zip_is_found_except_where_the_config_keeps_addresses() -> None:
    practitioner = {"resourceType": "Practitioner", "id": "p", "address": [{"postalCode": "3600"}]}
    assert check_resource(practitioner, STRICT) == {("zip_4_digits", "Practitioner.address.postalCode"): 1}
    assert check_resource({**practitioner, "address": [{"postalCode": "03600"}]}, STRICT) == {}
    config = typed({"fhirPathRules": [{"path": "Organization.address", "method": "keep"}]})
    organization = {"resourceType": "Organization", "id": "o", "address": [{"postalCode": "3601"}]}
    assert check_resource(organization, STRICT, address_keeping_types(config)) == {}


def test_ages_over_89_in_age_values_are_found() -> None:
    condition = {"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/x"},
                 "onsetAge": {"value": 1100, "unit": "mo", "system": "http://unitsofmeasure.org", "code": "mo"}}  # fmt: skip
    assert check_resource(condition, STRICT) == {("age_over_89", "Condition.onsetAge.value"): 1}
    years = {**condition, "onsetAge": {"value": 96, "code": "a"}}
    assert precision_check(years, STRICT, AS_OF)[("age_over_89", "Condition.onsetAge.value")] == 1


def test_birth_year_implying_90_is_found() -> None:
    patient = {"resourceType": "Patient", "id": "p", "birthDate": "1936"}
    assert precision_check(patient, STRICT, AS_OF)[("birth_year_over_89", "Patient.birthDate")] == 1
    assert ("birth_year_over_89", "Patient.birthDate") not in precision_check(
        {**patient, "birthDate": "1937"}, STRICT, AS_OF
    )


def test_checklist_names_the_category_of_each_new_check() -> None:
    violations = [
        {"check": check, "resource_type": "X", "path": "X.y", "count": 1}
        for check in ("dicom_uid", "id_in_text", "ssn_in_text", "age_in_text", "zip_4_digits")
    ]
    checklist = build_checklist(
        typed({"fhirPathRules": [{"path": "Resource.id", "method": "keep"}]}),
        {},
        [],
        violations,
        dates_audited=True,
    )
    failing = {
        row["category"] for row in checklist if row["status"] == "found" and row["precision_violations"]
    }
    assert {"R", "F", "C", "B"} <= failing
