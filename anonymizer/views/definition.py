"""Parse and validate a ViewDefinition (the specification's invariants) into an immutable model.

Checked before anything runs: ``resource`` is an R4 resource type; ``select`` is a non-empty list; names
(view, columns, constants) obey ``sql-name``; at most one of ``forEach``/``forEachOrNull``/``repeat`` per
select (``sql-expressions``) and each is a FHIRPath string; column names are unique across the view and every
``unionAll`` branch has the same column names (and types) in the same order (the spec's ValidateColumns);
constants have exactly one supported ``value[x]``; every path parses and uses only supported FHIRPath.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from anonymizer.fhir.model import r4
from anonymizer.views.errors import ViewDefinitionError
from anonymizer.views.fhirpath_parser import parse
from anonymizer.views.sql_text import quote
from anonymizer.views.sql_values import Constant
from anonymizer.views.types import sql_type, valid_ansi_type

_SQL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_CONSTANT_KINDS = {
    "boolean": "bool", "integer": "num", "decimal": "num", "positiveInt": "num", "unsignedInt": "num",
    "integer64": "num", "base64Binary": "str", "canonical": "str", "code": "str", "date": "str",
    "dateTime": "str", "id": "str", "instant": "str", "oid": "str", "string": "str", "time": "str",
    "uri": "str", "url": "str", "uuid": "str",
}  # fmt: skip


@dataclass(frozen=True)
class ColumnDef:
    """One output column."""

    name: str
    path: str
    ast: object
    type_uri: str | None
    collection: bool
    sql_type: str


@dataclass(frozen=True)
class SelectDef:
    """A selection structure; ``iterate`` is ("forEach"|"forEachOrNull"|"repeat", paths, asts) or None."""

    columns: tuple[ColumnDef, ...]
    selects: tuple[SelectDef, ...]
    union_all: tuple[SelectDef, ...]
    iterate: tuple[str, tuple[str, ...], tuple[object, ...]] | None

    def output(self) -> list[ColumnDef]:
        """Columns this structure emits, in the specification's order (own, nested selects, unionAll)."""
        out = list(self.columns)
        for select in self.selects:
            out += select.output()
        if self.union_all:
            out += self.union_all[0].output()
        return out


@dataclass(frozen=True)
class ViewDef:
    """A validated ViewDefinition."""

    name: str
    resource: str
    url: str | None
    constants: dict[str, Constant]
    root: SelectDef
    where: tuple[tuple[str, object], ...]
    fingerprint: str

    def columns(self) -> list[ColumnDef]:
        """The view's columns in output order."""
        return self.root.output()


