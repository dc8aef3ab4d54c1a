"""The output pass's single walk (:class:`OutputScanner`) gives exactly what the four reference walks give."""

from __future__ import annotations

import base64
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from anonymizer.verify import memo, resource_scan, scan_walk
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
    monkeypatch.setattr(memo, "_MEMO_MAX", memo_max)  # 50: the generations turn over many times
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


# --- the whole output pass (pure Python): its aggregated records equal the reference functions' ---------------

_PASS_LINES_PER_FILE = 60


def _pass_rows() -> list[tuple[int, str, str | None, str | None, str | None]]:
    """Rows as the output pass reads them (``uid, rtype, patient_key, run_id, json``): sample and hand-made
    resources, with and without a patient key, of this run and an earlier one, and the odd rows."""
    resources = list(EDGE_CASES)
    for path in sorted((ROOT / "examples" / "synthea-10-patients").glob("*.ndjson")):
        lines = [line for line in path.read_bytes().splitlines() if line.strip()]
        resources.extend(orjson.loads(line) for line in lines[:_PASS_LINES_PER_FILE])
    rows: list[tuple[int, str, str | None, str | None, str | None]] = []
    for index, resource in enumerate(resources * 2):  # twice: the second time from the memos
        key = "pk" if index % 3 else None
        rows.append(
            (index, resource["resourceType"], key, "run-1" if index % 5 else "run-0", _dumps(resource))
        )
    odd = [
        ("view:flat", {"patient_name": "Sumiko254 Castañeda", "ssn": "999-88-8662", "lat": 42.3601}),
        (
            "view:flat",
            {"resourceType": "Patient", "note": "seen 2019-03-04", "x": [{"system": "s", "code": "c"}]},
        ),
        ("Observation", {"resourceType": 7, "id": "n", "valueString": "Castañeda 2019-03-04"}),
        ("Observation", {"id": "no-type", "birthDate": "1931-05-06"}),
        ("Basic", {"resourceType": "Observation", "id": "o2", "valueQuantity": {"value": 95, "unit": "a"}}),
        ("Observation", None),
    ]
    for offset, (rtype, resource) in enumerate(odd):
        rows.append((10_000 + offset, rtype, "pk", "run-1", None if resource is None else _dumps(resource)))
    rows.append((20_000, "Observation", None, "run-1", "{not json"))
    return rows


def _dumps(resource: dict[str, Any]) -> str:
    return orjson.dumps(resource).decode()


def _bloom(rows: list[tuple[int, str, str | None, str | None, str | None]]) -> Any:
    """A filter holding the match keys of every fourth row's values (so candidates pass, and others do not)."""
    from anonymizer.verify.bloom import KeyBloom
    from anonymizer.verify.candidates import resource_values
    from anonymizer.verify.passes import _parse

    bloom = KeyBloom.sized_for(200_000)
    for _uid, _rtype, _key, _run, text in rows[::4]:
        resource = _parse(text)
        if resource is not None:
            for _path, value in resource_values(resource):
                for kind, norm in value_keys(value):
                    bloom.add(kind, norm)
    return bloom


