"""Contextual scrubText in the pipeline: each patient's values reach that patient's notes through the join."""

from __future__ import annotations

import base64
import json
from datetime import date
from pathlib import Path

import orjson
import pytest

from anonymizer.config import load_config
from anonymizer.spark.patient_context import needs_patient_identifiers
from anonymizer.spark.pipeline import DeidentifyRequest, run_deidentify
from anonymizer.spark.resource_format import resource_json
from tests.strong_keys import DATE_KEY, ENCRYPT_KEY, HASH_KEY

REPO = Path(__file__).parents[2]
KEEP_NOTES = REPO / "configs" / "hipaa-safe-harbor-keep-notes.json"


def _note(doc_id: str, pid: str, text: str) -> str:
    data = base64.b64encode(text.encode()).decode()
    return json.dumps(
        {
            "resourceType": "DocumentReference",
            "id": doc_id,
            "status": "current",
            "subject": {"reference": f"Patient/{pid}"},
            "content": [{"attachment": {"contentType": "text/plain", "data": data}}],
        }
    )


def _landing(root: Path) -> Path:
    landing = root / "landing"
    landing.mkdir()
    patients = [
        {"resourceType": "Patient", "id": "p1", "name": [{"family": "Okonkwo-Hale", "given": ["Marisol"]}]},
        {"resourceType": "Patient", "id": "p2", "name": [{"family": "Wrenfield", "given": ["Tobias"]}]},
    ]
    related = {
        "resourceType": "RelatedPerson",
        "id": "r1",
        "patient": {"reference": "Patient/p1"},
        "name": [{"family": "Solvay", "given": ["Ingrid"]}],
    }
    practitioner = {"resourceType": "Practitioner", "id": "dr1", "name": [{"family": "Feld"}]}
    (landing / "Patient.000.ndjson").write_text("\n".join(json.dumps(p) for p in patients) + "\n")
    (landing / "RelatedPerson.000.ndjson").write_text(json.dumps(related) + "\n")
    (landing / "Practitioner.000.ndjson").write_text(json.dumps(practitioner) + "\n")
    notes = [
        _note("d1", "p1", "note-A: MARISOL\nOkonkwo-Hale came with her sister Ingrid Solvay."),
        "{not json",
        _note("d2", "p2", "note-B: Tobias Wrenfield asked about Marisol Okonkwo-Hale."),
    ]
    (landing / "DocumentReference.000.ndjson").write_text("\n".join(notes) + "\n")
    return landing


@pytest.fixture()
def key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped config's key references set to strong test keys."""
    monkeypatch.setenv("FHIR_ANONYMIZER_CRYPTO_HASH_KEY", HASH_KEY)
    monkeypatch.setenv("FHIR_ANONYMIZER_DATE_SHIFT_KEY", DATE_KEY)
    monkeypatch.setenv("FHIR_ANONYMIZER_ENCRYPT_KEY", ENCRYPT_KEY)


@pytest.mark.spark
def test_patient_values_reach_only_that_patients_notes(spark, tmp_path: Path, key_env: None) -> None:
    request = DeidentifyRequest(
        input=str(_landing(tmp_path)),
        output=str(tmp_path / "research"),
        config=str(KEEP_NOTES),
        as_of=date(2026, 1, 1),
    )
    result = run_deidentify(request, spark)

    counts = result.summary.counts
    assert result.summary.reconciled
    assert {t: (c.lines_in, c.rows_out, c.quarantined) for t, c in counts.items()} == {
        "Patient": (2, 2, 0),
        "RelatedPerson": (1, 1, 0),
        "Practitioner": (1, 1, 0),
        "DocumentReference": (3, 2, 1),
    }, "every line once: in the output or in quarantine"
    quarantine = spark.read.format("delta").load(str(tmp_path / "research-quarantine" / "quarantine"))
    assert [(r.line_number, r.reason) for r in quarantine.collect()] == [(2, "malformed_json")]

    docs = spark.read.format("delta").load(str(tmp_path / "research" / "delta" / "DocumentReference"))
    texts = sorted(
        base64.b64decode(orjson.loads(r.j)["content"][0]["attachment"]["data"]).decode()
        for r in docs.select(resource_json(docs).alias("j")).collect()
    )
    assert texts == [
        "note-A: [NAME] came with her sister [NAME].",  # p1's and its RelatedPerson's names, via the join
        "note-B: [NAME] asked about Marisol Okonkwo-Hale.",  # p2's note: p1's values are not p2's context
    ]


def test_join_only_for_contextual_scrub_rules() -> None:
    def config(*rules: dict) -> object:
        return load_config({"fhirPathRules": list(rules), "parameters": {"dateShiftKey": DATE_KEY}})

    redact = {"path": "nodesByType('Narrative')", "method": "redact"}
    scrub = {"path": "nodesByType('Narrative')", "method": "scrubText"}
    assert not needs_patient_identifiers(config(redact))
    assert needs_patient_identifiers(config(redact, scrub))
    assert not needs_patient_identifiers(config({**scrub, "contextual": False}))


@pytest.mark.spark
def test_note_linked_only_through_its_encounter_gets_that_patients_context(
    spark, tmp_path: Path, key_env: None
) -> None:
    """Issue #16 point 7: no ``subject``, only ``context.encounter``: the encounter's patient is the context."""
    landing = tmp_path / "landing"
    landing.mkdir()
    patient = {
        "resourceType": "Patient",
        "id": "p3",
        "name": [{"family": "Marlowe-Brandt", "given": ["Quintessa"]}],
    }
    encounter = {"resourceType": "Encounter", "id": "e3", "status": "finished", "class": {"code": "AMB"},
                 "subject": {"reference": "Patient/p3"}}  # fmt: skip
    note = json.loads(_note("d3", "p3", "Quintessa Marlowe-Brandt seen in clinic."))
    del note["subject"]
    note["context"] = {"encounter": [{"reference": "Encounter/e3"}]}
    (landing / "Patient.000.ndjson").write_text(json.dumps(patient) + "\n")
    # the same Encounter exported twice must not duplicate the note
    (landing / "Encounter.000.ndjson").write_text((json.dumps(encounter) + "\n") * 2)
    (landing / "DocumentReference.000.ndjson").write_text(json.dumps(note) + "\n")
    request = DeidentifyRequest(
        input=str(landing), output=str(tmp_path / "research"), config=str(KEEP_NOTES), as_of=date(2026, 1, 1)
    )
    result = run_deidentify(request, spark)
    assert result.summary.reconciled
    assert result.summary.counts["DocumentReference"].lines_in == 1
    docs = spark.read.format("delta").load(str(tmp_path / "research" / "delta" / "DocumentReference"))
    rows = docs.select(resource_json(docs).alias("j")).collect()
    assert len(rows) == 1
    text = base64.b64decode(orjson.loads(rows[0].j)["content"][0]["attachment"]["data"]).decode()
    assert text == "[NAME] seen in clinic."


def test_linked_encounter_id() -> None:
    from anonymizer.fhir.patient import linked_encounter_id

    assert linked_encounter_id({"context": {"encounter": [{"reference": "Encounter/e1"}]}}) == "e1"
    assert linked_encounter_id({"encounter": {"reference": "https://x/fhir/Encounter/e2/_history/3"}}) == "e2"
    assert linked_encounter_id({"context": {"reference": "Encounter/e4"}}) == "e4"
    assert linked_encounter_id({"context": {"encounter": [{"reference": "Patient/p"}]}}) is None
