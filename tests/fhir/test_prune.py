"""Emptied elements removed as Microsoft's engine removes them, primitives' ``_x`` holders kept aligned."""

from __future__ import annotations

from anonymizer.fhir.prune import prune


def test_prune_keeps_holder_arrays_aligned() -> None:
    value = {"given": [None, "B", None], "_given": [{"id": "a"}, None, None], "family": None, "x": [{}, []]}
    assert prune(value) == {"given": [None, "B"], "_given": [{"id": "a"}, None]}


def test_prune_removes_what_became_empty_below() -> None:
    value = {"name": [{"given": [None], "family": None}], "id": "p1", "telecom": [{"value": None}]}
    assert prune(value) == {"id": "p1"}
