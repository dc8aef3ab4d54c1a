"""Every ``string``/``markdown`` element of R4, per resource type, as JSON key paths (for the free-text review).

Starts at each resource type and follows the R4 model through backbone elements and data types (a data type
is not entered twice on one path, which ends the recursion at ``Reference.identifier.assigner`` and the
like). Extensions, resource ids, contained and nested resources are left out: the profiles remove every
extension, ids are hashed, and a nested resource is reviewed as its own type.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import NamedTuple

from anonymizer.fhir.model import PRIMITIVE_TYPES, TypeModel, r4

TEXT_TYPES = frozenset({"string", "markdown"})
_SKIPPED_NAMES = frozenset({"extension", "modifierExtension", "contained", "id"})
_META_LISTS = frozenset({"security", "tag"})


class TextElement(NamedTuple):
    """One text element reached from a resource type."""

    resource_type: str
    keys: tuple[
        str, ...
    ]  # JSON keys from the resource down (choice elements by their typed key: valueString)
    owner: str  # where the element is defined: ``Dosage.text`` or ``MedicationRequest.note`` style
    fhir_type: str

    @property
    def path(self) -> str:
        """``Resource.key.key`` (the dotted JSON path)."""
        return ".".join((self.resource_type, *self.keys))


@cache
def _child_names(model: TypeModel) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for path in (*model.path2type, *model.choices, *model.elsewhere):
        base, _, name = path.rpartition(".")
        if base:
            out.setdefault(base, set()).add(name)
    return out


def _children(model: TypeModel, type_path: str) -> Iterator[tuple[str, str, str]]:
    """``(json key, fhir type, type path for its children)`` of every child element of ``type_path``."""
    names = _child_names(model)
    seen: set[str] = set()
    for base in model._candidates(type_path):
        for name in sorted(names.get(base, ())):
            if name in seen or name in _SKIPPED_NAMES:
                continue
            seen.add(name)
            choice = model.choices.get(f"{base}.{name}")
            keys = [name + t[0].upper() + t[1:] for t in choice] if choice else [name]
            for key in keys:
                child = model.child(type_path, key)
                if child is not None and child.fhir_type not in ("Resource", "Extension"):
                    yield key, child.fhir_type, child.type_path


def text_elements(model: TypeModel | None = None, max_depth: int = 8) -> Iterator[TextElement]:
    """Every string/markdown element reachable from every resource type (see the module docstring)."""
    model = model or r4()
    seen: set[str] = set()
    for resource_type in sorted(model.resource_types):
        if resource_type in ("Resource", "DomainResource"):
            continue
        for element in _walk(model, resource_type, resource_type, (), (resource_type,), max_depth):
            if element.path not in seen:
                seen.add(element.path)
                yield element


def _walk(
    model: TypeModel,
    resource_type: str,
    type_path: str,
    keys: tuple[str, ...],
    chain: tuple[str, ...],
    depth: int,
) -> Iterator[TextElement]:
    for key, fhir_type, child_path in _children(model, type_path):
        if fhir_type in TEXT_TYPES:
            # the owner is where the element is defined: a data type, a backbone path or the resource itself
            owner = f"{type_path}.{_base_name(model, type_path, key)}"
            yield TextElement(resource_type, (*keys, key), owner, fhir_type)
        elif fhir_type not in PRIMITIVE_TYPES and depth > 0 and child_path not in chain:
            yield from _walk(model, resource_type, child_path, (*keys, key), (*chain, child_path), depth - 1)


def _base_name(model: TypeModel, type_path: str, key: str) -> str:
    child = model.child(type_path, key)
    return child.name if child is not None else key


def planted(element: TextElement, value: str) -> dict:
    """A minimal resource holding ``value`` at ``element`` (every level a single object, ``meta`` lists as lists)."""
    resource: dict = {"resourceType": element.resource_type, "id": "planted"}
    node = resource
    for key in element.keys[:-1]:
        child: dict = {}
        node[key] = [child] if key in _META_LISTS else child
        node = child
    node[element.keys[-1]] = value
    return resource
