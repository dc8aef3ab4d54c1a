"""The R4 model as the linter walks it: the children of every type path, and the names a rule may use.

Built on :mod:`anonymizer.fhir.model` (the engine's own model), so the linter and the engine agree on what an
element is. A child is listed under each of its JSON keys (``valueQuantity``, ``valueString`` ...) with the element
name a rule path uses (``value``).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache

from anonymizer.fhir.model import PRIMITIVE_TYPES, ChildType, TypeModel, r4

#: A JSON key of a node with what it is.
Child = tuple[str, ChildType]


@dataclass(frozen=True)
class Node:
    """An element position as the linter sees it: what the engine's plan knows of it, plus a readable path."""

    type_path: str  # key for its children (a type name, or the element path of a backbone element)
    name: str  # element name (choice elements by base name)
    fhir_type: str  # FHIR type
    element: str  # ``<parent type path>.<name>``: identifies the element definition (``Reference.display``)
    at_root: bool = False

    @property
    def is_resource_slot(self) -> bool:
        """A nested resource (``contained``, ``Bundle.entry.resource``): processed as a resource of its own."""
        return self.fhir_type == "Resource"


class ElementIndex:
    """Children per type path and the vocabularies used for did-you-mean suggestions."""

    def __init__(self, model: TypeModel) -> None:
        self.model = model
        keys: dict[str, set[str]] = {}
        for path in list(model.path2type) + list(model.elsewhere) + list(model.backbones):
            parent, _, key = path.rpartition(".")
            if parent:
                keys.setdefault(parent, set()).add(key)
        self._keys = keys
        self._children: dict[str, tuple[Child, ...]] = {}
        self._child_nodes: dict[str, tuple[Node, ...]] = {}
        self._descendants: dict[tuple[str, ...], tuple[Node, ...]] = {}
        self.type_names: frozenset[str] = frozenset(model.parents) | PRIMITIVE_TYPES
        self.resource_types = model.resource_types

    def root(self, resource_type: str) -> Node:
        """The node of a resource of this type."""
        return Node(resource_type, resource_type, resource_type, resource_type, at_root=True)

    def children(self, node: Node) -> tuple[Child, ...]:
        """Every JSON key an element at ``node`` may have, with its type (nested resources included)."""
        cached = self._children.get(node.type_path)
        if cached is None:
            seen: dict[str, ChildType] = {}
            for base in self.model._candidates(node.type_path):
                for key in sorted(self._keys.get(base, ())):
                    if key in seen or key == "resourceType":
                        continue
                    child = self.model.child(node.type_path, key)
                    if child is not None:
                        seen[key] = child
            cached = self._children[node.type_path] = tuple(seen.items())
        return cached

    def child_nodes(self, node: Node) -> tuple[Node, ...]:
        """The child positions of ``node`` (none below a nested resource: it is a resource of its own)."""
        if node.is_resource_slot:
            return ()
        nodes = self._child_nodes.get(node.type_path)
        if nodes is None:
            nodes = self._child_nodes[node.type_path] = tuple(
                dict.fromkeys(
                    Node(c.type_path, c.name, c.fhir_type, f"{node.type_path}.{c.name}")
                    for _, c in self.children(node)
                )
            )
        return nodes

    def descendants(self, type_paths: tuple[str, ...]) -> tuple[Node, ...]:
        """Every position below nodes with these type paths (nested resources not entered), each once."""
        cached = self._descendants.get(type_paths)
        if cached is None:
            seen: dict[Node, None] = {}
            work = [Node(t, t, t, t) for t in type_paths]
            while work:
                for child in self.child_nodes(work.pop()):
                    if child not in seen:
                        seen[child] = None
                        work.append(child)
            cached = self._descendants[type_paths] = tuple(seen)
        return cached

    def element_names(self, node: Node) -> list[str]:
        """The element names a rule may write below ``node`` (choice elements by base name)."""
        return sorted({c.name for _, c in self.children(node)})


@lru_cache(maxsize=1)
def r4_index() -> ElementIndex:
    """The process-wide index over the engine's R4 model."""
    return ElementIndex(r4())


def suggest(word: str, candidates: list[str] | frozenset[str]) -> str | None:
    """The closest candidate to a misspelt ``word`` (case-insensitive), or None."""
    by_lower: dict[str, str] = {}
    for c in sorted(candidates):
        by_lower.setdefault(c.lower(), c)
    hits = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[hits[0]] if hits else None
