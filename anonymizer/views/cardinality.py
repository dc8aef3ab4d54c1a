"""Which FHIR R4 elements repeat (cardinality ``0..*``), so a view's JSON is parsed with its real shape.

The table ``r4_repeating.json`` lists ``<type path>.<key>`` (a type name or a backbone element path, as in
:mod:`anonymizer.fhir.model`) of every element, complex or primitive, whose maximum cardinality is ``*``; an
element not listed is at most one. It was generated from the R4 definitions of DefinitelyTyped ``@types/fhir``
0.0.41 (``r4.d.ts``, MIT, Copyright (c) Microsoft Corporation) by ``python -m anonymizer.views.cardinality r4.d.ts``.

A missing complex entry never changes a view's rows: a resource that does not parse with the expected shape is
evaluated the slow, shape-agnostic way (see :mod:`anonymizer.views.parsed_nodes`). A primitive element not listed
is read as one value; given as a JSON array (invalid R4) it is read as its one element, and several are an error.
"""

from __future__ import annotations

import json
import re
import sys
from functools import lru_cache
from importlib import resources

from anonymizer.fhir.model import r4

_TABLE = "r4_repeating.json"
_INTERFACE = re.compile(r"^export interface (\w+)(?: extends (\w+))? \{$")
_FIELD = re.compile(r"^  (\w+)\??: ([A-Za-z]+)(\[\])?(?: \| undefined)?;$")
# A code with its values spelled out: ``use?: ('home'|'work') | undefined;`` or ``Array<'mon'|'tue'>`` (repeating).
_CODE_FIELD = re.compile(r"^  (\w+)\??: (?:\('[^)]*'\)|(Array)<'[^>]*'>)(?: \| undefined)?;$")
_TS_PRIMITIVES = frozenset({"string", "number", "boolean", "any"})


@lru_cache(maxsize=1)
def repeating_paths() -> frozenset[str]:
    """``<type path>.<key>`` of the R4 elements (complex and primitive) that repeat."""
    text = resources.files("anonymizer.views").joinpath(_TABLE).read_text(encoding="utf-8")
    return frozenset(json.loads(text)["repeating"])


def repeats(type_path: str, key: str) -> bool:
    """Whether the element ``key`` under ``type_path`` (or an ancestor type) repeats."""
    table = repeating_paths()
    return any(f"{base}.{key}" in table for base in r4()._candidates(type_path))


def generate(definitions: str) -> list[str]:
    """The table's entries from the text of ``r4.d.ts`` (interfaces named after types or backbone elements)."""
    fields: dict[str, list[tuple[str, str, bool]]] = {}
    current: str | None = None
    for line in definitions.splitlines():
        opened = _INTERFACE.match(line)
        if opened:
            current = opened.group(1)
            fields[current] = []
        elif line == "}":
            current = None
        elif current is not None:
            field = _FIELD.match(line)
            if field and not field.group(1).startswith("_"):
                fields[current].append((field.group(1), field.group(2), bool(field.group(3))))
            code = _CODE_FIELD.match(line)
            if code:
                fields[current].append((code.group(1), "string", bool(code.group(2))))
    model = r4()
    types = set(model.parents) | {"Element", "Resource"}
    out: set[str] = set()
    pending = [(name, name) for name in fields if name in types]
    seen: set[str] = set()
    while pending:
        interface, path = pending.pop()
        if interface in seen and interface not in types:
            continue
        seen.add(interface)
        for key, ts_type, many in fields.get(interface, []):
            if many:
                out.add(f"{path}.{key}")
            if ts_type in _TS_PRIMITIVES:
                continue
            if ts_type in fields and ts_type not in types:
                pending.append((ts_type, f"{path}.{key}"))
    return sorted(out)


if __name__ == "__main__":  # pragma: no cover - regenerates the shipped table
    with open(sys.argv[1], encoding="utf-8") as definitions:
        entries = generate(definitions.read())
    source = "DefinitelyTyped @types/fhir 0.0.41 r4.d.ts (MIT, Copyright (c) Microsoft Corporation)"
    print(json.dumps({"source": source, "repeating": entries}, indent=0))
