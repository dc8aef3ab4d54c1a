"""PatientIdentifiers: what is collected, serialisation, merging, and no values in reprs."""

from __future__ import annotations

import pickle
from typing import Any

import orjson

from anonymizer.text import PatientIdentifiers, collect_identifiers, collect_identifiers_json, merge


def test_collects_every_kind_of_value(patient: dict[str, Any]) -> None:
    ids = collect_identifiers([patient])
    assert "Evangeline Jo Bartholomew" in ids.names
    assert "Bartholomew, Evangeline Jo" in ids.names
    assert "Mrs. Bartholomew" in ids.names
    assert {"Evangeline", "Jo", "Bartholomew", "Theodore", "Rosalind", "Quigley"} <= set(ids.name_tokens)
    assert "Rosalind Quigley" in ids.related_names
    assert "Theodore Bartholomew" in ids.related_names
    assert set(ids.telecom) == {"555-342-8876", "evie.bart@example.net", "555-342-0001"}
    assert ids.address_lines == ("4417 Quenton Crossing",)
    assert set(ids.cities) == {"Emporia", "Wichita"}
    assert ids.postal_codes == ("66801",)
    assert {"MRN-4477120", "999-72-4410", "S99912345", patient["id"]} == set(ids.identifiers)
    assert ids.birth_dates == ("1961-03-03",)


def test_related_person_and_other_types(patient: dict[str, Any]) -> None:
    related = {
        "resourceType": "RelatedPerson",
        "patient": {"reference": f"Patient/{patient['id']}"},
        "name": [{"family": "Okonkwo", "given": ["Chidi"]}],
        "telecom": [{"system": "phone", "value": "(555) 777-1234"}],
        "address": [{"line": ["12 Birch Hollow"], "city": "Topeka", "postalCode": "66604"}],
    }
    condition = {"resourceType": "Condition", "code": {"text": "Hypertension"}}
    ids = collect_identifiers([related, condition])
    assert "Chidi Okonkwo" in ids.related_names
    assert "Okonkwo" in ids.name_tokens
    assert ids.cities == ("Topeka",)
    assert ids.names == ()
    assert "Hypertension" not in orjson.dumps(list(ids.values())).decode()


def test_json_roundtrip_pickle_and_merge(patient: dict[str, Any]) -> None:
    ids = collect_identifiers([patient])
    assert PatientIdentifiers.from_json(ids.to_json()) == ids
    assert pickle.loads(pickle.dumps(ids)) == ids
    assert PatientIdentifiers.from_json(None).is_empty()
    other = PatientIdentifiers(name_tokens=("Zebulon",), postal_codes=("66801",))
    merged = merge(ids, other, None)
    assert "Zebulon" in merged.name_tokens
    assert merged.postal_codes == ("66801",)
    assert merge(other, ids) == merged  # order-independent


def test_json_from_raw_lines_skips_bad_lines(patient: dict[str, Any]) -> None:
    lines = [orjson.dumps(patient), b"{not json", b"[1, 2]", orjson.dumps({"resourceType": "Observation"})]
    assert PatientIdentifiers.from_json(collect_identifiers_json(lines)) == collect_identifiers([patient])


def test_repr_shows_counts_not_values(patient: dict[str, Any]) -> None:
    text = repr(collect_identifiers([patient]))
    assert "Bartholomew" not in text and "555" not in text
    assert "name_tokens=" in text
