"""Compile FHIRPath ASTs to Spark SQL over JSON text.

A FHIRPath collection is a Spark ``array<string>`` of element texts: objects and arrays as their JSON text,
primitives as their text (strings unquoted, as ``from_json`` gives them). Member navigation parses an
element's JSON as ``map<string,string>`` and splits array members into element texts; everything else
(``where``, ``exists``, ``first``, indexers, comparisons, arithmetic, boundaries, reference keys) uses
built-in functions and higher-order functions present in Spark 3.5 and 4.x. No Python UDF is used.

Scalar results (booleans, numbers, strings from operators) stay typed SQL values (``kind`` bool/num/str) and
are turned into collections only where a collection is needed. NULL is the empty collection of a scalar.
The static FHIR type of elements is followed through the R4 model, so ``value.ofType(Quantity).value`` is
known to be a decimal and ``birthDate`` a date.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from anonymizer.fhir.model import PRIMITIVE_TYPES, r4
from anonymizer.views.boundaries import boundary
from anonymizer.views.errors import ViewDefinitionError
from anonymizer.views.fhirpath_parser import Binary, Call, Index, Literal, Member, Negate, This, Variable
from anonymizer.views.parsed_nodes import Node, NodeTree
from anonymizer.views.sql_text import EMPTY, as_map, fresh, ident, quote, split_value

ROOT = "array(_root)"
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

    With ``node``, a collection is an array of the node's parsed structs instead of element texts.
    """

    sql: str
    kind: str = "coll"
    fhir_type: str | None = None
    type_path: str | None = None
    node: Node | None = None


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
            return f"transform({v.sql}, {r} -> _resource)"
        v.node.tree.mark_opaque(v.node)
        return EMPTY
    if v.kind == "coll":
        return v.sql
    return f"IF(({v.sql}) IS NULL, {EMPTY}, array(CAST({v.sql} AS STRING)))"


def to_text(v: Value) -> str:
    """The value's single element as text (NULL when empty)."""
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
    if v.kind == "coll":
        c = to_coll(v)
        return f"CASE WHEN size({c}) = 0 THEN NULL ELSE try_element_at({c}, 1) <> 'false' END"
    return f"(({v.sql}) IS NOT NULL)"


def elements(v: Value) -> str:
    """The value as a collection, parsed structs kept (for functions that do not look into elements)."""
    return v.sql if v.node is not None else to_coll(v)


def _is_numeric(v: Value) -> bool:
    return v.kind == "num" or v.fhir_type in NUMERIC_TYPES


def _capital(name: str) -> str:
    return name[:1].upper() + name[1:]


