"""The source pass's single walk (:class:`SourceScanner`) gives exactly what the three reference walks give."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from anonymizer.verify import source_scan
from anonymizer.verify.changes import leaf_values
from anonymizer.verify.harvest import harvest_resource, is_person_linked
from anonymizer.verify.precision_checks import date_decades
from anonymizer.verify.source_scan import SourceScanner
from tests.verify.test_resource_scan import EDGE_CASES

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = [
    ROOT / "examples" / "synthea-10-patients",
    Path("/work/shared/data/synthea/bulk-data-server-export-100-patients"),  # more types, when present
]
_LINES_PER_FILE = 150

#: Shapes the source walk treats specially (values made up): contained resources and Bundle entries (not
#: harvested, but compared and counted by decade), nested ``resourceType``, lists of lists, an ``id`` list, two
#: labels for one key at one path (the first one of a resource wins), a relative's name, a device, a photo.
SOURCE_EDGE_CASES: list[dict[str, Any]] = [
    {"resourceType": "Observation", "id": "obs-000000000001", "subject": {"reference": "Patient/p1"},
     "contained": [{"resourceType": "Patient", "id": "inner", "name": [{"family": "Hidden", "given": ["Ann"]}],
                    "birthDate": "1950-01-02"}, "2001-02-03"],
     "extension": [{"url": "x", "valueString": "1999-12-31T10:00:00Z"}, [["2010-01-01", 5, None, {"a": "1980"}]]],
     "telecom": [{"system": "other", "value": "ab-12345678"}, {"system": "urn:x", "value": "AB 12345678"}],
     "resource": {"resourceType": {"nested": "1960-05-05"}, "id": "x"}, "nothing": None, "flag": True,
     "valueQuantity": {"value": 1.0, "unit": "a"}, "issued": "2019-03-04T10:11:12+01:00"},
    {"resourceType": "Observation", "id": ["2019-03-04-list-id"], "patient": [{"reference": "Patient/p1"}]},
    {"resourceType": "Bundle", "id": "b", "entry": [{"resource": {"resourceType": "Patient", "id": "q",
                                                                  "birthDate": "1940-01-01"}}]},
    {"resourceType": "FamilyMemberHistory", "id": "fmh-123456", "name": "Jo Bloggs", "date": "2000-01-01",
     "patient": {"reference": "urn:uuid:abc", "display": "Mr Sumiko254 Larue605"}},
    {"resourceType": "Device", "id": "2020-01-01-device", "patient": {"reference": "Patient/p1"},
     "serialNumber": "SN-998877", "lotNumber": "LOT 4455", "udiCarrier": [{"carrierHRF": "(01)0088"}]},
    {"resourceType": "Patient", "id": "p-123456", "photo": [{"data": "aGVsbG8=", "contentType": "image/png"}],
     "identifier": [{"type": {"coding": [{"code": "SS"}]}, "value": "999-88-8662"},
                    {"type": {"coding": [{"code": "MR"}]}, "value": "999-88-8662"}],
     "telecom": [{"system": "phone", "value": "+1 555 810 7203"}, {"system": "email", "value": "a@b.example"}]},
    {"resourceType": "1990", "id": "odd-type-1", "subject": {"reference": "Patient/p1"}},
    {"resourceType": "Organization", "id": "org-1", "name": "Boston Clinic",
     "address": [{"city": "Boston", "postalCode": "02138"}], "date": "2001-01-01"},
]  # fmt: skip


def _sample_resources() -> list[dict[str, Any]]:
    out = list(EDGE_CASES) + list(SOURCE_EDGE_CASES)
    for folder in SAMPLES:
        for path in sorted(folder.glob("*.ndjson")):
            with path.open("rb") as lines:
                for number, line in enumerate(lines):
                    if number >= _LINES_PER_FILE:
                        break
                    if line.strip():
                        out.append(orjson.loads(line))
    return out


def _reference(resources: list[dict[str, Any]]) -> tuple[Counter[Any], Counter[str], list[set[Any]]]:
    leaves: Counter[tuple[str, str, bytes]] = Counter()
    decades: Counter[str] = Counter()
    harvested = []
    for resource in resources:
        rtype = resource["resourceType"]
        for (path, digest), n in leaf_values(resource).items():
            leaves[(rtype, path, digest)] += n
        if is_person_linked(resource):
            decades.update(date_decades(resource))
        harvested.append({tuple(h) for h in harvest_resource(resource)})
    return leaves, decades, harvested


@pytest.mark.parametrize("memo", [(100_000, 2_000_000, 256), (7, 40, 4)], ids=["memo", "small-memo"])
def test_one_walk_equals_the_reference_walks(
    memo: tuple[int, int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # small: the generations turn over many times, and most places soon stop memoising
    monkeypatch.setattr(source_scan, "_MEMO_ENTRIES", memo[0])
    monkeypatch.setattr(source_scan, "_MEMO_LEAVES", memo[1])
    monkeypatch.setattr(source_scan, "_PROBE_LOOKUPS", memo[2])
    resources = _sample_resources()
    assert len(resources) > 1000
    want_leaves, want_decades, want_harvest = _reference(resources)
    scanner = SourceScanner()
    got_leaves: Counter[tuple[str, str, bytes]] = Counter()
    got_decades: Counter[str] = Counter()
    for round_ in range(2):  # the second round answers from the memos
        for index, resource in enumerate(resources):
            scanner.scan(resource)
            assert scanner.harvested == want_harvest[index], resource["resourceType"]
            scanner.harvested.clear()
            if index % 97 == 0:  # drained now and then, as a partition flushes
                leaves, decades = scanner.drain()
                got_leaves.update(leaves)
                got_decades.update(decades)
        leaves, decades = scanner.drain()
        got_leaves.update(leaves)
        got_decades.update(decades)
        assert got_leaves == Counter({k: n * (round_ + 1) for k, n in want_leaves.items()})
        assert got_decades == Counter({k: n * (round_ + 1) for k, n in want_decades.items()})
    assert sum(want_leaves.values()) > 10_000 and sum(map(len, want_harvest)) > 1000


def test_one_resource_at_a_time() -> None:
    """Each edge case alone (a fresh scanner) gives its own reference results: nothing cancels out in the sums."""
    for resource in [*EDGE_CASES, *SOURCE_EDGE_CASES]:
        want_leaves, want_decades, want_harvest = _reference([resource])
        scanner = SourceScanner()
        scanner.scan(resource)
        assert scanner.harvested == want_harvest[0]
        assert scanner.drain() == (want_leaves, want_decades)


def test_the_edge_cases_exercise_the_special_shapes() -> None:
    """The first label of a key at one path is kept; contained resources add decades but no harvest."""
    _, decades, harvested = _reference(SOURCE_EDGE_CASES[:1])
    assert decades["1950s"] == 1 and decades["1960s"] == 1 and decades["1980s"] == 1
    assert not any(h[1] == "hidden" for h in harvested[0])
    labels = {h[3] for h in harvested[0] if h[1] == "ab12345678"}
    assert labels == {"other contact"}


def test_the_exemption_walk_gives_resource_values_at_the_places() -> None:
    """``resource_values`` with ``leading`` (the walk down to the exemptable places only) equals ``resource_values`` there."""
    from anonymizer.verify.candidates import resource_values
    from anonymizer.verify.leak_audit import _leading_paths

    resources = _sample_resources()
    every = {(r["resourceType"], path) for r in resources for path, _ in resource_values(r)}
    for places in [every, {p for i, p in enumerate(sorted(every)) if i % 7 == 0}]:
        leading = _leading_paths(frozenset(places))
        compared = 0
        for resource in resources:
            rtype = resource["resourceType"]
            want = [(p, v) for p, v in resource_values(resource) if (rtype, p) in places]
            got = [(p, v) for p, v in resource_values(resource, leading) if (rtype, p) in places]
            assert got == want
            compared += len(want)
        assert compared > 1000
