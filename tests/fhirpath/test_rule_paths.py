"""Rule paths split into resource type and expression, and the fast-path shapes, on Microsoft's inline vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from anonymizer.fhirpath.compiler import _FAST, split_path

VECTORS = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "ms-anonymizer" / "inline-vectors.json").read_text()
)


def vectors(*methods: str) -> list[Any]:
    return [
        pytest.param(v, id=f"{method}-{i}")
        for method in methods
        for i, v in enumerate(v for v in VECTORS if v["method"] == method)
    ]


@pytest.mark.parametrize("v", vectors("rule.parsePath"))
def test_parse_path(v: dict[str, Any]) -> None:
    assert split_path(v["input"]) == (v["expected"]["resourceType"], v["expected"]["expression"])


@pytest.mark.parametrize("v", vectors("rule.nodesByTypeFastPath", "rule.nodesByNameFastPath"))
def test_fast_path_detection(v: dict[str, Any]) -> None:
    m = _FAST.match(v["input"])
    assert bool(m) == v["expected"]["match"]


def test_the_vectors_are_there() -> None:
    assert len(vectors("rule.parsePath")) >= 5 and len(vectors("rule.nodesByTypeFastPath")) >= 2
