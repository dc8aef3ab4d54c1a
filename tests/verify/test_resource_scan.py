"""The output pass's single walk (:class:`OutputScanner`) gives exactly what the four reference walks give."""

from __future__ import annotations

import base64
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from anonymizer.verify import resource_scan
from anonymizer.verify.candidates import value_keys
from anonymizer.verify.precision_checks import Promises
from anonymizer.verify.resource_scan import OutputScanner, reference_scan

ROOT = Path(__file__).resolve().parents[2]
AS_OF = date(2026, 12, 2)
PROMISES = [
    Promises(dates="year", zip="zip3", ages=True, restricted_zip3=("036", "059")),
    Promises(dates="removed", zip="removed", ages=True, restricted_zip3=()),
    Promises(dates="shifted", zip="kept", ages=False, restricted_zip3=()),
]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


#: Hand-made resources with every shape a check treats specially (the values are made up).
EDGE_CASES: list[dict[str, Any]] = [
    {"resourceType": "DocumentReference", "id": "d", "subject": {"reference": "Patient/x"},
     "description": "Seen 2019-03-04, SSN last four 8662, a 93-year-old; MRN #A-4471-2210 call (555) 810-7203",
     "content": [{"attachment": {"contentType": "text/plain", "data": _b64("Jane Roe born 1931-02-03, 02138")}},
                 {"attachment": {"contentType": "image/png", "data": _b64("\x89PNG binary")}},
                 {"attachment": {"title": "x", "data": "!!not base64!!"}},
                 {"other": {"data": _b64("born 2001-01-01")}}]},
    {"resourceType": "Patient", "id": "p", "birthDate": "1931-05-06", "deceasedDateTime": "2020",
     "photo": [{"url": "http://example.org/p.png"}], "active": True, "multipleBirthInteger": 2,
     "address": [{"line": ["12 Main St"], "postalCode": "3600", "city": "Boston"},
                 {"postalCode": 3600}, {"postalCode": "02138-1234"}, {"postalCode": ["0213"]}, {"postalCode": True}],
     "extension": [{"url": "latitude", "valueDecimal": 42.3601}, {"url": "longitude", "valueDecimal": -71.0}],
     "name": [{"family": "Castañeda", "given": ["Sumiko254"], "text": "Sumiko254 Castañeda"}],
     "meta": {"security": [{"system": "s", "code": "REDACTED"}], "profile": ["http://x/2019-01-01"]}},
    {"resourceType": "Observation", "id": "o", "subject": {"reference": "Patient/p"},
     "valueQuantity": {"value": 1200, "unit": "mo"}, "component": [{"valueQuantity": {"value": 95, "code": "a"}},
                                                                   {"valueQuantity": {"value": 33000, "unit": "d"}},
                                                                   {"valueQuantity": {"value": 91.5, "unit": "yr"}}],
     "effectiveDateTime": "2019-03-04T10:11:12+01:00", "issued": "2019-03", "note": [{"text": "on 3/4/2019"}],
     "system": {"nested": "2019-01-01", "value": 100, "unit": "years", "postalCode": "1234"},
     "code": {"coding": [{"system": "http://loinc.org", "code": "66519-0", "display": "Age"}]},
     "resourceType2": {"resourceType": {"value": "1.2.840.99999999.1.2.3.4", "postalCode": "123"}}},
    {"resourceType": "ImagingStudy", "id": "i", "subject": {"reference": "Patient/p"},
     "identifier": [{"system": "urn:dicom:uid", "value": "urn:oid:1.2.840.99999999.56191522.1588766265703"}],
     "series": [{"uid": "1.2.840.99999999.1.29099167.1588766265703", "number": 1.0, "ratio": 0.25,
                 "instance": [{"uid": "2.25.1234567890", "sopClass": {"code": "1.2.840.10008.5.1.4.1.1.1.1"}}]}]},
    {"resourceType": "DetectedIssue", "id": "x", "patient": {"reference": "Patient/p"}, "detail": "tel 555-810-7203",
     "text": {"div": "<div>Sumiko254 Larue605, 999-88-8662 born 01/02/1930</div>"}, "nothing": None},
    {"resourceType": "Organization", "id": "org", "address": [{"postalCode": "036"}, {"postalCode": "3600"}]},
]  # fmt: skip


#: Lines taken from each file of the 10-patient sample: every resource type, and enough repeats for the memos.
_LINES_PER_FILE = 150


def _sample_resources() -> list[dict[str, Any]]:
    out = list(EDGE_CASES)
    for path in sorted((ROOT / "examples" / "synthea-10-patients").glob("*.ndjson")):
        lines = [line for line in path.read_bytes().splitlines() if line.strip()]
        out.extend(orjson.loads(line) for line in lines[:_LINES_PER_FILE])
    return out


_REFERENCE: dict[tuple[int, int, bool, bool], Any] = {}


def _reference(promises: Promises, index: int, resource: dict[str, Any], person: bool, searched: bool) -> Any:
    """The four reference walks' result, computed once per resource and promise (it does not depend on memos)."""
    key = (PROMISES.index(promises), index, person, searched)
    if key not in _REFERENCE:
        zip_exempt = frozenset() if searched else frozenset({"Organization"})
        _REFERENCE[key] = reference_scan(
            resource, _all_keys, promises, AS_OF, zip_exempt, person=person, searched_only=searched
        )
    return _REFERENCE[key]


def _all_keys(value: str | float) -> list[tuple[str, str]]:
    """Every match key (no Bloom filter), so every candidate is compared."""
    return sorted(value_keys(value))


@pytest.mark.parametrize("promises", PROMISES, ids=lambda p: f"{p.dates}-{p.zip}")
@pytest.mark.parametrize("memo_max", [200_000, 50], ids=["memo", "small-memo"])
def test_one_walk_equals_the_reference_walks(
    promises: Promises, memo_max: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resource_scan, "_MEMO_MAX", memo_max)  # 50: the generations turn over many times
    scanner = OutputScanner(_all_keys, promises, AS_OF, frozenset({"Organization"}))
    resources = _sample_resources()
    assert len(resources) > 100
    compared = 0
    for _ in range(2):  # the second round answers from the memos
        for index, resource in enumerate(resources):
            for person in (True, False):
                got = scanner.scan(resource, person=person)
                want = _reference(promises, index, resource, person, searched=False)
                assert (got.candidates, got.leaves, got.precision, got.ident) == (
                    want.candidates, want.leaves, want.precision, want.ident
                ), resource.get("resourceType")  # fmt: skip
                compared += len(want.candidates) + len(want.leaves)
            view = scanner.scan(resource, person=False, searched_only=True)
            ref = _reference(promises, index, resource, False, searched=True)
            assert view.candidates == ref.candidates
            assert not (view.leaves or view.precision or view.ident)
    assert compared > 10_000


def test_the_edge_cases_exercise_every_check() -> None:
    """The hand-made resources make each check find something, so the equality above is not vacuous."""
    promises = PROMISES[0]
    scanner = OutputScanner(_all_keys, promises, AS_OF, frozenset({"Organization"}))
    checks = set()
    for resource in EDGE_CASES:
        scan = scanner.scan(resource, person=True)
        checks |= {check for check, _path in scan.precision} | {check for check, _path in scan.ident}
    assert {"date_precision", "date_in_text", "age_over_89", "birth_year_over_89", "zip_not_3_digits",
            "image", "dicom_uid", "id_in_text", "ssn_in_text", "age_in_text", "zip_4_digits"} <= checks  # fmt: skip