def _aggregate(records: Any) -> tuple[Counter[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """Summed ``n`` per record key, and the ``cand`` records as a set (the leak audit takes them distinct)."""
    sums: Counter[tuple[Any, ...]] = Counter()
    cands: set[tuple[Any, ...]] = set()
    for record in records:
        if record[0] == "cand":
            cands.add(record)
        else:
            sums[record[:8]] += record[8]
    return sums, cands


def _reference_records(rows: Any, bloom: Any, promises: Promises, run_id: str) -> Any:
    """What the output pass must emit, from :func:`reference_scan` row by row (no memo, no Bloom shortcut)."""
    from anonymizer.verify.changes import security_codes
    from anonymizer.verify.harvest import PERSON_TYPES
    from anonymizer.verify.passes import _parse, record_digest

    def keys_of(value: str | float) -> list[tuple[str, str]]:
        return [key for key in value_keys(value) if key in bloom]

    out: list[tuple[Any, ...]] = []
    for uid, rtype, patient_key, row_run, text in rows:
        view = rtype.startswith("view:")
        if not view and row_run == run_id:
            out.append(("rows", rtype, None, None, None, None, None, None, 1, None))
        resource = _parse(text)
        if resource is None:
            continue
        person = rtype in PERSON_TYPES or patient_key is not None
        scan = reference_scan(
            resource, keys_of, promises, AS_OF, frozenset({"Organization"}), person=person, searched_only=view
        )
        out.extend(("cand", rtype, path, kind, norm, None, None, record_digest(digest), None, uid)
                   for kind, norm, path, digest in scan.candidates)  # fmt: skip
        if view:
            continue
        own = str(resource.get("resourceType"))
        out.extend(("leaf", own, path, None, None, None, None, record_digest(digest), n, None)
                   for (path, digest), n in scan.leaves.items())  # fmt: skip
        out.extend(
            ("label", rtype, None, None, code, None, None, None, 1, None) for code in security_codes(resource)
        )
        for rec, found in (("precision", scan.precision), ("ident", scan.ident)):
            out.extend(
                (rec, rtype, path, check, None, None, None, None, n, None)
                for (check, path), n in found.items()
            )
    return _aggregate(out)


@pytest.mark.parametrize("promises", PROMISES, ids=lambda p: f"{p.dates}-{p.zip}")
@pytest.mark.parametrize("small", [False, True], ids=["limits", "small-limits"])
def test_the_output_pass_records_equal_the_reference(
    promises: Promises, small: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pass's records (element memo, counts drained per batch and at flushes), aggregated as verify aggregates
    them, are the reference functions' (with small limits the memos turn over, keys stop being memoised, and the
    counters are drained and flushed many times within a partition)."""
    import pyarrow as pa

    from anonymizer.verify import passes

    if small:
        monkeypatch.setattr(memo, "_MEMO_MAX", 50)
        monkeypatch.setattr(resource_scan, "_ENTRIES_MAX", 40)
        monkeypatch.setattr(resource_scan, "MEMO_TRIAL", 20)
        monkeypatch.setattr(scan_walk, "MEMO_TRIAL", 20)
        monkeypatch.setattr(passes, "_PENDING", 30)
        monkeypatch.setattr(passes, "_FLUSH_KEYS", 100)
    rows = _pass_rows()
    bloom = _bloom(rows)
    names = ("uid", "rtype", "patient_key", "run_id", "json")
    schema = pa.schema([("uid", pa.int64())] + [(name, pa.string()) for name in names[1:]])
    batches = [
        pa.RecordBatch.from_arrays([pa.array(column) for column in zip(*rows[i : i + 97], strict=True)],
                                   schema=schema)
        for i in range(0, len(rows), 97)
    ]  # fmt: skip
    run = passes._output_partition(bloom, promises, AS_OF, frozenset({"Organization"}), "run-1")
    got = [record for batch in run(iter(batches)) for record in zip(*batch.to_pydict().values(), strict=True)]
    sums, cands = _aggregate(got)
    want_sums, want_cands = _reference_records(rows, bloom, promises, "run-1")
    assert sums == want_sums
    assert cands == want_cands
    assert len(cands) > 100 and {key[0] for key in sums} >= {"rows", "leaf", "label", "precision", "ident"}


def test_plain_keys_are_the_match_keys() -> None:
    """The regex-free keys of id-shaped text equal :func:`value_keys`; other text is left to it."""
    import random

    from anonymizer.verify.passes import plain_keys

    values = {value for resource in _sample_resources() for _path, value in _string_values(resource)}
    rng = random.Random(15)
    for _ in range(20_000):
        size = rng.choice([1, 2, 3, 5, 6, 7, 11, 12, 13, 30, 64, 199, 200, 201])
        values.add("".join(rng.choice("abcXZ0129/:-. é") for _ in range(size)))
        values.add(rng.choice(["Patient/", "urn:uuid:", "A/", "x1:", "1/", "12/", "a//", ""])
                   + "".join(rng.choice("abcA0129:/") for _ in range(size)))  # fmt: skip
        values.add(
            "/".join(rng.choice(["ab", "1", "12", "a1", "2024", "x"]) for _ in range(rng.choice([2, 3, 7])))
        )
    used = 0
    for value in values:
        keys = plain_keys(value)
        if keys is not None:
            used += 1
            assert len(keys) == len(set(keys)) and set(keys) == value_keys(value), value
    assert used > 3_000


def _string_values(obj: Any, path: str = "") -> Any:
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield key, key
            yield from _string_values(value, path)
    elif isinstance(obj, list):
        for value in obj:
            yield from _string_values(value, path)
    elif isinstance(obj, str):
        yield path, obj


def test_bloom_lookup_is_its_positions() -> None:
    """``key in bloom`` is true exactly when every position of the key is set (the lookup unpacks the digest)."""
    import random

    from anonymizer.verify.bloom import KeyBloom, _positions

    rng = random.Random(7)
    bloom = KeyBloom(1 << 12)  # small: about half the bits set, so both answers are frequent
    for i in range(300):
        bloom.add("words", f"w{i}")
    answers = set()
    for i in range(3_000):
        kind, norm = rng.choice(["words", "compact", "zip"]), f"w{i}" if i % 2 else str(rng.random())
        want = all(bloom.bits[p >> 3] & (1 << (p & 7)) for p in _positions(kind, norm, bloom.size))
        assert ((kind, norm) in bloom) == want
        answers.add(want)
    assert answers == {True, False}


def test_bloom_shapes_reject_only_keys_of_no_added_shape() -> None:
    """With the added keys' ``(kind, length)`` pairs, a key of another shape is rejected, whatever its bits; a key of
    an added shape gets the bit test's answer; every added key is still found."""
    import random

    from anonymizer.verify.bloom import KeyBloom, _positions

    rng = random.Random(11)
    added = [
        (rng.choice(["words", "compact"]), "".join(rng.choices("abc", k=rng.randint(3, 9))))
        for _ in range(300)
    ]
    shapes = frozenset((kind, len(norm)) for kind, norm in added)
    plain, shaped = KeyBloom(1 << 10), KeyBloom(1 << 10, shapes=shapes)  # most bits set
    for kind, norm in added:
        plain.add(kind, norm)
        shaped.add(kind, norm)
    assert all(key in shaped for key in added)
    rejected = 0
    for _ in range(5_000):
        kind = rng.choice(["words", "compact", "zip"])
        norm = "".join(rng.choices("abc", k=rng.randint(1, 12)))
        bits = all(plain.bits[p >> 3] & (1 << (p & 7)) for p in _positions(kind, norm, plain.size))
        assert ((kind, norm) in plain) == bits
        assert ((kind, norm) in shaped) == (bits and (kind, len(norm)) in shapes)
        rejected += bits and (kind, len(norm)) not in shapes
    assert rejected > 200  # keys the bits alone let through
