"""The patient a resource belongs to, in every reference form bulk exports contain (the join key of the zone)."""

from __future__ import annotations

import pytest

from anonymizer.fhir.patient import linked_encounter_id, patient_id


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"resourceType": "Patient", "id": "p1"}, "p1"),
        ({"resourceType": "Patient"}, None),
        ({"resourceType": "Encounter", "subject": {"reference": "Patient/p1"}}, "p1"),
        ({"resourceType": "Encounter", "subject": {"reference": "Patient/p1/_history/3"}}, "p1"),
        (
            {"resourceType": "Encounter", "subject": {"reference": "https://fhir.example.org/r4/Patient/p1"}},
            "p1",
        ),
        ({"resourceType": "Encounter", "subject": {"reference": "urn:uuid:6b5b-11"}}, "6b5b-11"),
        ({"resourceType": "Encounter", "subject": {"reference": "urn:uuid:g1", "type": "Group"}}, None),
        ({"resourceType": "Encounter", "subject": {"reference": "Group/g1"}}, None),
        ({"resourceType": "Claim", "patient": {"reference": "Patient/p2"}}, "p2"),
        ({"resourceType": "Coverage", "beneficiary": {"reference": "Patient/p3"}}, "p3"),
        (
            {"resourceType": "Provenance", "who": {"reference": "urn:uuid:x"}},
            None,
        ),  # urn:uuid only from subject ...
        ({"resourceType": "Consent", "patient": [{"reference": "Patient/p4"}]}, "p4"),
        ({"resourceType": "Observation", "subject": {"display": "no reference"}}, None),
        ({"resourceType": "Organization", "id": "o1"}, None),
    ],
)
def test_patient_id(resource: dict[str, object], expected: str | None) -> None:
    assert patient_id(resource) == expected


def test_an_earlier_element_naming_a_patient_wins() -> None:
    resource = {
        "resourceType": "Observation",
        "subject": {"reference": "Group/g1"},
        "patient": {"reference": "Patient/p5"},
    }
    assert patient_id(resource) == "p5"


def test_linked_encounter() -> None:
    assert linked_encounter_id({"encounter": {"reference": "Encounter/e1"}}) == "e1"
    assert linked_encounter_id({"context": {"encounter": [{"reference": "urn:x/Encounter/e2"}]}}) == "e2"
    assert linked_encounter_id({"context": [{"reference": "Encounter/e3/_history/1"}]}) == "e3"
    assert linked_encounter_id({"encounter": {"reference": "Location/l1"}}) is None
