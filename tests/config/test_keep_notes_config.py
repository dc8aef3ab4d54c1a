"""configs/hipaa-safe-harbor-keep-notes.json: the strict profile with clinical free text scrubbed, not deleted."""

from __future__ import annotations

import base64
import importlib.util
import json
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from anonymizer.engine import Anonymizer
from anonymizer.text import collect_identifiers
from tests.strong_keys import DATE_KEY, ENCRYPT_KEY, HASH_KEY

REPO = Path(__file__).parents[2]
STRICT = REPO / "configs" / "hipaa-safe-harbor.json"
KEEP_NOTES = REPO / "configs" / "hipaa-safe-harbor-keep-notes.json"
PID = "5f1e8a7c-0d2b-4c3e-9a41-6b7d8e9f0a12"


def _derive() -> ModuleType:
    spec = importlib.util.spec_from_file_location("derive_configs", REPO / "scripts" / "derive_configs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rules(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text())["fhirPathRules"]


@pytest.fixture()
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FHIR_ANONYMIZER_CRYPTO_HASH_KEY", HASH_KEY)
    monkeypatch.setenv("FHIR_ANONYMIZER_DATE_SHIFT_KEY", DATE_KEY)
    monkeypatch.setenv("FHIR_ANONYMIZER_ENCRYPT_KEY", ENCRYPT_KEY)


def test_shipped_files_are_what_the_script_derives() -> None:
    derive = _derive()
    assert json.loads(KEEP_NOTES.read_text()) == derive.safe_harbor(keep_notes=True)
    assert json.loads(STRICT.read_text()) == derive.safe_harbor()


def test_only_free_text_rules_differ_and_scrub_rules_come_first() -> None:
    strict, notes = _rules(STRICT), _rules(KEEP_NOTES)
    kept = [r for r in notes if r["method"] != "scrubText"]
    scrubbed_paths = {r["path"] for r in notes if r["method"] == "scrubText"}
    # every other rule is the strict profile's, in the same order; replaced rules were free-text redactions
    assert kept == [r for r in strict if r not in ({"path": p, "method": "redact"} for p in scrubbed_paths)]
    for path in (
        "nodesByType('Narrative')",
        "nodesByType('CodeableConcept').text",
        "nodesByType('Attachment').data",
    ):
        assert path in scrubbed_paths
    for path in (
        "nodesByType('Reference').display",
        "nodesByType('HumanName')",
        "nodesByType('Identifier').value",
    ):
        assert {"path": path, "method": "redact"} in notes
    # a scrubText rule for part of a container precedes the container's redaction (first rule wins per node)
    index = {(r["path"], r["method"]): i for i, r in enumerate(notes)}
    for container, parts in _derive().SCRUB_INSTEAD.items():
        if container not in parts:
            assert all(index[(p, "scrubText")] < index[(container, "redact")] for p in parts), container
    strict_doc, notes_doc = json.loads(STRICT.read_text()), json.loads(KEEP_NOTES.read_text())
    assert notes_doc["parameters"] == strict_doc["parameters"]
    assert "scrub" in notes_doc["description"] and "Reference.display" in notes_doc["description"]


def _patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": PID,
        "name": [{"family": "Okonkwo-Hale", "given": ["Marisol"]}],
        "telecom": [{"system": "phone", "value": "555-201-7788"}],
        "birthDate": "1961-03-03",
        "text": {
            "status": "generated",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml">Marisol <b>OKONKWO-HALE</b></div>',
        },
    }


def _resources() -> list[dict[str, Any]]:
    note = "2019-04-02\nMarisol\nOkonkwo-Hale, born March 3rd, 1961, call 555-201-7788. Stable hypertension."
    subject = {"reference": f"Patient/{PID}", "display": "Marisol Okonkwo-Hale"}
    return [
        {
            "resourceType": "DocumentReference",
            "id": "d1",
            "status": "current",
            "subject": subject,
            "content": [
                {
                    "attachment": {
                        "contentType": "text/plain",
                        "data": base64.b64encode(note.encode()).decode(),
                    }
                },
                {
                    "attachment": {
                        "contentType": "application/pdf",
                        "data": base64.b64encode(b"%PDF-1").decode(),
                    }
                },
            ],
        },
        {
            "resourceType": "Observation",
            "id": "o1",
            "status": "final",
            "code": {"text": "Comment on Marisol's smoking"},
            "subject": subject,
            "valueString": "MARISOL quit in 2001",
            "note": [{"authorString": "Dr. Feld", "time": "2019-04-02T10:00:00Z", "text": "Marisol agrees."}],
        },
        {
            "resourceType": "Observation",
            "id": "o2",
            "status": "final",
            "code": {"text": "Body weight"},
            "subject": subject,
            "valueQuantity": {"value": 71.5, "unit": "kg"},
        },
    ]


def test_notes_are_scrubbed_where_the_strict_profile_deletes_them(keys: None) -> None:
    as_of = date(2026, 1, 1)
    notes = Anonymizer.from_config_file(KEEP_NOTES, as_of=as_of)
    strict = Anonymizer.from_config_file(STRICT, as_of=as_of)
    ids = collect_identifiers([_patient()])
    doc, obs, weight = (notes.anonymize(r, patient_identifiers=ids) for r in _resources())
    text = base64.b64decode(doc["content"][0]["attachment"]["data"]).decode()
    assert text == "2019\n[NAME], born 1961, call [PHONE]. Stable hypertension."
    assert "data" not in doc["content"][1]["attachment"]  # not text: removed
    assert "display" not in doc["subject"]
    assert (
        obs["valueString"] == "[NAME] quit in 2001" and obs["code"]["text"] == "Comment on [NAME]'s smoking"
    )
    assert obs["note"] == [{"time": "2019", "text": "[NAME] agrees."}]
    assert weight["valueQuantity"]["value"] == 71.5 and weight["code"]["text"] == "Body weight"
    patient = notes.anonymize(_patient(), patient_identifiers=ids)
    div = patient["text"]["div"]  # a name split by markup is one value: one placeholder, markup kept
    assert (
        patient["text"]["status"] == "generated"
        and div.endswith(">[NAME]<b /></div>")
        and "name" not in patient
    )
    s_doc, s_obs, _ = (strict.anonymize(r) for r in _resources())
    assert "data" not in s_doc["content"][0]["attachment"] and "valueString" not in s_obs
    assert "code" not in s_obs and "text" not in s_obs["note"][0]


#: An output JSON path that each type-wide scrubText rule writes.
_TYPE_WIDE = {
    "nodesByType('CodeableConcept').text": "Condition.code.text",
    "nodesByType('Narrative')": "Patient.text.div",
    "nodesByType('Annotation').text": "Condition.note.text",
    "nodesByType('Attachment').data": "DocumentReference.content.attachment.data",
}


def test_verify_treats_every_scrubbed_element_as_free_text() -> None:
    """Verify never explains a match in scrubbed text away as 'the same value is in the source there'."""
    from anonymizer.verify.candidates import is_free_text_path

    for rule in _rules(KEEP_NOTES):
        if rule["method"] != "scrubText":
            continue
        path = _TYPE_WIDE.get(rule["path"]) or rule["path"]
        path = path.replace(".value.ofType(string)", ".valueString").replace(
            ".content.ofType(string)", ".contentString"
        )
        assert is_free_text_path(path), rule["path"]
