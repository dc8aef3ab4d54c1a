"""Where the leak audit finds "the same key at the same place of the source": the hit's very value among the source
pass's value digests, else the source lines read again; both only at the hit's own resource type and path."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from anonymizer.verify import leak_audit
from anonymizer.verify.harvest_frame import prepare_harvest
from anonymizer.verify.leak_audit import KEPT_IN_SOURCE, LeakAuditResult
from anonymizer.verify.passes import source_pass
from tests.verify.builders import run_audit

pytestmark = pytest.mark.spark
AS_OF = date(2026, 1, 1)

PATIENT = {"resourceType": "Patient", "id": "p1", "address": [{"city": "Springfield", "line": ["12 Quarry Lane"]}],
           "name": [{"family": "Okonkwo", "given": ["Adaeze"]}]}  # fmt: skip
SOURCE = [
    PATIENT,
    # kept unchanged by the run: the same value (digest) at the same place
    {
        "resourceType": "Organization",
        "id": "o1",
        "address": [{"city": "Springfield"}],
        "name": "North Clinic",
    },
    # written otherwise by the run, with the same key: found only by reading the source again
    {"resourceType": "Location", "id": "l1", "address": {"city": "SPRINGFIELD"}, "name": "Ward 3"},
    # the value is in the source, at another place only
    {"resourceType": "Device", "id": "d1", "manufacturer": "Springfield"},
    # a decimal kept at one place, found again at another type
    {"resourceType": "Observation", "id": "x1", "status": "final", "valueQuantity": {"value": 42.1234}},
]
#: a patient's geolocation: a decimal key
GEO = {"resourceType": "Patient", "id": "p2", "address": [{"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/geolocation",
       "extension": [{"url": "latitude", "valueDecimal": 42.1234}]}]}]}  # fmt: skip
OUTPUT = [
    {"resourceType": "Organization", "id": "o1", "address": [{"city": "Springfield"}], "name": "North Clinic"},
    {"resourceType": "Location", "id": "l1", "address": {"city": "Springfield"}, "name": "Springfield"},
    {"resourceType": "Device", "id": "d1", "manufacturer": "Springfield", "modelNumber": "Springfield"},
    {"resourceType": "Observation", "id": "x1", "status": "final", "valueQuantity": {"value": 42.1234}},
    {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
     "code": {"coding": [{"display": "12 Quarry Lane"}]}},
]  # fmt: skip


def _audit(spark: Any, source: list[dict[str, Any]], output: list[dict[str, Any]]) -> LeakAuditResult:
    return run_audit(spark, source, output, AS_OF)


def _findings(audit: LeakAuditResult) -> dict[tuple[str, str], str | None]:
    return {(f["resource_type"], f["path"]): f["reason"] for f in audit.hits}


def test_same_key_at_the_same_place_is_exempt_whether_the_value_changed_or_not(spark: Any) -> None:
    source = [*SOURCE, GEO]
    audit = _audit(spark, source, OUTPUT)
    assert _findings(audit) == {
        ("Organization", "Organization.address.city"): KEPT_IN_SOURCE,  # the same value
        ("Location", "Location.address.city"): KEPT_IN_SOURCE,  # another value with the same key
        ("Location", "Location.name"): None,  # the source's Location.name is another value
        ("Device", "Device.manufacturer"): KEPT_IN_SOURCE,
        ("Device", "Device.modelNumber"): None,  # the same value, at another path of the source
        ("Observation", "Observation.valueQuantity.value"): KEPT_IN_SOURCE,
        ("Condition", "Condition.code.coding.display"): None,  # the address line, kept nowhere in the source
    }
    assert audit.leaks == 3


def test_the_source_is_read_again_only_for_hits_no_kept_value_explains(
    spark: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every exempt hit is an unchanged value: the landing lines are not read a second time."""
    read_again: list[Any] = []
    monkeypatch.setattr(leak_audit, "_kept_keys", lambda *args: read_again.append(args) or args[1])
    output = [OUTPUT[0], OUTPUT[3], {**OUTPUT[2], "modelNumber": "X"}]
    audit = _audit(spark, [*SOURCE, GEO],
                   output)  # fmt: skip
    assert set(_findings(audit).values()) == {KEPT_IN_SOURCE} and len(audit.hits) == 3
    assert not read_again
    # one hit whose value changed: read again, for that place only
    audit = _audit(spark, SOURCE, [*output, OUTPUT[1]])
    assert len(read_again) == 1 and read_again[0][3] == {
        ("Location", "Location.address.city"): 1,
        ("Location", "Location.name"): 1,
    }


def test_the_harvest_filter_knows_the_shapes_of_its_keys(spark: Any) -> None:
    """The Bloom filter of the harvest carries the ``(kind, length)`` of every harvested key (and no other)."""
    lines = spark.createDataFrame(
        [(f"{r['resourceType']}.ndjson", json.dumps(r)) for r in [*SOURCE, GEO]], "file string, line string"
    )
    harvest = prepare_harvest(source_pass(lines))
    keys = {(r["kind"], r["norm"]) for r in harvest.keys.select("kind", "norm").collect()}
    assert harvest.bloom.shapes == {(kind, len(norm)) for kind, norm in keys}
    assert {kind for kind, _ in keys} >= {"words", "decimal"} and all(key in harvest.bloom for key in keys)
    harvest.keys.unpersist()