def fingerprint(view: dict[str, Any]) -> str:
    """SHA-256 of the view's canonical JSON (sorted keys): changes exactly when the definition changes."""
    return hashlib.sha256(json.dumps(view, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ViewDefinitionError(message)


def _sql_name(value: Any, what: str) -> str:
    _require(
        isinstance(value, str) and bool(_SQL_NAME.match(value)), f"{what} {value!r} is not a valid SQL name"
    )
    return value


def _path(value: Any, what: str) -> tuple[str, object]:
    _require(isinstance(value, str) and value.strip() != "", f"{what} must be a FHIRPath string")
    try:
        return value, parse(value)
    except ViewDefinitionError as exc:
        raise ViewDefinitionError(f"{what}: {exc}") from None


def _constant(raw: Any) -> tuple[str, Constant]:
    _require(isinstance(raw, dict), "constant must be an object")
    name = _sql_name(raw.get("name"), "constant name")
    values = [k for k in raw if k.startswith("value")]
    _require(len(values) == 1, f"constant {name} needs exactly one value[x]")
    fhir_type = values[0][5:6].lower() + values[0][6:]
    kind = _CONSTANT_KINDS.get(fhir_type)
    _require(kind is not None, f"constant {name}: unsupported type {values[0]}")
    value = raw[values[0]]
    if kind == "bool":
        _require(isinstance(value, bool), f"constant {name}: not a boolean")
        return name, Constant("bool", "true" if value else "false", fhir_type)
    if kind == "num":
        _require(
            isinstance(value, int | float) and not isinstance(value, bool), f"constant {name}: not a number"
        )
        return name, Constant("num", f"CAST({value!r} AS DOUBLE)", fhir_type)
    _require(isinstance(value, str), f"constant {name}: not a string")
    return name, Constant("str", quote(value), fhir_type)


def _column(raw: Any) -> ColumnDef:
    _require(isinstance(raw, dict), "column must be an object")
    name = _sql_name(raw.get("name"), "column name")
    path, ast = _path(raw.get("path"), f"column {name} path")
    collection = raw.get("collection", False)
    _require(isinstance(collection, bool), f"column {name}: collection must be true or false")
    type_uri = raw.get("type")
    _require(type_uri is None or isinstance(type_uri, str), f"column {name}: type must be a string")
    ansi = [
        t.get("value") for t in raw.get("tag", []) if isinstance(t, dict) and t.get("name") == "ansi/type"
    ]
    if ansi:
        _require(
            isinstance(ansi[0], str) and valid_ansi_type(ansi[0]), f"column {name}: unsupported ansi/type"
        )
    base = sql_type(type_uri, ansi[0] if ansi else None)
    return ColumnDef(name, path, ast, type_uri, collection, f"ARRAY<{base}>" if collection else base)


def _select(raw: Any) -> SelectDef:
    _require(isinstance(raw, dict), "select must be an object")
    known = {
        "column",
        "select",
        "unionAll",
        "forEach",
        "forEachOrNull",
        "repeat",
        "description",
        "id",
        "extension",
    }
    unknown = sorted(set(raw) - known)
    _require(not unknown, f"select has unknown element(s) {unknown}")
    iterators = [k for k in ("forEach", "forEachOrNull", "repeat") if k in raw]
    _require(len(iterators) <= 1, "a select can have at most one of forEach, forEachOrNull or repeat")
    iterate = None
    if iterators:
        kind = iterators[0]
        raw_paths = raw[kind] if kind == "repeat" else [raw[kind]]
        _require(
            isinstance(raw_paths, list) and len(raw_paths) > 0, "repeat must be a non-empty list of paths"
        )
        parsed = [_path(p, kind) for p in raw_paths]
        iterate = (kind, tuple(p for p, _ in parsed), tuple(a for _, a in parsed))
    for key in ("column", "select", "unionAll"):
        _require(isinstance(raw.get(key, []), list), f"{key} must be a list")
    select = SelectDef(
        tuple(_column(c) for c in raw.get("column", [])),
        tuple(_select(s) for s in raw.get("select", [])),
        tuple(_select(u) for u in raw.get("unionAll", [])),
        iterate,
    )
    _require(
        bool(select.columns or select.selects or select.union_all),
        "a select needs columns, selects or unionAll",
    )
    return select


def _validate_columns(select: SelectDef, prior: list[str]) -> list[str]:
    """The specification's ValidateColumns: unique names, consistent unionAll branches."""
    names = list(prior)

    def add(name: str) -> None:
        _require(name not in names, f"column {name} is defined more than once")
        names.append(name)

    for column in select.columns:
        add(column.name)
    for nested in select.selects:
        for name in _validate_columns(nested, names)[len(names) :]:
            add(name)
    if select.union_all:
        first = select.union_all[0].output()
        for branch in select.union_all:
            _validate_columns(branch, names)
            other = branch.output()
            _require(
                [c.name for c in other] == [c.name for c in first],
                "unionAll branches must have the same column names in the same order",
            )
            _require(
                [c.sql_type for c in other] == [c.sql_type for c in first],
                "unionAll branches must have the same column types",
            )
        for column in first:
            add(column.name)
    return names


def parse_view_structure(view: Any) -> ViewDef:
    """Validate a ViewDefinition's structure (a dict as in JSON); raises :class:`ViewDefinitionError`.

    Its paths, constants and functions are checked by compiling it: use
    :func:`anonymizer.views.validate.parse_view` for the full check.
    """
    _require(isinstance(view, dict) and view != {}, "a ViewDefinition must be a non-empty JSON object")
    resource = view.get("resource")
    _require(isinstance(resource, str) and resource != "", "the ViewDefinition has no resource type")
    _require(resource in r4().resource_types, f"unknown resource type {resource!r}")
    name = view.get("name")
    if name is not None:
        _sql_name(name, "view name")
    selects = view.get("select")
    _require(isinstance(selects, list) and len(selects) > 0, "a ViewDefinition needs at least one select")
    constants = dict(_constant(c) for c in view.get("constant", []))
    _require(len(constants) == len(view.get("constant", [])), "constant names must be unique")
    where = view.get("where", [])
    _require(isinstance(where, list), "where must be a list")
    where_paths = tuple(_path(w.get("path") if isinstance(w, dict) else None, "where path") for w in where)
    root = SelectDef((), tuple(_select(s) for s in selects), (), None)
    _validate_columns(root, [])
    parsed = ViewDef(
        name=name or f"{resource.lower()}_view",
        resource=resource,
        url=view.get("url") if isinstance(view.get("url"), str) else None,
        constants=constants,
        root=root,
        where=where_paths,
        fingerprint=fingerprint(view),
    )
    return parsed
