"""Our ``jsonPath`` rule extension: select typed nodes by a JSONPath (jsonpath-ng) instead of FHIRPath."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from anonymizer.fhir.tree import Node
from anonymizer.fhirpath.evaluate import ResourceIndex


@lru_cache(maxsize=1024)
def _compiled(expression: str) -> Any:
    from jsonpath_ng.ext import parse

    return parse(expression)


def select(expression: str, index: ResourceIndex) -> list[Node]:
    """Nodes of the resource whose JSON location the JSONPath selects (evaluated on the resource's JSON)."""
    by_location = {node.location: node for node in index.all_nodes()}
    out: list[Node] = []
    for found in _compiled(expression).find(index.root.value):
        container = found.context.value if found.context is not None else None
        path = found.path
        key = getattr(path, "fields", None)
        location = (id(container), key[0]) if key else (id(container), getattr(path, "index", None))
        node = by_location.get(location)
        if node is not None:
            out.append(node)
    return out
