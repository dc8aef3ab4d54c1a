"""The per-line classification of the transform, without Spark: an engine bug quarantines the line."""

from __future__ import annotations

from typing import Any

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
