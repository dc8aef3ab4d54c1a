"""The FHIR R4 type model: which FHIR type each JSON key of a resource has.

Built from the R4 model data fhirpathpy ships (``path2Type``, ``choiceTypePaths``, ``pathsDefinedElsewhere``,
``type2Parent``). Lookups are memoised per (type path, key), so a resource type's shape is worked out once
per process and every later resource of that type costs one dict lookup per element.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import NamedTuple


class ChildType(NamedTuple):
    """What a JSON key under a node is."""

    name: str  # element name (choice types by their base name: ``value`` for ``valueQuantity``)
    fhir_type: str  # FHIR type name: ``HumanName``, ``dateTime``, ``BackboneElement``, ``Resource`` ...
    type_path: str  # key for the child's own children: a type name, or the element path of a backbone element
    is_array: bool  # cardinality many (informational)


PRIMITIVE_TYPES = frozenset(
    {"base64Binary", "boolean", "canonical", "code", "date", "dateTime", "decimal", "id", "instant", "integer",
     "integer64", "markdown", "oid", "positiveInt", "string", "time", "unsignedInt", "uri", "url", "uuid", "xhtml"}
)  # fmt: skip


def _load(name: str) -> dict:
    return json.loads(resources.files("fhirpathpy").joinpath(f"models/r4/{name}.json").read_text())


class TypeModel:
    """R4 model lookups."""

    def __init__(self) -> None:
        self.path2type: dict[str, str] = _load("path2Type")
        self.choices: dict[str, list[str]] = _load("choiceTypePaths")
        self.elsewhere: dict[str, str] = _load("pathsDefinedElsewhere")
        self.parents: dict[str, str] = _load("type2Parent")
        self.backbones: frozenset[str] = frozenset(
            p.rsplit(".", 1)[0] for p in list(self.path2type) + list(self.choices) if "." in p
        ) - frozenset(self.parents)
        self.resource_types: frozenset[str] = frozenset(t for t in self.parents if self._is_resource(t))

    def _is_resource(self, name: str) -> bool:
        seen: set[str] = set()
        while name in self.parents and name not in seen:
            seen.add(name)
            name = self.parents[name]
            if name == "Resource":
                return True
        return name == "Resource"

    def is_a(self, fhir_type: str, ancestor: str) -> bool:
        """True when ``fhir_type`` is ``ancestor`` or derives from it (``Age`` is a ``Quantity``)."""
        while True:
            if fhir_type == ancestor:
                return True
            if fhir_type not in self.parents:
                return False
            fhir_type = self.parents[fhir_type]

    def _candidates(self, type_path: str) -> list[str]:
        """``type_path`` and its ancestors (``Age`` -> ``Quantity`` -> ``Element``; backbones -> ``BackboneElement``)."""
        out = [type_path]
        current = type_path
        if "." in type_path:
            out += ["BackboneElement", "Element"]
            return out
        while current in self.parents:
            current = self.parents[current]
            out.append(current)
        return out

    def child(self, type_path: str, key: str) -> ChildType | None:
        """The type of JSON key ``key`` under a node whose type path is ``type_path`` (None: unknown element)."""
        return _child(self, type_path, key)


def _fhir_type_of(model: TypeModel, base: str, key: str, raw: str) -> str:
    if raw.startswith("System."):
        if key == "id" and base in model.resource_types | {"Resource", "DomainResource"}:
            return "id"
        if key == "url" and base == "Extension":
            return "uri"
        return {"System.String": "string", "System.Boolean": "boolean", "System.Integer": "integer",
                "System.Decimal": "decimal", "System.Date": "date", "System.DateTime": "dateTime",
                "System.Time": "time"}.get(raw, "string")  # fmt: skip
    return raw


@lru_cache(maxsize=65536)
def _child(model: TypeModel, type_path: str, key: str) -> ChildType | None:
    for base in model._candidates(type_path):
        path = f"{base}.{key}"
        if path in model.elsewhere:
            target = model.elsewhere[path]
            return ChildType(key, "BackboneElement", target, True)
        raw = model.path2type.get(path)
        if raw is not None:
            fhir_type = _fhir_type_of(model, base, key, raw)
            name = key
            for i in range(1, len(key)):
                if key[i].isupper() and f"{base}.{key[:i]}" in model.choices:
                    name = key[:i]
                    break
            if fhir_type in ("BackboneElement", "Element") and path in model.backbones:
                return ChildType(name, "BackboneElement", path, True)
            return ChildType(name, fhir_type, fhir_type, True)
        if path in model.backbones:
            return ChildType(key, "BackboneElement", path, True)
        for i in range(1, len(key)):
            if key[i].isupper() and f"{base}.{key[:i]}" in model.choices:
                suffix = key[i:]
                for t in model.choices[f"{base}.{key[:i]}"]:
                    if t[0].upper() + t[1:] == suffix:
                        fhir_type = t[0].lower() + t[1:] if t[0].lower() + t[1:] in PRIMITIVE_TYPES else t
                        return ChildType(key[:i], fhir_type, fhir_type, False)
    return None


@lru_cache(maxsize=1)
def r4() -> TypeModel:
    """The process-wide R4 model."""
    return TypeModel()