class ExpressionCompiler:
    """Compiles FHIRPath ASTs of one view (its resource type and constants) to Spark SQL."""

    def __init__(self, resource_type: str, constants: Mapping[str, Constant]) -> None:
        self.resource_type = resource_type
        self.constants = constants
        self.model = r4()
        self.tree = NodeTree(resource_type, set())

    def new_pass(self) -> None:
        """Start a compilation pass with the opaque nodes learned so far."""
        self.tree = NodeTree(self.resource_type, self.tree.opaque)

    # -- entry points -------------------------------------------------------------------------------------------
    def root_scope(self) -> Scope:
        """The scope of the resource itself."""
        return Scope(Value(ROOT, "coll", self.resource_type, self.resource_type, self.tree.root), "0", True)

    def element_scope(self, element: str, like: Value, row_index: str) -> Scope:
        """The scope of one element (a lambda variable) of collection ``like``."""
        return Scope(
            Value(f"array({element})", "coll", like.fhir_type, like.type_path, like.node), row_index, False
        )

    def compile(self, node: object, scope: Scope) -> Value:
        """Compile one AST node in ``scope``."""
        if isinstance(node, Literal):
            return self._literal(node)
        if isinstance(node, Variable):
            return self._variable(node, scope)
        if isinstance(node, This):
            return scope.focus
        if isinstance(node, Member):
            if node.source is None:
                if node.name == self.resource_type and scope.at_root:
                    return scope.focus
                return self._member(scope.focus, node.name, scope.at_root)
            return self._member(self.compile(node.source, scope), node.name, False)
        if isinstance(node, Index):
            source = self.compile(node.source, scope)
            if isinstance(node.index, Literal) and node.index.kind == "integer":
                return replace(
                    source, sql=f"slice({elements(source)}, {int(node.index.value) + 1}, 1)", kind="coll"
                )
            return self._index(source, self.compile(node.index, scope))
        if isinstance(node, Negate):
            return Value(f"(-{to_num(self.compile(node.operand, scope))})", "num", "decimal")
        if isinstance(node, Binary):
            return self._binary(node, scope)
        if isinstance(node, Call):
            return self._call(node, scope)
        raise ViewDefinitionError(f"unsupported FHIRPath construct {type(node).__name__}")

    # -- terms ----------------------------------------------------------------------------------------------------
    def _literal(self, node: Literal) -> Value:
        if node.kind == "empty":
            return Value(EMPTY)
        if node.kind == "boolean":
            return Value(node.value, "bool", "boolean")
        if node.kind in ("integer", "decimal"):
            return Value(f"CAST({node.value} AS DOUBLE)", "num", node.kind)
        return Value(quote(node.value), "str", node.kind)

    def _variable(self, node: Variable, scope: Scope) -> Value:
        if node.name == "rowIndex":
            return Value(scope.row_index, "num", "integer")
        if node.name in ("resource", "rootResource", "context"):
            return self.root_scope().focus
        constant = self.constants.get(node.name)
        if constant is None:
            raise ViewDefinitionError(f"undefined constant %{node.name}")
        return Value(constant.sql, constant.kind, constant.fhir_type)

    def _member(self, source: Value, name: str, at_root: bool, known: tuple[str, str] | None = None) -> Value:
        keys, child_type, child_path = ([name], *known) if known else self._keys(source, name)
        if source.node is not None:
            return self._parsed_member(source, source.node, keys, child_type, child_path)
        m = fresh("m")
        parts = [split_value(f"{m}[{quote(k)}]") for k in keys]
        body = parts[0] if len(parts) == 1 else f"concat({', '.join(parts)})"
        a = fresh("a")
        maps = f"transform({to_coll(source)}, {a} -> {as_map(a)})"
        return Value(f"flatten(transform({maps}, {m} -> {body}))", "coll", child_type, child_path)

    def _parsed_member(
        self, source: Value, parent: Node, keys: list[str], child_type: str | None, child_path: str | None
    ) -> Value:
        """Member navigation on parsed structs: a complex child is a node, anything else the member's texts."""
        at_root = source.sql == ROOT
        if len(keys) == 1 and child_type and child_path and self._structured(child_type):
            node = self.tree.child(parent, keys[0], child_path)
            if node is not None:
                field = ident(keys[0])
                if at_root:
                    return Value(f"_root.{field}", "coll", child_type, child_path, node)
                m = fresh("m")
                sql = f"flatten(transform({source.sql}, {m} -> {m}.{field}))"
                return Value(sql, "coll", child_type, child_path, node)
        for key in keys:
            parent.use(key, as_text=True)
        if at_root:
            parts = [split_value(f"_root.{ident(k)}") for k in keys]
            body = parts[0] if len(parts) == 1 else f"concat({', '.join(parts)})"
            return Value(body, "coll", child_type, child_path)
        m = fresh("m")
        parts = [split_value(f"{m}.{ident(k)}") for k in keys]
        body = parts[0] if len(parts) == 1 else f"concat({', '.join(parts)})"
        return Value(f"flatten(transform({source.sql}, {m} -> {body}))", "coll", child_type, child_path)

    def _structured(self, fhir_type: str) -> bool:
        """Whether elements of this type are parsed into structs (complex data types and backbone elements)."""
        return (
            fhir_type not in PRIMITIVE_TYPES
            and fhir_type[:1].isupper()
            and fhir_type not in ("Resource", "DomainResource")
            and fhir_type not in self.model.resource_types
        )

    def _keys(self, source: Value, name: str) -> tuple[list[str], str | None, str | None]:
        """JSON keys of member ``name`` (all ``name<Type>`` keys of a choice element) and its static type."""
        if source.type_path is None:
            return [name], None, None
        child = self.model.child(source.type_path, name)
        if child is not None:
            return [name], child.fhir_type, child.type_path
        for base in self.model._candidates(source.type_path):
            choices = self.model.choices.get(f"{base}.{name}")
            if choices:
                return [name + _capital(t) for t in choices], None, None
        return [name], None, None

    def _index(self, source: Value, index: Value) -> Value:
        coll = elements(source)
        i = f"CAST({to_num(index)} AS INT)"
        x, j = fresh("x"), fresh("j")
        return replace(source, sql=f"filter({coll}, ({x}, {j}) -> {j} = {i})", kind="coll")

    # -- operators ------------------------------------------------------------------------------------------------
    def _binary(self, node: Binary, scope: Scope) -> Value:
        left, right = self.compile(node.left, scope), self.compile(node.right, scope)
        op = node.op
        if op in ("and", "or"):
            return Value(f"({to_bool(left)} {op.upper()} {to_bool(right)})", "bool", "boolean")
        if op == "xor":
            return Value(f"({to_bool(left)} <> {to_bool(right)})", "bool", "boolean")
        if op == "implies":
            return Value(f"((NOT {to_bool(left)}) OR {to_bool(right)})", "bool", "boolean")
        if op in ("=", "!=", "<", "<=", ">", ">=", "~", "!~"):
            return Value(self._compare(op, left, right), "bool", "boolean")
        if op == "|":
            return Value(f"array_distinct(concat({to_coll(left)}, {to_coll(right)}))", "coll", None, None)
        if op in ("in", "contains"):
            item, coll = (left, right) if op == "in" else (right, left)
            return Value(f"array_contains({to_coll(coll)}, {to_text(item)})", "bool", "boolean")
        if op == "&":
            return Value(
                f"concat(coalesce({to_text(left)}, ''), coalesce({to_text(right)}, ''))", "str", "string"
            )
        if op == "+" and not (_is_numeric(left) or _is_numeric(right)):
            return Value(f"concat({to_text(left)}, {to_text(right)})", "str", "string")
        a, b = to_num(left), to_num(right)
        if op == "/":
            return Value(f"try_divide({a}, {b})", "num", "decimal")
        if op == "div":
            return Value(f"IF({b} = 0, NULL, CAST(({a}) DIV ({b}) AS DOUBLE))", "num", "integer")
        if op == "mod":
            return Value(f"IF({b} = 0, NULL, {a} % {b})", "num", "decimal")
        both_int = left.fhir_type == right.fhir_type == "integer"
        return Value(f"({a} {op} {b})", "num", "integer" if both_int else "decimal")

    def _compare(self, op: str, left: Value, right: Value) -> str:
        if op in ("~", "!~"):
            equal = f"(lower(trim({to_text(left)})) <=> lower(trim({to_text(right)})))"
            return equal if op == "~" else f"(NOT {equal})"
        sql_op = "<>" if op == "!=" else op
        if _is_numeric(left) or _is_numeric(right):
            return f"({to_num(left)} {sql_op} {to_num(right)})"
        if (left.kind == "bool" or right.kind == "bool") and op in ("=", "!="):
            return f"({to_bool(left)} {sql_op} {to_bool(right)})"
        a, b = to_text(left), to_text(right)
        if (
            left.kind == "coll"
            and right.kind == "coll"
            and left.fhir_type is None
            and right.fhir_type is None
        ):
            # Unknown static types on both sides: numbers compare as numbers, anything else as text.
            na, nb = f"try_cast({a} AS DOUBLE)", f"try_cast({b} AS DOUBLE)"
            return f"(CASE WHEN {na} IS NOT NULL AND {nb} IS NOT NULL THEN {na} {sql_op} {nb} ELSE {a} {sql_op} {b} END)"
        return f"({a} {sql_op} {b})"

    # -- functions ------------------------------------------------------------------------------------------------
    def _call(self, node: Call, scope: Scope) -> Value:
        if node.name == "ofType" and isinstance(node.source, Member):
            return self._of_type_member(node, scope)
        source = scope.focus if node.source is None else self.compile(node.source, scope)
        at_root = scope.at_root and node.source is None
        handler = _FUNCTIONS.get(node.name)
        if handler is None:
            raise ViewDefinitionError(f"unsupported FHIRPath function {node.name}()")
        arity = _ARITY[node.name]
        if not arity[0] <= len(node.args) <= arity[1]:
            raise ViewDefinitionError(f"wrong number of arguments to {node.name}()")
        return handler(self, source, node.args, scope, at_root)

    def _of_type_member(self, node: Call, scope: Scope) -> Value:
        """``x.ofType(T)`` on a choice element ``x``: the ``x<T>`` key (``value.ofType(Quantity)`` -> ``valueQuantity``)."""
        member = node.source
        assert isinstance(member, Member)
        type_name = _type_argument(node)
        if member.source is None:
            source, at_root = scope.focus, scope.at_root
        else:
            source, at_root = self.compile(member.source, scope), False
        keys, child_type, _ = self._keys(source, member.name)
        if child_type is not None:  # not a choice element: filter by type
            plain = self._member(source, member.name, at_root)
            return plain if self.model.is_a(child_type, type_name) else Value(EMPTY)
        key = member.name + _capital(type_name)
        if source.node is not None:
            return self._member(source, key, at_root, known=(type_name, type_name))
        navigated = self._member(replace(source, type_path=None), key, at_root)
        return Value(navigated.sql, "coll", type_name, type_name)

    def lambda_over(self, source: Value, body: Callable[[Scope], str], function: str) -> str:
        """``function(collection, x -> body)`` with ``x`` as the focus of the body."""
        x = fresh("x")
        return f"{function}({elements(source)}, {x} -> {body(self.element_scope(x, source, '0'))})"


