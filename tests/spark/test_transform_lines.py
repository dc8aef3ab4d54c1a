"""The per-line classification of the transform, without Spark: an engine bug quarantines the line."""

from __future__ import annotations

from typing import Any

import pytest

from anonymizer.fhir.patient import patient_id
from anonymizer.spark import line_schema as ls
from anonymizer.spark.transform import TransformOptions, process_line


class _BrokenEngine:
    processing_errors = "raise"

    def anonymize_raising(self, resource: dict[str, Any], **_: Any) -> dict[str, Any]:
        raise KeyError(resource["name"][0]["family"])  # a bug whose message would carry PHI


def test_an_unexpected_engine_exception_quarantines_the_line_without_its_message() -> None:
    line = '{"resourceType":"Patient","id":"p","name":[{"family":"Sumiko254"}]}'
    row = process_line(
        line,
        _BrokenEngine(),
        "Patient.000.ndjson",
        TransformOptions(),
        frozenset({"Patient"}),
        patient_id,
        "f:1",
    )
    assert row["status"] == ls.STATUS_QUARANTINED
    assert row["reason"] == ls.ENGINE_ERROR
    assert "KeyError" in row["detail"] and "Sumiko" not in row["detail"]
    assert row["raw_line"] == line  # kept, in the quarantine only


@pytest.mark.parametrize("remembering", [False, True], ids=["shared_patient_id", "SharedPatientIds"])
def test_patient_key_of_shared_results_read_through_memoised_elements(remembering: bool) -> None:
    """With the engine's shared results, a memoised ``subject`` comes back as JSON text (``orjson.Fragment``):
    the patient key is still the hashed Patient id, for the first resource and for the ones from the memo (also
    when the decoded Fragments are remembered, as the transform does, and when they are forgotten at the limit)."""
    from datetime import date
    from pathlib import Path

    import orjson

    from anonymizer.engine import Anonymizer
    from anonymizer.spark.transform import SharedPatientIds, shared_patient_id
    from tests.strong_keys import DATE_KEY, ENCRYPT_KEY, HASH_KEY

    root = Path(__file__).parents[2]
    config = orjson.loads((root / "configs" / "hipaa-safe-harbor.json").read_bytes())
    config["parameters"].update(cryptoHashKey=HASH_KEY, dateShiftKey=DATE_KEY, encryptKey=ENCRYPT_KEY)
    engine = Anonymizer.from_config(config, as_of=date(2026, 1, 1), base_dir=root / "configs")
    hashed = {p: engine.anonymize_raising({"resourceType": "Patient", "id": p})["id"] for p in ("p1", "p2")}
    key_of = SharedPatientIds(limit=1) if remembering else shared_patient_id
    rows = []
    for n in range(6):
        resource = {
            "resourceType": "Observation",
            "id": f"o{n}",
            "status": "final",
            "code": {"text": "x"},
            "subject": {"reference": f"Patient/p{n % 2 + 1}"},
            "performer": [{"reference": "Practitioner/d1"}],
        }
        line = orjson.dumps(resource).decode()
        rows.append(
            process_line(
                line,
                engine,
                "Observation.ndjson",
                TransformOptions(),
                ls.r4_resource_types(),
                key_of,
                "f:1",
            )  # fmt: skip
        )
    assert all(r["status"] == ls.STATUS_OK for r in rows)
    assert [r["patient_key"] for r in rows] == [hashed[f"p{n % 2 + 1}"] for n in range(6)]
    assert all(
        orjson.loads(r["resource_json"])["subject"]["reference"] == f"Patient/{r['patient_key']}"
        for r in rows
    )
