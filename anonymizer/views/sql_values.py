"""The values FHIRPath compiles to (`anonymizer.views.fhirpath_sql`): typed SQL expressions and their scopes.

A ``Value`` is a SQL expression of kind coll (``array<string>`` of element texts, or parsed structs with a
``node``), bool, num or str, with its static FHIR type when known; ``to_coll``/``to_text``/``to_num``/``to_bool``
turn one kind into another.
"""

from __future__ import annotations

from dataclasses import dataclass

from anonymizer.views.parsed_nodes import Node
from anonymizer.views.sql_text import EMPTY, first_text, fresh

NUMERIC_TYPES = frozenset({"decimal", "integer", "positiveInt", "unsignedInt", "integer64"})
_STRING_TYPES = frozenset(
    {
        "string",
        "code",
        "id",
        "uri",
        "url",
        "canonical",
        "markdown",
        "oid",
        "uuid",
        "date",
        "dateTime",
        "instant",
        "time",
    }
)


@dataclass(frozen=True)
class Value:
    """A compiled expression: ``kind`` coll (array<string>) | bool | num | str; ``fhir_type``/``type_path`` if known.

    With ``node``, a collection is an array of the node's parsed structs instead of element texts. ``text``
    (sql, t): while ``sql`` is still this value's SQL, the collection is ``split_value(t)`` (one member's JSON
    text), so a single value can be read from ``t`` without lambdas. ``one`` (sql, e): while ``sql`` is still this
    value's SQL, the collection has at most one element, ``e`` (NULL when empty): ``first()``, ``[i]``, a
    ``forEach`` element. ``mapped`` (sql, source, x, f): while ``sql`` is still this value's SQL, the collection is
    ``array_compact(transform(source, x -> f))`` (the non-NULL results of ``f``), so a single value can be taken in
    the same lambda (see :func:`anonymizer.views.rows_sql.RowsCompiler`); ``mapped_text`` (t, g): ``source`` is
    ``split_value(t)`` and ``g`` is ``f`` of ``t``, the whole collection when ``t`` does not start like an array.
    ``head`` (sql, h): while ``sql`` is still this value's SQL, its first element is ``h`` (NULL when empty), read
    without building the collection. ``plain``: the ``t`` of ``text`` and ``mapped_text`` is a single primitive
    of the R4-shaped parse, never a JSON array (see :mod:`anonymizer.views.parsed_nodes`): the collection is at
    most ``t`` itself, ``g`` the whole collection's one value.
    """

    sql: str
    kind: str = "coll"
    fhir_type: str | None = None
    type_path: str | None = None
    node: Node | None = None
    text: tuple[str, str] | None = None
    one: tuple[str, str] | None = None
    mapped: tuple[str, str, str, str] | None = None
    mapped_text: tuple[str, str] | None = None
    head: tuple[str, str] | None = None
    plain: bool = False


def member_text(v: Value) -> str | None:
    """The JSON text ``t`` the collection ``v`` is ``split_value`` of (None when unknown; see :class:`Value`)."""
    return v.text[1] if v.text is not None and v.text[0] == v.sql and v.kind == "coll" else None


def only_element(v: Value) -> str | None:
    """SQL of the only element of ``v`` (NULL when empty) if ``v`` is known to have at most one, else None."""
    return v.one[1] if v.one is not None and v.one[0] == v.sql else None


def first_element(v: Value) -> str:
    """SQL of the first element of the collection ``v`` (NULL when empty)."""
    if v.head is not None and v.head[0] == v.sql:
        return v.head[1]
    return f"try_element_at({elements(v)}, 1)"


def mapped_text(v: Value) -> tuple[str, str] | None:
    """``(t, g)`` when ``v`` is mapped (see :func:`mapped_parts`) over ``split_value(t)``, ``g`` being ``f`` of ``t``."""
    return v.mapped_text if mapped_parts(v) is not None else None


def mapped_parts(v: Value) -> tuple[str, str, str] | None:
    """``(source, x, f)`` when ``v`` is ``array_compact(transform(source, x -> f))`` (see :class:`Value`), else None."""
    return v.mapped[1:] if v.mapped is not None and v.mapped[0] == v.sql and v.kind == "coll" else None


@dataclass(frozen=True)
class Scope:
    """Where an expression is evaluated: its focus, ``%rowIndex`` and whether the focus is the resource root."""

    focus: Value
    row_index: str = "0"
    at_root: bool = False


@dataclass(frozen=True)
class Constant:
    """A view constant as a FHIRPath literal."""

    kind: str  # bool | num | str
    sql: str
    fhir_type: str


def to_coll(v: Value) -> str:
    """The value as a collection of element texts (a parsed node is marked to be read as text next pass)."""
    if v.node is not None:
        if v.node.is_root:
            r = fresh("r")
            return f"transform({v.sql}, {r} -> {v.node.tree.text})"
        v.node.tree.mark_opaque(v.node)
        return EMPTY
    if v.kind == "coll":
        return v.sql
    return f"IF(({v.sql}) IS NULL, {EMPTY}, array(CAST({v.sql} AS STRING)))"


def to_text(v: Value) -> str:
    """The value's single element as text (NULL when empty)."""
    text = member_text(v)
    if text is not None:
        return text if v.plain else first_text(text)
    if v.kind == "coll":
        return f"try_element_at({to_coll(v)}, 1)"
    return v.sql if v.kind == "str" else f"CAST({v.sql} AS STRING)"


def to_num(v: Value) -> str:
    """The value's single element as DOUBLE (NULL when empty or not a number)."""
    if v.kind == "num":
        return v.sql
    if v.kind == "bool":
        return "CAST(NULL AS DOUBLE)"
    return f"try_cast({to_text(v)} AS DOUBLE)"


def to_bool(v: Value) -> str:
    """FHIRPath singleton evaluation as a boolean (NULL when empty; a non-boolean single item is true)."""
    if v.kind == "bool":
        return v.sql
    text = member_text(v)
    if text is not None:
        return f"({text if v.plain else first_text(text)} <> 'false')"
    if v.kind == "coll":
        c = to_coll(v)
        return (
            f"CASE WHEN size({c}) = 0 THEN CAST(NULL AS BOOLEAN) ELSE try_element_at({c}, 1) <> 'false' END"
        )
    return f"(({v.sql}) IS NOT NULL)"


def elements(v: Value) -> str:
    """The value as a collection, parsed structs kept (for functions that do not look into elements)."""
    return v.sql if v.node is not None else to_coll(v)


def is_numeric(v: Value) -> bool:
    """Whether the value is a number (a SQL number or a numeric FHIR type)."""
    return v.kind == "num" or v.fhir_type in NUMERIC_TYPES


def capitalised(name: str) -> str:
    """``name`` with its first letter upper-cased (``value`` + ``Quantity`` -> ``valueQuantity``)."""
    return name[:1].upper() + name[1:]
