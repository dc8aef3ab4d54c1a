"""Fixtures for the text-scrubbing tests: a synthetic patient with every kind of identifying value."""

from __future__ import annotations

from typing import Any

import pytest

from anonymizer.text import PatientIdentifiers, TextScrubber, collect_identifiers


def make_patient() -> dict[str, Any]:
    """A synthetic Patient with names, telecom, address, identifiers, birth date, contact and extensions."""
    return {
        "resourceType": "Patient",
        "id": "7d2f0a4e-1b3c-4d5e-8f90-123456789abc",
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName",
                "valueString": "Rosalind Quigley",
            },
            {
                "url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
                "valueAddress": {"city": "Wichita", "state": "Kansas", "country": "US"},
            },
        ],
        "identifier": [
            {"type": {"coding": [{"code": "MR"}]}, "value": "MRN-4477120"},
            {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-72-4410"},
            {"type": {"coding": [{"code": "DL"}]}, "value": "S99912345"},
        ],
        "name": [
            {"use": "official", "family": "Bartholomew", "given": ["Evangeline", "Jo"], "prefix": ["Mrs."]}
        ],
        "telecom": [
            {"system": "phone", "value": "555-342-8876"},
            {"system": "email", "value": "evie.bart@example.net"},
        ],
        "birthDate": "1961-03-03",
        "address": [
            {"line": ["4417 Quenton Crossing"], "city": "Emporia", "state": "KS", "postalCode": "66801"}
        ],
        "contact": [
            {"name": {"family": "Bartholomew", "given": ["Theodore"]}, "telecom": [{"value": "555-342-0001"}]}
        ],
    }


@pytest.fixture
def patient() -> dict[str, Any]:
    """The synthetic Patient resource."""
    return make_patient()


@pytest.fixture
def ids() -> PatientIdentifiers:
    """Identifiers of the synthetic patient."""
    return collect_identifiers([make_patient()])


@pytest.fixture
def scrubber() -> TextScrubber:
    """A scrubber with default settings (placeholders for dates)."""
    return TextScrubber()
