"""The FHIRPath functions views may call (``exists``, ``where``, ``first``, ``join``, ``ofType``,
``getResourceKey``, ``lowBoundary``, ...), each compiled to Spark SQL; ``FUNCTIONS`` maps a name to its
compiler and ``ARITY`` to its allowed argument counts."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from anonymizer.fhir.model import TypeModel
from anonymizer.views.boundaries import boundary
from anonymizer.views.errors import ViewDefinitionError
from anonymizer.views.fhirpath_parser import Call, Literal, Member
from anonymizer.views.sql_text import EMPTY, fresh, quote
from anonymizer.views.sql_values import (
    Scope,
    Value,
    elements,
    first_element,
    member_text,
    to_bool,
    to_coll,
    to_num,
    to_text,
)


class Compiler(Protocol):
    """What the functions need of the expression compiler (`anonymizer.views.fhirpath_sql.ExpressionCompiler`)."""

    model: TypeModel

    def compile(self, node: object, scope: Scope) -> Value:
        """Compile one AST node in ``scope``."""
        ...

    def member(self, source: Value, name: str, at_root: bool, known: tuple[str, str] | None = None) -> Value:
        """Navigate to member ``name`` of ``source``."""
        ...

    def root_scope(self) -> Scope:
        """The scope of the resource itself."""
        ...

    def lambda_over(self, source: Value, body: Callable[[Scope], str], function: str) -> str:
        """``function(collection, x -> body)`` with ``x`` as the focus of the body."""
        ...


def type_argument(node: Call) -> str:
    arg = node.args[0] if node.args else None
    if isinstance(arg, Member) and arg.source is None:
        return arg.name
    if isinstance(arg, Literal) and arg.kind == "string":
        return arg.value
    if isinstance(arg, Member) and isinstance(arg.source, Member) and arg.source.source is None:
        return arg.name  # FHIR.Quantity / System.String
    raise ViewDefinitionError(f"{node.name}() needs a type name")


def _string_argument(compiler: Compiler, node: object, scope: Scope) -> str:
    return to_text(compiler.compile(node, scope))


def _fn_exists(c: Compiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    if args:
        return Value(
            c.lambda_over(src, lambda s: to_bool(c.compile(args[0], s)) + " = true", "exists"), "bool"
        )
    if src.kind != "coll":
        return Value(f"(({src.sql}) IS NOT NULL)", "bool", "boolean")
    return Value(f"(size({src.sql}) > 0)", "bool", "boolean")


def _fn_empty(c: Compiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    if src.kind != "coll":
        return Value(f"(({src.sql}) IS NULL)", "bool", "boolean")
    return Value(f"(size({src.sql}) = 0)", "bool", "boolean")


def _fn_where(c: Compiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    sql = c.lambda_over(src, lambda s: f"coalesce({to_bool(c.compile(args[0], s))}, false)", "filter")
    return replace(src, sql=sql, kind="coll")


def _fn_select(c: Compiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    types: list[Value] = []

    def body(s: Scope) -> str:
        value = c.compile(args[0], s)
        types.append(value)
        return to_coll(value)

    sql = f"flatten({c.lambda_over(src, body, 'transform')})"
    return Value(sql, "coll", types[0].fhir_type, types[0].type_path)


def _fn_all(c: Compiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    return Value(
        c.lambda_over(src, lambda s: f"coalesce({to_bool(c.compile(args[0], s))}, false)", "forall"), "bool"
    )


def _slice(start: int, length: int | None = None) -> Callable[..., Value]:
    def fn(c: Compiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
        coll = elements(src)
        x, j = fresh("x"), fresh("j")
        sql = f"slice({coll}, {start}, {length})" if length else f"filter({coll}, ({x}, {j}) -> {j} > 0)"
        first = first_element(src) if start == 1 else f"try_element_at({coll}, {start})"
        one = (sql, first) if length == 1 else None
        return replace(src, sql=sql, kind="coll", one=one)

    return fn


def _fn_last(c: Compiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    coll = elements(src)
    return replace(src, sql=f"IF(size({coll}) = 0, {coll}, slice({coll}, -1, 1))", kind="coll")


def _fn_count(c: Compiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    return Value(f"CAST(size({elements(src)}) AS DOUBLE)", "num", "integer")


def _fn_not(c: Compiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    return Value(f"(NOT {to_bool(src)})", "bool", "boolean")


def _fn_distinct(c: Compiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    return replace(src, sql=f"array_distinct({to_coll(src)})", kind="coll", node=None)


def _fn_join(c: Compiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    separator = _string_argument(c, args[0], scope) if args else "''"
    return Value(f"array_join({to_coll(src)}, coalesce({separator}, ''))", "str", "string")


def _fn_of_type(c: Compiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    type_name = type_argument(Call(None, "ofType", args))
    if type_name in c.model.resource_types:
        x = fresh("x")
        sql = f"filter({to_coll(src)}, {x} -> get_json_object({x}, '$.resourceType') = {quote(type_name)})"
        return Value(sql, "coll", type_name, type_name)
    if src.fhir_type is not None and not c.model.is_a(src.fhir_type, type_name):
        return Value(EMPTY)
    return Value(to_coll(src), "coll", type_name, type_name)


def _fn_extension(c: Compiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    url = _string_argument(c, args[0], scope)
    extensions = c.member(src, "extension", at_root)
    x = fresh("x")
    sql = f"filter({to_coll(extensions)}, {x} -> get_json_object({x}, '$.url') = {url})"
    return Value(sql, "coll", "Extension", "Extension")


def _fn_resource_key(c: Compiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    return c.member(c.root_scope().focus, "id", True) if at_root else c.member(src, "id", False)


# Relative literal references (``Type/id``, optionally absolute or versioned) and ``urn:uuid:`` references.
# ``Type/id`` at the start or after a ``/`` (Spark's regexp functions search, they do not need to match from the
# start): the same matches as ``^(?:.*/)?Type/id...$``, without scanning the whole text and backtracking first.
# At most one position matches (an id has no ``/``, and ``_history`` cannot be an id or a type), so the groups
# are the same too.
_REFERENCE = "'(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9.\\\\-]{1,64})(?:/_history/[^/]+)?$'"


def typed_reference_key(r: str, wanted_type: str) -> str:
    """The key of reference ``r`` if it is a literal reference to ``wanted_type`` (``[A-Z][A-Za-z]+``), else NULL.

    The same result as the match of ``_REFERENCE`` with the type in the pattern (one regular expression per
    reference; its empty result means "no such reference", ids are never empty), without the regular expression
    in the common forms: a relative ``Type/id`` whose id is made of hex digits and ``-`` (de-identified ids are
    hex, UUIDs are hex and ``-``) is decided by its length alone, since such an id has no ``/``, no line
    terminator (before which ``$`` also matches) and only characters of the id pattern; a text without ``/``
    never matches. Anything else (absolute URLs, ``_history``, other ids, other types) goes to the expression.
    """
    typed = quote(f"(?:^|/){wanted_type}/([A-Za-z0-9.\\-]{{1,64}})(?:/_history/[^/]+)?$")
    start = len(wanted_type) + 2  # 1-based position of the id in ``Type/id``
    rest = f"substr({r}, {start})"
    return (
        f"CASE WHEN startswith({r}, {quote(wanted_type + '/')}) AND unhex(replace({rest}, '-', '')) IS NOT NULL "
        f"THEN IF(octet_length({r}) BETWEEN {start} AND {start + 63}, {rest}, NULL) "
        f"WHEN instr({r}, '/') = 0 THEN NULL "
        f"ELSE nullif(regexp_extract({r}, {typed}, 1), '') END"
    )


def _fn_reference_key(c: Compiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    member = c.member(src, "reference", at_root)
    references = to_coll(member)
    wanted_type = type_argument(Call(None, "getReferenceKey", args)) if args else None
    if wanted_type is not None and re.fullmatch("[A-Z][A-Za-z]+", wanted_type):

        def key_of(r: str) -> str:
            return typed_reference_key(r, wanted_type)

    else:
        wanted_sql = quote(type_argument(Call(None, "getReferenceKey", args))) if args else None

        def key_of(r: str) -> str:
            wanted = f" AND regexp_extract({r}, {_REFERENCE}, 1) = {wanted_sql}" if wanted_sql else ""
            keep = f"({r} RLIKE {_REFERENCE}{wanted})"
            if not args:
                keep = f"({keep} OR {r} LIKE 'urn:uuid:%')"
            key = f"IF({r} LIKE 'urn:uuid:%', substr({r}, 10), regexp_extract({r}, {_REFERENCE}, 2))"
            # The key of each reference kept (never NULL for a reference), NULL for the others, dropped.
            return f"IF({keep}, {key}, NULL)"

    r = fresh("r")
    value = _mapped(references, r, key_of(r))
    text = member_text(member)
    if text is None:
        return value
    return replace(value, mapped_text=(text, key_of(f"({text})")), plain=member.plain)


def _mapped(source: str, x: str, f: str) -> Value:
    """The string collection ``array_compact(transform(source, x -> f))``, marked so a column can fuse with it."""
    sql = f"array_compact(transform({source}, {x} -> {f}))"
    return Value(sql, "coll", "string", "string", mapped=(sql, source, x, f))


def _boundary(high: bool) -> Callable[..., Value]:
    def fn(c: Compiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
        x = fresh("x")
        bound = boundary(x, src.fhir_type, high)
        sql = f"array_compact(transform({to_coll(src)}, {x} -> {bound}))"
        out_type = {"date": "date", "time": "time", "instant": "dateTime"}.get(
            src.fhir_type or "", src.fhir_type
        )
        return Value(sql, "coll", out_type, out_type)

    return fn


def _string_fn(template: str, kind: str = "str", fhir_type: str = "string") -> Callable[..., Value]:
    def fn(c: Compiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
        values = [to_text(src)] + [_string_argument(c, a, scope) for a in args] + ["NULL"]
        return Value(template.format(*values), kind, fhir_type)

    return fn


def _fn_substring(c: Compiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    start = f"CAST({to_num(c.compile(args[0], scope))} AS INT)"
    text = to_text(src)
    length = f"CAST({to_num(c.compile(args[1], scope))} AS INT)" if len(args) > 1 else f"length({text})"
    return Value(
        f"IF({start} < 0 OR {start} >= length({text}), CAST(NULL AS STRING), substr({text}, {start} + 1, {length}))",
        "str",
        "string",
    )


def _fn_iif(c: Compiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    condition = to_bool(c.compile(args[0], scope))
    then = c.compile(args[1], scope)
    otherwise = c.compile(args[2], scope) if len(args) > 2 else Value(EMPTY)
    return Value(
        f"IF(coalesce({condition}, false), {to_coll(then)}, {to_coll(otherwise)})", "coll", then.fhir_type
    )


FUNCTIONS: dict[str, Callable[..., Value]] = {
    "exists": _fn_exists,
    "empty": _fn_empty,
    "where": _fn_where,
    "select": _fn_select,
    "all": _fn_all,
    "first": _slice(1, 1),
    "tail": _slice(2),
    "last": _fn_last,
    "count": _fn_count,
    "not": _fn_not,
    "distinct": _fn_distinct,
    "join": _fn_join,
    "ofType": _fn_of_type,
    "extension": _fn_extension,
    "getResourceKey": _fn_resource_key,
    "getReferenceKey": _fn_reference_key,
    "lowBoundary": _boundary(False),
    "highBoundary": _boundary(True),
    "iif": _fn_iif,
    "toString": _string_fn("{0}"),
    "lower": _string_fn("lower({0})"),
    "upper": _string_fn("upper({0})"),
    "trim": _string_fn("trim({0})"),
    "length": _string_fn("CAST(length({0}) AS DOUBLE)", "num", "integer"),
    "startsWith": _string_fn("startswith({0}, {1})", "bool", "boolean"),
    "endsWith": _string_fn("endswith({0}, {1})", "bool", "boolean"),
    "contains": _string_fn("(instr({0}, {1}) > 0)", "bool", "boolean"),
    "matches": _string_fn("({0} RLIKE {1})", "bool", "boolean"),
    "substring": _fn_substring,
    "toInteger": _string_fn("try_cast(try_cast({0} AS INT) AS DOUBLE)", "num", "integer"),
    "toDecimal": _string_fn("try_cast({0} AS DOUBLE)", "num", "decimal"),
    "hasValue": _string_fn("({0} IS NOT NULL)", "bool", "boolean"),
}
ARITY: dict[str, tuple[int, int]] = {name: (0, 0) for name in FUNCTIONS}
ARITY.update(
    exists=(0, 1), where=(1, 1), select=(1, 1), all=(1, 1), join=(0, 1), ofType=(1, 1), extension=(1, 1),
    getReferenceKey=(0, 1), iif=(2, 3), startsWith=(1, 1), endsWith=(1, 1), contains=(1, 1), matches=(1, 1),
    substring=(1, 2),
)  # fmt: skip
