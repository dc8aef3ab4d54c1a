"""Can a rule path match anything? A walk of its steps over the R4 model, with did-you-mean when it cannot.

Each branch of the compiled path (:mod:`anonymizer.fhirpath.compiler`, ``|`` unions and groups multiplied out)
moves a set of element positions step by step. Value-dependent steps (``where``, ``first()``, indexers,
``extension('url')``) are assumed to hold: a rule is dead only when no resource could ever have an element
where it applies. When a step leaves no position, the finding names that step and suggests the closest name
the model has there (``Patient.nmae`` -> ``Patient.name``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from anonymizer.config.lint.elements import ElementIndex, Node, suggest
from anonymizer.fhirpath.compiler import CompiledPath, Step


@dataclass(frozen=True)
class DeadPath:
    """Why a rule path can never match: the reason in words and an optional corrected path."""

    reason: str
    did_you_mean: str | None = None


def rule_roots(index: ElementIndex, compiled: CompiledPath) -> list[Node]:
    """The resources a rule applies to: its resource type, or every type for ``""``/Resource/DomainResource."""
    if compiled.resource_type in ("", "Resource", "DomainResource"):
        return [index.root(t) for t in sorted(index.resource_types)]
    if compiled.resource_type in index.resource_types:
        return [index.root(compiled.resource_type)]
    return []


def dead_reason(
    index: ElementIndex, path: str, compiled: CompiledPath, branches: Iterable[tuple[Step, ...]]
) -> DeadPath | None:
    """``None`` when some branch of the path can match an element; else why none can."""
    rt = compiled.resource_type
    if rt and rt not in ("Resource", "DomainResource") and rt not in index.resource_types:
        hint = suggest(rt, index.resource_types)
        return DeadPath(f"'{rt}' is not an R4 resource type", path.replace(rt, hint, 1) if hint else None)
    roots = rule_roots(index, compiled)
    first: DeadPath | None = None
    for branch in branches:
        found = _walk(index, path, roots, branch, compiled.fast)
        if found is None:
            return None
        first = first or found
    return first


def _walk(
    index: ElementIndex, path: str, roots: list[Node], steps: tuple[Step, ...], fast: bool
) -> DeadPath | None:
    nodes = roots
    for step in steps:
        moved = _step(index, nodes, step, fast)
        if moved:
            nodes = moved
            continue
        return _explain(index, path, nodes, step)
    return None


def _step(index: ElementIndex, nodes: list[Node], step: Step, fast: bool) -> list[Node]:
    kind, arg = step.kind, step.arg
    if kind == "child":
        out: list[Node] = []
        for node in nodes:
            if node.at_root and arg == node.fhir_type:
                out.append(
                    node
                )  # ``Condition.abatement | Condition.onset``: the second branch names the resource
            for child in _children_or_nested(index, node):
                if child.name == arg:
                    out.append(child)
        return _unique(out)
    if kind == "extension":
        return _step(index, nodes, Step("child", "extension"), fast)
    if kind == "by_type":
        return _descendants(index, nodes, lambda n: n.fhir_type == arg, include_self=not fast)
    if kind == "by_name":
        return _descendants(index, nodes, lambda n: n.name == arg, include_self=not fast)
    if kind == "descendants":
        return _descendants(index, nodes, lambda n: True, include_self=False)
    if kind == "of_type":
        wanted = arg.strip().removeprefix("FHIR.")
        out = [n for n in nodes if n.fhir_type == wanted or index.model.is_a(n.fhir_type, wanted)]
        if wanted in index.resource_types:
            out += [_nested_root(index, wanted) for n in nodes if n.is_resource_slot]
        return _unique(out)
    return nodes  # where(), first(), [n]: value-dependent, assumed to hold


def _nested_root(index: ElementIndex, resource_type: str) -> Node:
    root = index.root(resource_type)
    return Node(root.type_path, root.name, root.fhir_type, root.element)


def _children_or_nested(index: ElementIndex, node: Node) -> list[Node]:
    """Children; below a nested resource, the children of any resource type (FHIRPath navigates into it)."""
    if not node.is_resource_slot:
        return list(index.child_nodes(node))
    out: list[Node] = []
    for t in sorted(index.resource_types):
        out += index.child_nodes(_nested_root(index, t))
    return out


def _descendants(
    index: ElementIndex, nodes: list[Node], hit: Callable[[Node], bool], *, include_self: bool
) -> list[Node]:
    """Descendant (or self) positions where ``hit`` holds."""
    own = [n for n in nodes if (include_self or not n.at_root) and hit(n)]
    below = index.descendants(tuple(sorted({n.type_path for n in nodes if not n.is_resource_slot})))
    return _unique(own + [n for n in below if hit(n)])


def _explain(index: ElementIndex, path: str, nodes: list[Node], step: Step) -> DeadPath:
    where = _describe(nodes)
    kind, arg = step.kind, step.arg
    if kind in ("child", "extension"):
        names = sorted({n for node in nodes for n in index.element_names(node)})
        choice = _choice_form(index, arg, names)
        if choice:
            return DeadPath(
                f"'{arg}' is the JSON name of a choice element, rule paths use the element name",
                _replace_segment(path, arg, choice),
            )
        hint = suggest(arg, names)
        fixed = _replace_segment(path, arg, hint) if hint else None
        return DeadPath(f"{where} has no element '{arg}'", fixed)
    if kind in ("by_type", "of_type"):
        wanted = arg.strip().strip("'\"").removeprefix("FHIR.")
        if wanted not in index.type_names:
            hint = suggest(wanted, index.type_names)
            return DeadPath(f"'{wanted}' is not an R4 type", path.replace(wanted, hint, 1) if hint else None)
        return DeadPath(f"no element of type {wanted} under {where}")
    if kind == "by_name":
        names = sorted({c.name for c in _descendants(index, nodes, lambda n: True, include_self=False)})
        hint = suggest(arg, names)
        return DeadPath(
            f"no element named '{arg}' under {where}", path.replace(arg, hint, 1) if hint else None
        )
    return DeadPath(f"nothing under {where} for {kind}({arg})")


def _choice_form(index: ElementIndex, key: str, names: list[str]) -> str | None:
    """``valueQuantity`` -> ``value.ofType(Quantity)`` when ``value`` is an element here and Quantity a type."""
    for name in names:
        suffix = key[len(name) :]
        if key.startswith(name) and suffix[:1].isupper():
            for fhir_type in (suffix, suffix[0].lower() + suffix[1:]):
                if fhir_type in index.type_names:
                    return f"{name}.ofType({fhir_type})"
    return None


def _describe(nodes: list[Node]) -> str:
    names = sorted({n.element for n in nodes})
    if len(names) > 3:
        return f"{names[0]} and {len(names) - 1} other positions"
    return " / ".join(names) if names else "the resource"


def _replace_segment(path: str, wrong: str, right: str) -> str:
    """``Patient.nmae`` -> ``Patient.name`` (the misspelt segment only, first occurrence as a whole name)."""
    import re

    return re.sub(rf"(?<![A-Za-z0-9_]){re.escape(wrong)}(?![A-Za-z0-9_])", right, path, count=1)


def _unique(nodes: list[Node]) -> list[Node]:
    return list(dict.fromkeys(nodes))
