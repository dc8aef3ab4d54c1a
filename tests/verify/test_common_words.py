"""Common and clinical words that are also surnames ("Hand", "White"): exempt as the scrubber keeps them, while
the patient's full name, or a name part that is not such a word, is still a leak in the same elements."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from anonymizer.text.common_words import COMMON_WORD, SHORT_TOKEN, kept_alone_reason
from anonymizer.verify.leak_audit import LeakAuditResult
from tests.verify.builders import run_audit

pytestmark = pytest.mark.spark
AS_OF = date(2026, 1, 1)

PATIENTS = [
    {"resourceType": "Patient", "id": "p-hand", "name": [{"family": "Hand", "given": ["Marisol"]}]},
    {"resourceType": "Patient", "id": "p-white", "name": [{"family": "White", "given": ["Ezekiel"]}]},
]


def _condition(cid: str, patient: str, text: str) -> dict[str, Any]:
    return {"resourceType": "Condition", "id": cid, "subject": {"reference": f"Patient/{patient}"},
            "code": {"text": text}, "note": [{"text": text}]}  # fmt: skip


def _audit(spark: Any, output: list[dict[str, Any]]) -> LeakAuditResult:
    return run_audit(spark, PATIENTS, output, AS_OF)


def test_the_scrubber_and_verify_share_the_reason() -> None:
    assert kept_alone_reason("Hand") == kept_alone_reason("white") == COMMON_WORD
    assert kept_alone_reason("Li") == SHORT_TOKEN
    assert kept_alone_reason("Marisol") is None and kept_alone_reason("Hand254") is None


def test_clinical_words_are_exempt_with_their_reason(spark: Any) -> None:
    output = [
        _condition("c1", "x1", "Laceration of hand"),
        {"resourceType": "Observation", "id": "o1", "subject": {"reference": "Patient/x2"},
         "code": {"text": "Egg white IgE Ab in Serum"}},
    ]  # fmt: skip
    audit = _audit(spark, output)
    assert audit.leaks == 0, audit.hits
    assert {(f["resource_type"], f["path"]) for f in audit.hits} == {
        ("Condition", "Condition.code.text"), ("Condition", "Condition.note.text"),
        ("Observation", "Observation.code.text"),
    }  # fmt: skip
    assert all(f["exempt"] and f["reason"] == COMMON_WORD for f in audit.hits)
    assert audit.exempt_words == [
        {"word": "hand", "reason": COMMON_WORD, "hits": 1},
        {"word": "white", "reason": COMMON_WORD, "hits": 1},
    ]


def test_a_real_name_in_the_same_places_is_still_a_leak(spark: Any) -> None:
    output = [
        _condition("c1", "x1", "Laceration of hand, Marisol Hand was seen"),
        _condition("c2", "x1", "Seen by Ezekiel"),
        # the common word kept where the name was harvested from is never exempt
        {"resourceType": "Patient", "id": "x1", "name": [{"family": "White"}]},
    ]
    audit = _audit(spark, output)
    leaks = {(f["resource_type"], f["path"]) for f in audit.hits if not f["exempt"]}
    assert leaks == {
        ("Condition", "Condition.code.text"), ("Condition", "Condition.note.text"), ("Patient", "Patient.name.family"),
    }  # fmt: skip
    assert audit.leaks == 2 + 2 + 1  # c1 and c2 at both text paths, the Patient name
