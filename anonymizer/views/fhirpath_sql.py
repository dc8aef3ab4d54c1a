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

from collections.abc import Callable, Mapping
from dataclasses import replace

from anonymizer.fhir.model import PRIMITIVE_TYPES, r4
from anonymizer.views.cardinality import repeats
from anonymizer.views.errors import ViewDefinitionError
from anonymizer.views.fhirpath_functions import ARITY, FUNCTIONS, type_argument
from anonymizer.views.fhirpath_parser import Binary, Call, Index, Literal, Member, Negate, This, Variable
from anonymizer.views.parsed_nodes import RAW, Node, NodeTree
from anonymizer.views.sql_text import EMPTY, as_map, fresh, ident, quote, single_value, split_value
from anonymizer.views.sql_values import (
    Constant,
    Scope,
    Value,
    capitalised,
    elements,
    is_numeric,
    only_element,
    to_bool,
    to_coll,
    to_num,
    to_text,
)

# Longest SQL of a collection read up to three times instead of once through ``flatten`` (see _plain_path).
_CHEAP_LENGTH = 200


class ExpressionCompiler:
    """Compiles FHIRPath ASTs of one view (its resource type and constants) to Spark SQL."""

    def __init__(self, resource_type: str, constants: Mapping[str, Constant]) -> None:
        self.resource_type = resource_type
        self.constants = constants
        self.model = r4()
        self.tree = NodeTree(resource_type, set())
        self.root_sql = f"array({RAW})"

    def new_pass(self, tree: NodeTree | None = None) -> None:
        """Start a compilation pass with the opaque nodes learned so far (or in ``tree``, shared by views)."""
        self.tree = tree or NodeTree(self.resource_type, self.tree.opaque)

    # -- entry points -------------------------------------------------------------------------------------------
    def root_scope(self) -> Scope:
        """The scope of the resource itself."""
        sql = self.root_sql
        root = Value(sql, "coll", self.resource_type, self.resource_type, self.tree.root, one=(sql, RAW))
        return Scope(root, "0", True)

    def element_scope(self, element: str, like: Value, row_index: str) -> Scope:
        """The scope of one element (a lambda variable) of collection ``like``."""
        sql = f"array({element})"
        value = Value(sql, "coll", like.fhir_type, like.type_path, like.node, one=(sql, element))
        return Scope(value, row_index, False)

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
                return self.member(scope.focus, node.name, scope.at_root)
            return self.member(self.compile(node.source, scope), node.name, False)
        if isinstance(node, Index):
            source = self.compile(node.source, scope)
            if isinstance(node.index, Literal) and node.index.kind == "integer":
                coll, position = elements(source), int(node.index.value) + 1
                sql = f"slice({coll}, {position}, 1)"
                return replace(source, sql=sql, kind="coll", one=(sql, f"try_element_at({coll}, {position})"))
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

    def member(self, source: Value, name: str, at_root: bool, known: tuple[str, str] | None = None) -> Value:
        """Navigate to member ``name`` of ``source`` (``known``: its keys' FHIR type and type path)."""
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
        at_root = source.sql == self.root_sql
        if len(keys) == 1 and child_type and child_path and self._structured(child_type):
            node = self.tree.child(parent, keys[0], child_path)
            if node is not None:
                return self._node(source, node, ident(keys[0]), child_type, child_path)
        # A single primitive (R4) is one value: the parse guarantees its text is not a JSON array.
        plain = len(keys) == 1 and child_type in PRIMITIVE_TYPES and not repeats(parent.type_path, keys[0])
        split = single_value if plain else split_value
        for key in keys:
            parent.use(key, as_text=True, plain=plain)
        if at_root:
            parts = [split(f"{RAW}.{ident(k)}") for k in keys]
            body = parts[0] if len(parts) == 1 else f"concat({', '.join(parts)})"
            text = (body, f"{RAW}.{ident(keys[0])}") if len(keys) == 1 else None
            return Value(body, "coll", child_type, child_path, text=text, plain=plain)
        m = fresh("m")
        if plain:
            sql = f"array_compact(transform({source.sql}, {m} -> {m}.{ident(keys[0])}))"
        else:
            parts = [split_value(f"{m}.{ident(k)}") for k in keys]
            body = parts[0] if len(parts) == 1 else f"concat({', '.join(parts)})"
            sql = f"flatten(transform({source.sql}, {m} -> {body}))"
        if len(keys) == 1 and _plain_path(source.sql):
            # Mostly one element: its member split, without the lambda and ``flatten`` (the same collection).
            sql = (
                f"IF(size({source.sql}) = 1, {split(f'element_at({source.sql}, 1).{ident(keys[0])}')}, {sql})"
            )
        # At most one element: the collection is that element's member split (none when there is no element).
        element = only_element(source)
        text = (sql, f"({element}).{ident(keys[0])}") if element is not None and len(keys) == 1 else None
        return Value(sql, "coll", child_type, child_path, text=text, plain=plain)

    def _node(self, source: Value, node: Node, field: str, child_type: str, child_path: str) -> Value:
        """A child node's elements, read from the R4-shaped parse (an array of parsed structs, never NULL).

        A single node is a struct field, NULL when absent; a repeating one is an array, NULL when absent, whose NULL
        elements (``[null]`` in the JSON) are not elements. From one element, a single node's value is known to be
        that field (see :class:`~anonymizer.views.sql_values.Value`), so reading it needs no array.
        """
        empty = self.tree.empty_array(node)
        element = only_element(source)
        if element is not None:
            value = f"({element}).{field}"
            if not node.repeated:
                sql = f"IF({value} IS NULL, {empty}, array({value}))"
                return Value(sql, "coll", child_type, child_path, node, one=(sql, value))
            sql = f"array_compact(coalesce({value}, {empty}))"
            if not _plain_path(value):
                return Value(sql, "coll", child_type, child_path, node)
            # The first element without compacting the array: its first item unless that is NULL.
            head = f"coalesce(try_element_at({value}, 1), try_element_at(array_compact({value}), 1))"
            return Value(sql, "coll", child_type, child_path, node, head=(sql, head))
        values = f"({source.sql}).{field}"
        if node.repeated:
            # NULL arrays dropped before ``flatten`` (which is NULL if any is), then the NULL elements.
            values = f"flatten(array_compact({values}))"
        return Value(f"array_compact({values})", "coll", child_type, child_path, node)

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
                return [name + capitalised(t) for t in choices], None, None
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
            # ``array_union``: the elements of both in order, without duplicates (``array_distinct(concat(...))``,
            # without copying both arrays into one first).
            return Value(f"array_union({to_coll(left)}, {to_coll(right)})", "coll", None, None)
        if op in ("in", "contains"):
            item, coll = (left, right) if op == "in" else (right, left)
            return Value(f"array_contains({to_coll(coll)}, {to_text(item)})", "bool", "boolean")
        if op == "&":
            return Value(
                f"concat(coalesce({to_text(left)}, ''), coalesce({to_text(right)}, ''))", "str", "string"
            )
        if op == "+" and not (is_numeric(left) or is_numeric(right)):
            return Value(f"concat({to_text(left)}, {to_text(right)})", "str", "string")
        a, b = to_num(left), to_num(right)
        if op == "/":
            return Value(f"try_divide({a}, {b})", "num", "decimal")
        if op == "div":
            return Value(
                f"IF({b} = 0, CAST(NULL AS DOUBLE), CAST(({a}) DIV ({b}) AS DOUBLE))", "num", "integer"
            )
        if op == "mod":
            return Value(f"IF({b} = 0, CAST(NULL AS DOUBLE), {a} % {b})", "num", "decimal")
        both_int = left.fhir_type == right.fhir_type == "integer"
        return Value(f"({a} {op} {b})", "num", "integer" if both_int else "decimal")

    def _compare(self, op: str, left: Value, right: Value) -> str:
        if op in ("~", "!~"):
            equal = f"(lower(trim({to_text(left)})) <=> lower(trim({to_text(right)})))"
            return equal if op == "~" else f"(NOT {equal})"
        sql_op = "<>" if op == "!=" else op
        if is_numeric(left) or is_numeric(right):
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
        handler = FUNCTIONS.get(node.name)
        if handler is None:
            raise ViewDefinitionError(f"unsupported FHIRPath function {node.name}()")
        arity = ARITY[node.name]
        if not arity[0] <= len(node.args) <= arity[1]:
            raise ViewDefinitionError(f"wrong number of arguments to {node.name}()")
        return handler(self, source, node.args, scope, at_root)

    def _of_type_member(self, node: Call, scope: Scope) -> Value:
        """``x.ofType(T)`` on a choice element ``x``: the ``x<T>`` key (``value.ofType(Quantity)`` -> ``valueQuantity``)."""
        member = node.source
        assert isinstance(member, Member)
        type_name = type_argument(node)
        if member.source is None:
            source, at_root = scope.focus, scope.at_root
        else:
            source, at_root = self.compile(member.source, scope), False
        keys, child_type, _ = self._keys(source, member.name)
        if child_type is not None:  # not a choice element: filter by type
            plain = self.member(source, member.name, at_root)
            return plain if self.model.is_a(child_type, type_name) else Value(EMPTY)
        key = member.name + capitalised(type_name)
        if source.node is not None:
            return self.member(source, key, at_root, known=(type_name, type_name))
        navigated = self.member(replace(source, type_path=None), key, at_root)
        return Value(navigated.sql, "coll", type_name, type_name)

    def lambda_over(self, source: Value, body: Callable[[Scope], str], function: str) -> str:
        """``function(collection, x -> body)`` with ``x`` as the focus of the body."""
        x = fresh("x")
        return f"{function}({elements(source)}, {x} -> {body(self.element_scope(x, source, '0'))})"


def _plain_path(sql: str) -> bool:
    """Whether ``sql`` is cheap to evaluate more than once: short, without lambdas (field paths, ``coalesce``)."""
    return "->" not in sql and len(sql) <= _CHEAP_LENGTH
