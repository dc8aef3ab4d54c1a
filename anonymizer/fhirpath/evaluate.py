"""Evaluate compiled rule paths on a resource's typed tree."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from anonymizer.errors import ProcessingError
from anonymizer.fhir.model import TypeModel
from anonymizer.fhir.tree import Node, children, preorder
from anonymizer.fhirpath.compiler import CompiledPath, Step


class ResourceIndex:
    """Per-resource caches: every descendant node (not entering sub-resources), by type and by name."""

    def __init__(self, root: Node, model: TypeModel) -> None:
        self.root = root
        self.model = model
        self._all: list[Node] | None = None
        self._by_type: dict[str, list[Node]] | None = None
        self._by_name: dict[str, list[Node]] | None = None

    def all_nodes(self) -> list[Node]:
        """The resource's nodes in document order (sub-resource nodes included, not entered)."""
        if self._all is None:
            self._all = preorder(self.root, self.model)
        return self._all

    def by_type(self, fhir_type: str) -> list[Node]:
        """Descendants whose FHIR type is ``fhir_type``."""
        if self._by_type is None:
            groups: dict[str, list[Node]] = {}
            for node in self.all_nodes()[1:]:
                groups.setdefault(node.fhir_type, []).append(node)
            self._by_type = groups
        return self._by_type.get(fhir_type, [])

    def by_name(self, name: str) -> list[Node]:
        """Descendants whose element name is ``name``."""
        if self._by_name is None:
            groups: dict[str, list[Node]] = {}
            for node in self.all_nodes()[1:]:
                groups.setdefault(node.name, []).append(node)
            self._by_name = groups
        return self._by_name.get(name, [])


def match(compiled: CompiledPath, index: ResourceIndex, predicate: Callable[[str, Any], bool]) -> list[Node]:
    """Nodes a rule reaches in one resource, in document order, without duplicates."""
    if compiled.is_resource_rule:
        return [index.root]
    if compiled.fast:
        step = compiled.branches[0]
        hits = index.by_type(step[0].arg) if step[0].kind == "by_type" else index.by_name(step[0].arg)
        if len(step) > 1:
            hits = [c for h in hits for c in children(h, index.model) if c.name == step[1].arg]
        return hits
    seen: set[int] = set()
    out: list[Node] = []
    for branch in compiled.branches:
        for node in _run(branch, [index.root], index, predicate):
            if id(node) not in seen:
                seen.add(id(node))
                out.append(node)
    return out


def _descendants(node: Node, model: TypeModel, include_self: bool) -> list[Node]:
    nodes = preorder(node, model)
    nodes = [n for n in nodes if not (n.is_resource and n is not node)]
    return nodes if include_self else nodes[1:]


def _run(
    steps: tuple[Step, ...], focus: list[Node], index: ResourceIndex, predicate: Callable[[str, Any], bool]
) -> list[Node]:
    model = index.model
    for step in steps:
        kind = step.kind
        if kind == "child":
            nxt: list[Node] = []
            for node in focus:
                if node.is_resource and step.arg == node.fhir_type:
                    nxt.append(node)  # `Condition.abatement` inside a union: the type name selects the focus
                    continue
                nxt.extend(c for c in children(node, model) if c.name == step.arg)
            focus = nxt
        elif kind in ("by_type", "by_name"):
            attr = "fhir_type" if kind == "by_type" else "name"
            focus = [d for n in focus for d in _descendants(n, model, True) if getattr(d, attr) == step.arg]
        elif kind == "descendants":
            focus = [d for n in focus for d in _descendants(n, model, False)]
        elif kind == "of_type":
            wanted = step.arg.strip().removeprefix("FHIR.")
            focus = [n for n in focus if n.fhir_type == wanted or model.is_a(n.fhir_type, wanted)]
        elif kind == "extension":
            focus = [
                c for n in focus for c in children(n, model)
                if c.name == "extension" and isinstance(c.value, dict) and c.value.get("url") == step.arg
            ]  # fmt: skip
        elif kind == "where":
            focus = [n for n in focus if predicate(step.arg, n)]
        elif kind == "first":
            focus = focus[:1]
        elif kind == "index":
            i = int(step.arg)
            focus = focus[i : i + 1]
        elif kind == "group":
            grouped: list[Node] = []
            for branch in step.group:
                grouped.extend(_run(branch, focus, index, predicate))
            focus = grouped
        else:  # pragma: no cover - the compiler produces no other kinds
            raise ProcessingError(f"unsupported step {kind}")
    return focus
