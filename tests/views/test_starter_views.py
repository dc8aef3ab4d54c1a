"""The shipped starter views over Synthea resources de-identified with the strict Safe Harbor profile."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from anonymizer.engine import Anonymizer
from anonymizer.views.materialize import load_views
from anonymizer.views.runner import evaluate_many

REPO = Path(__file__).resolve().parents[2]
SLICE = REPO / "tests" / "fixtures" / "views" / "synthea-one-patient.ndjson"
STRICT = REPO / "configs" / "hipaa-safe-harbor.json"

pytestmark = pytest.mark.spark


def _raw() -> list[dict[str, Any]]:
    resources = [json.loads(line) for line in SLICE.read_text().splitlines()]
    patient = resources[0]
    # This export predates US Core race/ethnicity in Synthea: add them in the shape newer Synthea writes.
    patient["extension"] = [
        {
            "url": f"http://hl7.org/fhir/us/core/StructureDefinition/us-core-{kind}",
            "extension": [
                {
                    "url": "ombCategory",
                    "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": code},
                },
                {"url": "text", "valueString": text},
            ],
        }
        for kind, code, text in (
            ("race", "2106-3", "White"),
            ("ethnicity", "2186-5", "Not Hispanic or Latino"),
        )
    ] + patient.get("extension", [])
    claim = next(r for r in resources if r["resourceType"] == "Claim")
    # The sample has no ExplanationOfBenefit: one in Synthea's shape, for the patient and the first claim.
    resources.append(
        {
            "resourceType": "ExplanationOfBenefit",
            "id": "eob-1",
            "status": "active",
            "type": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}
                ]
            },
            "use": "claim",
            "patient": {"reference": f"Patient/{patient['id']}"},
            "created": "2019-03-04T10:00:00-05:00",
            "insurer": {"display": "Aetna"},
            "provider": {"reference": "Practitioner/x"},
            "claim": {"reference": f"Claim/{claim['id']}"},
            "outcome": "complete",
            "insurance": [{"focal": True, "coverage": {"display": "Aetna"}}],
            "item": [
                {
                    "sequence": 1,
                    "productOrService": {
                        "coding": [{"system": "http://snomed.info/sct", "code": "185349003"}]
                    },
                    "servicedPeriod": {
                        "start": "2019-03-04T10:00:00-05:00",
                        "end": "2019-03-04T10:15:00-05:00",
                    },
                    "net": {"value": 125.5, "currency": "USD"},
                }
            ],
            "payment": {"amount": {"value": 100.4, "currency": "USD"}},
        }
    )
    return resources


@pytest.fixture(scope="module")
def rows(spark: object) -> dict[str, list[dict[str, Any]]]:
    engine = Anonymizer.from_config_file(STRICT, allow_ephemeral_keys=True)
    research = [engine.anonymize(r) for r in _raw()]
    views = load_views([str(REPO / "views")])
    outcomes = evaluate_many(views, research, spark=spark)  # type: ignore[arg-type]
    out: dict[str, list[dict[str, Any]]] = {}
    for view, outcome in zip(views, outcomes, strict=True):
        assert not isinstance(outcome, Exception), (view.name, outcome)
        out[view.name] = outcome
    return out


def test_every_starter_view_has_rows(rows: dict[str, list[dict[str, Any]]]) -> None:
    empty = [name for name, result in rows.items() if not result]
    assert not empty, empty
    assert len(rows["patient"]) == 1
    assert len(rows["observation_component"]) >= 2  # a panel's components, one row each


def test_views_join_to_patient_on_the_pseudonymized_key(rows: dict[str, list[dict[str, Any]]]) -> None:
    raw_patient_id = _raw()[0]["id"]
    patient_key = rows["patient"][0]["id"]
    assert patient_key and patient_key != raw_patient_id
    for name, result in rows.items():
        if name != "patient":
            assert {r["patient_key"] for r in result} == {patient_key}, name
    encounter_ids = {r["id"] for r in rows["encounter"]}
    assert encounter_ids and all(r["encounter_key"] for r in rows["condition"])
    claim_ids = {r["claim_id"] for r in rows["claim_line"]}
    assert {r["claim_key"] for r in rows["eob_line"]} <= claim_ids


def test_only_safe_harbor_precision_reaches_the_views(rows: dict[str, list[dict[str, Any]]]) -> None:
    patient = rows["patient"][0]
    assert patient["gender"] in ("male", "female")
    assert patient["zip3"] is None or len(patient["zip3"]) == 3
    assert (patient["race_code"], patient["ethnicity_code"]) == ("2106-3", "2186-5")
    years = [v for result in rows.values() for r in result for k, v in r.items() if k.endswith("_year") and v]
    assert years and all(isinstance(y, int) and 1900 <= y <= 2100 for y in years)
    observation = rows["observation"]
    assert any(r["value_quantity"] is not None and r["value_unit"] for r in observation)
    assert all(r["code_code"] for r in observation)
    assert all(r["claim_total"] for r in rows["claim_line"])  # this export has totals, no line amounts
    assert any(r["line_net"] for r in rows["eob_line"])


def test_no_identifier_of_the_source_reaches_a_view(rows: dict[str, list[dict[str, Any]]]) -> None:
    raw = _raw()
    patient = raw[0]
    planted = {n.get("family") for n in patient.get("name", [])} | {
        i.get("value") for i in patient.get("identifier", [])
    }
    planted |= {a.get("city") for a in patient.get("address", [])} | {r["id"] for r in raw}
    planted.discard(None)
    values = {str(v) for result in rows.values() for r in result for v in r.values() if v is not None}
    assert planted and not (planted & values)