def _type_argument(node: Call) -> str:
    arg = node.args[0] if node.args else None
    if isinstance(arg, Member) and arg.source is None:
        return arg.name
    if isinstance(arg, Literal) and arg.kind == "string":
        return arg.value
    if isinstance(arg, Member) and isinstance(arg.source, Member) and arg.source.source is None:
        return arg.name  # FHIR.Quantity / System.String
    raise ViewDefinitionError(f"{node.name}() needs a type name")


def _string_argument(compiler: ExpressionCompiler, node: object, scope: Scope) -> str:
    return to_text(compiler.compile(node, scope))


def _fn_exists(c: ExpressionCompiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    if args:
        return Value(
            c.lambda_over(src, lambda s: to_bool(c.compile(args[0], s)) + " = true", "exists"), "bool"
        )
    if src.kind != "coll":
        return Value(f"(({src.sql}) IS NOT NULL)", "bool", "boolean")
    return Value(f"(size({src.sql}) > 0)", "bool", "boolean")


def _fn_empty(c: ExpressionCompiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    if src.kind != "coll":
        return Value(f"(({src.sql}) IS NULL)", "bool", "boolean")
    return Value(f"(size({src.sql}) = 0)", "bool", "boolean")


def _fn_where(c: ExpressionCompiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    sql = c.lambda_over(src, lambda s: f"coalesce({to_bool(c.compile(args[0], s))}, false)", "filter")
    return replace(src, sql=sql, kind="coll")


def _fn_select(c: ExpressionCompiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    types: list[Value] = []

    def body(s: Scope) -> str:
        value = c.compile(args[0], s)
        types.append(value)
        return to_coll(value)

    sql = f"flatten({c.lambda_over(src, body, 'transform')})"
    return Value(sql, "coll", types[0].fhir_type, types[0].type_path)


def _fn_all(c: ExpressionCompiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    return Value(
        c.lambda_over(src, lambda s: f"coalesce({to_bool(c.compile(args[0], s))}, false)", "forall"), "bool"
    )


def _slice(start: int, length: int | None = None) -> Callable[..., Value]:
    def fn(c: ExpressionCompiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
        coll = elements(src)
        x, j = fresh("x"), fresh("j")
        sql = f"slice({coll}, {start}, {length})" if length else f"filter({coll}, ({x}, {j}) -> {j} > 0)"
        return replace(src, sql=sql, kind="coll")

    return fn


def _fn_last(c: ExpressionCompiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    coll = elements(src)
    return replace(src, sql=f"IF(size({coll}) = 0, {coll}, slice({coll}, -1, 1))", kind="coll")


def _fn_count(c: ExpressionCompiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    return Value(f"CAST(size({elements(src)}) AS DOUBLE)", "num", "integer")


def _fn_not(c: ExpressionCompiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    return Value(f"(NOT {to_bool(src)})", "bool", "boolean")


def _fn_distinct(c: ExpressionCompiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    return replace(src, sql=f"array_distinct({to_coll(src)})", kind="coll", node=None)


def _fn_join(c: ExpressionCompiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    separator = _string_argument(c, args[0], scope) if args else "''"
    return Value(f"array_join({to_coll(src)}, coalesce({separator}, ''))", "str", "string")


def _fn_of_type(c: ExpressionCompiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    type_name = _type_argument(Call(None, "ofType", args))
    if type_name in c.model.resource_types:
        x = fresh("x")
        sql = f"filter({to_coll(src)}, {x} -> get_json_object({x}, '$.resourceType') = {quote(type_name)})"
        return Value(sql, "coll", type_name, type_name)
    if src.fhir_type is not None and not c.model.is_a(src.fhir_type, type_name):
        return Value(EMPTY)
    return Value(to_coll(src), "coll", type_name, type_name)


def _fn_extension(c: ExpressionCompiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    url = _string_argument(c, args[0], scope)
    extensions = c._member(src, "extension", at_root)
    x = fresh("x")
    sql = f"filter({to_coll(extensions)}, {x} -> get_json_object({x}, '$.url') = {url})"
    return Value(sql, "coll", "Extension", "Extension")


def _fn_resource_key(c: ExpressionCompiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    return c._member(c.root_scope().focus, "id", True) if at_root else c._member(src, "id", False)


# Relative literal references (``Type/id``, optionally absolute or versioned) and ``urn:uuid:`` references.
_REFERENCE = "'^(?:.*/)?([A-Z][A-Za-z]+)/([A-Za-z0-9.\\\\-]{1,64})(?:/_history/[^/]+)?$'"


def _fn_reference_key(c: ExpressionCompiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    references = to_coll(c._member(src, "reference", at_root))
    r = fresh("r")
    wanted_type = _type_argument(Call(None, "getReferenceKey", args)) if args else None
    if wanted_type is not None and re.fullmatch("[A-Z][A-Za-z]+", wanted_type):
        # The same match as below with the type in the pattern: one regular expression per reference, and its
        # empty result (ids are never empty) means "no such reference".
        typed = quote(f"^(?:.*/)?{wanted_type}/([A-Za-z0-9.\\-]{{1,64}})(?:/_history/[^/]+)?$")
        k = fresh("k")
        keys = f"transform({references}, {r} -> regexp_extract({r}, {typed}, 1))"
        return Value(f"filter({keys}, {k} -> {k} <> '')", "coll", "string", "string")
    wanted = (
        f" AND regexp_extract({r}, {_REFERENCE}, 1) = {quote(_type_argument(Call(None, 'getReferenceKey', args)))}"
        if args
        else ""
    )
    keep = f"({r} RLIKE {_REFERENCE}{wanted})"
    if not args:
        keep = f"({keep} OR {r} LIKE 'urn:uuid:%')"
    key = f"IF({r} LIKE 'urn:uuid:%', substr({r}, 10), regexp_extract({r}, {_REFERENCE}, 2))"
    return Value(f"transform(filter({references}, {r} -> {keep}), {r} -> {key})", "coll", "string", "string")


def _boundary(high: bool) -> Callable[..., Value]:
    def fn(c: ExpressionCompiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
        x = fresh("x")
        bound = boundary(x, src.fhir_type, high)
        sql = f"filter(transform({to_coll(src)}, {x} -> {bound}), {x} -> {x} IS NOT NULL)"
        out_type = {"date": "date", "time": "time", "instant": "dateTime"}.get(
            src.fhir_type or "", src.fhir_type
        )
        return Value(sql, "coll", out_type, out_type)

    return fn


def _string_fn(template: str, kind: str = "str", fhir_type: str = "string") -> Callable[..., Value]:
    def fn(c: ExpressionCompiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
        values = [to_text(src)] + [_string_argument(c, a, scope) for a in args] + ["NULL"]
        return Value(template.format(*values), kind, fhir_type)

    return fn


def _fn_substring(c: ExpressionCompiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    start = f"CAST({to_num(c.compile(args[0], scope))} AS INT)"
    text = to_text(src)
    length = f"CAST({to_num(c.compile(args[1], scope))} AS INT)" if len(args) > 1 else f"length({text})"
    return Value(
        f"IF({start} < 0 OR {start} >= length({text}), NULL, substr({text}, {start} + 1, {length}))",
        "str",
        "string",
    )


def _fn_iif(c: ExpressionCompiler, src: Value, args: tuple, scope: Scope, at_root: bool) -> Value:
    condition = to_bool(c.compile(args[0], scope))
    then = c.compile(args[1], scope)
    otherwise = c.compile(args[2], scope) if len(args) > 2 else Value(EMPTY)
    return Value(
        f"IF(coalesce({condition}, false), {to_coll(then)}, {to_coll(otherwise)})", "coll", then.fhir_type
    )


_FUNCTIONS: dict[str, Callable[..., Value]] = {
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
_ARITY: dict[str, tuple[int, int]] = {name: (0, 0) for name in _FUNCTIONS}
_ARITY.update(
    exists=(0, 1), where=(1, 1), select=(1, 1), all=(1, 1), join=(0, 1), ofType=(1, 1), extension=(1, 1),
    getReferenceKey=(0, 1), iif=(2, 3), startsWith=(1, 1), endsWith=(1, 1), contains=(1, 1), matches=(1, 1),
    substring=(1, 2),
)  # fmt: skip
