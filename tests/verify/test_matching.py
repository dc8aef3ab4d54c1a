"""Pure-Python tests of the match keys: harvest (source side) and candidates (output side) must meet."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from anonymizer.verify import normalize as nz
from anonymizer.verify.candidates import is_free_text_path, resource_candidates
from anonymizer.verify.harvest import harvest_resource, is_ignored, is_person_linked
from tests.verify import builders as b


def _keys(resource: dict[str, Any]) -> set[tuple[str, str]]:
    return {(kind, norm) for kind, norm, _ in resource_candidates(resource)}


def _harvest(resource: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(h.kind, h.norm): h.category for h in harvest_resource(resource)}


@pytest.mark.parametrize(
    "written",
    ["555-810-7203", "(555) 810-7203", "555.810.7203", "+1 555 810 7203", "5558107203", "555 8107203"],
)
def test_phone_found_whatever_the_punctuation(written: str) -> None:
    harvested = set(_harvest(b.source_resources()[0]))
    out = _keys({"resourceType": "Observation", "note": [{"text": f"call {written} tomorrow"}]})
    assert harvested & out & {("digits", "5558107203")}


@pytest.mark.parametrize("written", ["999-88-8662", "999 88 8662", "SSN:999888662", "999.88.8662"])
def test_ssn_found_whatever_the_punctuation(written: str) -> None:
    out = _keys({"resourceType": "Observation", "valueString": written})
    assert {("digits", "999888662"), ("compact", "999888662")} & out


def test_name_found_case_and_spacing_insensitive() -> None:
    harvested = _harvest(b.source_resources()[0])
    out = _keys({"resourceType": "Observation", "note": [{"text": "seen: SUMIKO254\n   larue605."}]})
    assert harvested[("words", "sumiko254 larue605")] == "A"
    assert ("words", "sumiko254 larue605") in out


def test_accents_are_folded() -> None:
    harvested = _harvest(b.source_resources()[0])
    assert ("words", "ester castaneda") in harvested
    assert ("words", "ester castaneda") in _keys({"resourceType": "X", "valueString": "ESTER CASTANEDA"})


def test_base64_text_notes_are_searched_and_images_are_not() -> None:
    note = base64.b64encode(b"Sumiko254 Larue605, 1970-05-12").decode()
    text_doc = {
        "resourceType": "DocumentReference",
        "content": [{"attachment": {"contentType": "text/plain", "data": note}}],
    }
    image_doc = {
        "resourceType": "DocumentReference",
        "content": [{"attachment": {"contentType": "image/jpeg", "data": note}}],
    }
    assert {("words", "sumiko254 larue605"), ("date", "1970-05-12")} <= _keys(text_doc)
    assert ("words", "sumiko254 larue605") not in _keys(image_doc)


def test_zip_is_not_taken_from_longer_codes() -> None:
    assert ("zip", "66519") not in _keys({"resourceType": "Observation", "code": {"text": "LOINC 66519-0"}})
    assert ("zip", "66519") in _keys({"resourceType": "Observation", "valueString": "lives in 66519, KS"})
    assert ("zip", "02215") in _keys({"resourceType": "Patient", "address": [{"postalCode": "02215-1234"}]})


def test_us_and_iso_dates_normalise_alike() -> None:
    out = _keys({"resourceType": "Observation", "valueString": "born 5/12/1970 (1970-05-12)"})
    assert ("date", "1970-05-12") in out


def test_hashed_references_do_not_match_source_ids() -> None:
    source = b.source_resources()
    patient_id_key = ("compact", nz.compact_key(b.PATIENT_ID))
    assert _harvest(source[0])[patient_id_key] == "R"
    assert patient_id_key in _keys(source[3])  # Encounter.subject.reference = Patient/<id>
    assert patient_id_key not in _keys(b.correct_anonymization(source[3]))


def test_harvest_categories_of_a_patient() -> None:
    categories = set(_harvest(b.source_resources()[0]).values())
    assert categories >= {"A", "B", "C", "D", "G", "H", "K", "R"}


def test_facilities_are_not_harvested() -> None:
    hospital = b.source_resources()[2]
    assert hospital["resourceType"] == "Organization"
    assert not is_person_linked(hospital)
    assert _harvest(hospital) == {}


def test_encounter_is_person_linked_and_its_subject_display_is_a_name() -> None:
    harvested = {(h.category, h.label, h.src_path) for h in harvest_resource(b.source_resources()[3])}
    assert ("A", "name in reference display", "Encounter.subject.display") in harvested


@pytest.mark.parametrize(
    ("kind", "norm", "ignored"),
    [
        ("words", "ma", True),
        ("words", "massachusetts", True),
        ("words", "711", True),
        ("words", "boston", False),
        ("zip", "00000", True),
        ("zip", "02100", True),
        ("zip", "02215", False),
        ("digits", "123456", True),
        ("digits", "5558107203", False),
        ("compact", "abc", True),
    ],
)
def test_ignore_rule(kind: str, norm: str, ignored: bool) -> None:
    assert is_ignored(kind, norm) is ignored


def test_free_text_paths() -> None:
    assert is_free_text_path("Observation.note.text")
    assert is_free_text_path("DocumentReference.content.attachment.data")
    assert not is_free_text_path("Organization.address.city")
    # what scrubText keeps (hipaa-safe-harbor-keep-notes.json) is never explained away by the same source value
    for path in (
        "Condition.code.text",
        "Patient.text.div",
        "DiagnosticReport.conclusion",
        "DetectedIssue.detail",
    ):
        assert is_free_text_path(path)
    assert not is_free_text_path("CarePlan.activity.detail.code.coding.display")


def test_matches_inside_harvested_elements_are_never_exempt() -> None:
    from anonymizer.verify.leak_audit import is_sensitive_path

    sensitive = {("Patient", "Patient.name"), ("Encounter", "Encounter.subject.display")}
    assert is_sensitive_path("Patient", "Patient.name.family", sensitive)
    assert is_sensitive_path("Encounter", "Encounter.subject.display", sensitive)
    assert not is_sensitive_path("Patient", "Patient.nameless", sensitive)
    assert not is_sensitive_path("Practitioner", "Practitioner.name.family", sensitive)


def test_image_kept_byte_for_byte_is_found_as_category_q() -> None:
    photo = base64.b64encode(bytes(range(256)) * 4).decode()
    patient = {
        "resourceType": "Patient",
        "id": "p-123456",
        "photo": [{"contentType": "image/jpeg", "data": photo}],
    }
    harvested = _harvest(patient)
    blob = ("blob", nz.blob_key(photo))
    assert harvested[blob] == "Q"
    doc = {
        "resourceType": "DocumentReference",
        "content": [{"attachment": {"contentType": "image/jpeg", "data": photo}}],
    }
    assert blob in _keys(doc)
    assert blob not in _keys(
        {"resourceType": "DocumentReference", "content": [{"attachment": {"contentType": "image/jpeg"}}]}
    )
