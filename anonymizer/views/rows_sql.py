"""Compile a validated view's selection structures into one SQL expression: the ``array<struct>`` of its rows.

Per resource row, every select yields an array of partial rows; ``forEach``/``forEachOrNull``/``repeat``
iterate with ``transform(collection, (element, index) -> ...)`` (the index is ``%rowIndex``), nested selects
combine as a Cartesian product of nested ``transform``s, and ``unionAll`` is ``concat``. The caller explodes
the result with ``inline``. ``repeat`` walks up to :data:`REPEAT_DEPTH` levels; deeper data raises an error rather than
silently dropping rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from anonymizer.views.definition import ColumnDef, SelectDef, ViewDef
from anonymizer.views.fhirpath_parser import Variable
from anonymizer.views.fhirpath_sql import ExpressionCompiler
from anonymizer.views.parsed_nodes import RAW, NodeTree, resource_text
from anonymizer.views.sql_text import fresh, ident, let, quote, text_array
from anonymizer.views.sql_values import (
    Scope,
    Value,
    elements,
    mapped_parts,
    mapped_text,
    member_text,
    to_bool,
    to_coll,
    to_text,
)
from anonymizer.views.types import convert, mismatch_message

REPEAT_DEPTH = 32
RESOURCE_ID = f"{RAW}.`id`"
MAX_PASSES = 64


@dataclass(frozen=True)
class CompiledView:
    """A view as SQL over ``_resource`` (JSON text) and ``_raw``, its R4-shaped parse.

    ``_raw`` is ``from_json(_resource, root_schema)``, or ``root`` for a resource that parse reports in the field
    :data:`~anonymizer.views.parsed_nodes.UNPARSED` (``from_json``'s ``columnNameOfCorruptRecord``; see
    :func:`anonymizer.views.runner.view_frame`) or for which ``suspect`` (SQL over the parse, named
    :data:`~anonymizer.views.parsed_nodes.PARSED`) is true.
    """

    root_schema: str
    root: str
    suspect: str
    where: str
    rows: str


@dataclass(frozen=True)
class SharedCompiled:
    """Several views of one resource type over one parse: shared ``root_schema``/``root``, per view ``where``/``rows``."""

    root_schema: str
    root: str
    suspect: str
    views: list[tuple[str, str]]


def compile_shared(views: list[ViewDef], *, variant: bool = False) -> SharedCompiled:
    """Compile views of the same resource type over one shared parse (the union of the keys they read).

    ``variant``: the column ``_resource`` is a VARIANT rather than JSON text (the SQL converts it to text only
    where it needs the text: a resource without the R4 shape, error messages, the resource as a value).

    The views share one node tree per pass, so a key one view reads as text is text for all of them; passes
    repeat until no parsed node had to become text. Raises ViewDefinitionError like :meth:`RowsCompiler.compiled`.
    """
    if not views or len({v.resource for v in views}) != 1:
        raise ValueError("compile_shared needs views of one resource type")
    compilers = [RowsCompiler(v) for v in views]
    opaque: set[tuple[str, ...]] = set()
    for _ in range(MAX_PASSES):
        tree = NodeTree(views[0].resource, opaque, resource_text(variant))
        parts = [c.compile_pass(tree) for c in compilers]
        tree.settle()
        if not tree.dirty:
            names = ", ".join(repr(v.name or v.resource) for v in views)
            several = quote(f"[views] {'view' if len(views) == 1 else 'views'} {names}: several values")
            return SharedCompiled(
                tree.root_schema(),
                tree.root_definition(several),
                tree.suspect(),
                [(tree.resolved(where), tree.resolved(rows)) for where, rows in parts],
            )
    raise RuntimeError(  # pragma: no cover - bounded by the number of nodes views can name
        f"views {[v.name for v in views]} did not compile to a stable schema"
    )


class RowsCompiler:
    """Compiles one view."""

    def __init__(self, view: ViewDef) -> None:
        self.view = view
        self.exprs = ExpressionCompiler(view.resource, view.constants)

        self._compiled: CompiledView | None = None

    def compiled(self) -> CompiledView:
        """The view's SQL; raises ViewDefinitionError for an undefined constant or unsupported FHIRPath.

        Compiles until no parsed node had to become text (each pass turns at least one more node to text).
        """
        if self._compiled is None:
            shared = compile_shared([self.view])
            where, rows = shared.views[0]
            self._compiled = CompiledView(shared.root_schema, shared.root, shared.suspect, where, rows)
        return self._compiled

    def compile_pass(self, tree: NodeTree) -> tuple[str, str]:
        """One compilation pass over ``tree`` (possibly shared with other views): the SQL of ``where`` and rows."""
        self.exprs.new_pass(tree)
        return self._where(), self._select(self.view.root, self.exprs.root_scope())[0]

    def rows(self) -> str:
        """SQL of the view's rows over ``_resource`` and its R4-shaped parse ``_raw`` (see :class:`CompiledView`)."""
        return self.compiled().rows

    def where(self) -> str:
        """SQL of the row filter: the resource type and every ``where`` path true."""
        return self.compiled().where

    def _where(self) -> str:
        conditions = [f"{RAW}.`resourceType` = {quote(self.view.resource)}"]
        for _, ast in self.view.where:
            conditions.append(f"coalesce({to_bool(self.exprs.compile(ast, self.exprs.root_scope()))}, false)")
        return " AND ".join(f"({c})" for c in conditions)

    # -- selects --------------------------------------------------------------------------------------------------
    def _select(self, select: SelectDef, scope: Scope) -> tuple[str, str | None]:
        """SQL of the select's rows (``array<struct>``), and of its one row's struct when it always has exactly one."""
        if select.iterate is None:
            return self._body(select, scope)
        kind, _, asts = select.iterate
        foci = self._repeat(asts, scope) if kind == "repeat" else self.exprs.compile(asts[0], scope)
        element, index = fresh("f"), fresh("i")
        element_scope = self.exprs.element_scope(element, foci, index)
        body, row = self._body(select, element_scope)

        def each(collection: str) -> str:
            if row is not None:  # one row per element: no ``flatten`` of one-row arrays
                return f"transform({collection}, ({element}, {index}) -> {row})"
            return f"flatten(transform({collection}, ({element}, {index}) -> {body}))"

        if kind != "forEachOrNull":
            return each(elements(foci)), None
        null_row = f"array({self._null_struct(select.output())})"
        return let(elements(foci), lambda f: f"IF(size({f}) = 0, {null_row}, {each(f)})", prefix="foci"), None

    def _body(self, select: SelectDef, scope: Scope) -> tuple[str, str | None]:
        parts: list[tuple[str, str | None, list[ColumnDef]]] = []
        if select.columns:
            values = ", ".join(f"{quote(c.name)}, {self._column(c, scope)}" for c in select.columns)
            parts.append((f"array(named_struct({values}))", f"named_struct({values})", list(select.columns)))
        for nested in select.selects:
            parts.append((*self._select(nested, scope), nested.output()))
        if select.union_all:
            branches = [self._select(branch, scope)[0] for branch in select.union_all]
            parts.append((f"concat({', '.join(branches)})", None, select.union_all[0].output()))
        if len(parts) == 1:
            return parts[0][0], parts[0][1]
        return _product(parts), None

    def _null_struct(self, columns: list[ColumnDef]) -> str:
        fields = []
        for c in columns:
            is_index = isinstance(c.ast, Variable) and c.ast.name == "rowIndex"
            value = convert("'0'", c.sql_type, "NULL") if is_index else "NULL"
            fields.append(f"{quote(c.name)}, CAST({value} AS {c.sql_type})")
        return f"named_struct({', '.join(fields)})"

    def _repeat(self, asts: tuple[object, ...], scope: Scope) -> Value:
        """Every node reachable through the repeat paths, depth first (each node before its descendants).

        One ``aggregate`` walks level by level (constant expression depth, whatever :data:`REPEAT_DEPTH` is); each
        node carries its path of child positions, and sorting by that path gives the depth-first order.
        """
        first = self.exprs.compile(asts[0], scope)
        like = Value("", "coll", first.fhir_type, first.type_path)

        def children(inner: Scope) -> str:
            colls = [to_coll(self.exprs.compile(ast, inner)) for ast in asts]
            return colls[0] if len(colls) == 1 else f"concat({', '.join(colls)})"

        def keyed(collection: str, prefix: str) -> str:
            node, position = fresh("c"), fresh("i")
            return f"transform({collection}, ({node}, {position}) -> named_struct('k', concat({prefix}, array({position})), 'v', {node}))"

        acc, parent, step, done = fresh("acc"), fresh("p"), fresh("n"), fresh("d")
        below = keyed(children(self.exprs.element_scope(f"{parent}.v", like, "0")), f"{parent}.k")
        frontier = f"flatten(transform({acc}.frontier, {parent} -> {below}))"
        merge = let(
            frontier, lambda f: f"named_struct('frontier', {f}, 'all', concat({acc}.all, {f}))", prefix="fr"
        )
        message = quote(
            f"[views] view {self.view.name!r}: repeat deeper than {REPEAT_DEPTH} levels in resource "
        )
        x = fresh("x")
        finish = (
            f"IF(size({done}.frontier) > 0, raise_error(concat({message}, {RESOURCE_ID})), "
            f"transform(array_sort({done}.all), {x} -> {x}.v))"
        )
        top = keyed(children(scope), "CAST(array() AS ARRAY<INT>)")
        walk = let(
            top,
            lambda t: (
                f"aggregate(sequence(1, {REPEAT_DEPTH}), named_struct('frontier', {t}, 'all', {t}), "
                f"({acc}, {step}) -> {merge}, {done} -> {finish})"
            ),
            prefix="top",
        )
        return Value(walk, "coll", like.fhir_type, like.type_path)

    # -- columns --------------------------------------------------------------------------------------------------
    def _column(self, column: ColumnDef, scope: Scope) -> str:
        value = self.exprs.compile(column.ast, scope)
        target = column.sql_type[len("ARRAY<") : -1] if column.collection else column.sql_type
        mismatch = (
            f"raise_error(concat({mismatch_message(self.view.name, column.name, target)}, {RESOURCE_ID}))"
        )
        element = fresh("e")
        if column.collection:
            # No binding: the collection is read once, by the ``transform`` (each lambda level costs the analyzer a
            # pass over the plan).
            return f"transform({to_coll(value)}, {element} -> {convert(element, target, mismatch)})"
        if value.kind == "bool" and target == "BOOLEAN":
            return value.sql
        if value.kind != "coll":
            if target == "STRING":  # converted as is: read once, no binding needed
                return f"CAST({to_text(value)} AS STRING)"
            return let(
                to_text(value), lambda t: f"CAST({convert(t, target, mismatch)} AS {target})", prefix="v"
            )
        many = quote(
            f"[views] view {self.view.name!r} column {column.name!r}: multiple values (the column is not a collection) in resource "
        )
        several = f"CAST(raise_error(concat({many}, {RESOURCE_ID})) AS {target})"
        text = member_text(value)
        if text is not None:
            if value.plain:
                return f"CAST({convert(text, target, mismatch)} AS {target})"
            return _single_text_column(text, target, mismatch, several)
        mapped = mapped_parts(value)
        if mapped is not None:
            single = mapped_text(value)
            if single is not None and value.plain:
                # The one member text's result is the whole collection's one value (or NULL).
                return f"CAST({convert(f'({single[1]})', target, mismatch)} AS {target})"
            general = _single_mapped_column(*mapped, target, mismatch, several)
            if single is None:
                return general
            # One member text that is not a JSON array: its one element's result, without the lambda.
            text, result = single
            return (
                f"CASE WHEN left({text}, 1) <> '[' THEN CAST({convert(f'({result})', target, mismatch)} AS {target}) "
                f"WHEN {text} IS NULL THEN CAST(NULL AS {target}) ELSE {general} END"
            )
        return let(
            to_coll(value),
            lambda c: (
                f"CASE WHEN size({c}) = 0 THEN CAST(NULL AS {target}) WHEN size({c}) = 1 "
                f"THEN CAST({convert(f'element_at({c}, 1)', target, mismatch)} AS {target}) "
                f"ELSE {several} END"
            ),
            prefix="col",
        )


def _single_text_column(text: str, target: str, mismatch: str, many: str) -> str:
    """A non-collection column whose collection is ``split_value(text)``, without lambdas.

    The same as the general form: no element is NULL, one is converted, several raise ``many``. The common case
    (a text that does not start like a JSON array) is tested first, reading the text twice; only a text that
    starts like a JSON array is split; ``sort_array`` (descending) puts the NULL elements of the parsed array
    last, so a second non-NULL element means several values.
    """
    parsed = text_array(text)
    ordered = f"sort_array({parsed}, false)"
    first = f"try_element_at({ordered}, 1)"
    return (
        f"CASE WHEN left({text}, 1) <> '[' THEN CAST({convert(text, target, mismatch)} AS {target}) "
        f"WHEN {text} IS NULL THEN CAST(NULL AS {target}) "
        f"WHEN {parsed} IS NULL THEN CAST({convert(text, target, mismatch)} AS {target}) "
        f"WHEN try_element_at({ordered}, 2) IS NOT NULL THEN {many} "
        f"ELSE CAST({convert(first, target, mismatch)} AS {target}) END"
    )


def _single_mapped_column(source: str, x: str, f: str, target: str, mismatch: str, many: str) -> str:
    """A non-collection column over ``array_compact(transform(source, x -> f))`` in one lambda (``aggregate``).

    The same as the general form: no non-NULL ``f`` is NULL, one is converted, a second raises ``many``; ``f`` is
    evaluated once per element, and the collection is never built.
    """
    acc, value = fresh("acc"), fresh("v")
    step = f"CASE WHEN {acc} IS NULL THEN {f} WHEN {f} IS NULL THEN {acc} ELSE CAST({many} AS STRING) END"
    return (
        f"aggregate({source}, CAST(NULL AS STRING), ({acc}, {x}) -> {step}, "
        f"{value} -> CAST({convert(value, target, mismatch)} AS {target}))"
    )


def _product(parts: list[tuple[str, str | None, list[ColumnDef]]]) -> str:
    """The Cartesian product of partial-row arrays (with their one row's struct when known), as one array of rows."""
    names = [fresh("p") for _ in parts]
    fields = ", ".join(
        f"{quote(c.name)}, {var}.{ident(c.name)}"
        for (_, _, cols), var in zip(parts, names, strict=False)
        for c in cols
    )
    expr = f"transform({parts[-1][0]}, {names[-1]} -> named_struct({fields}))"
    for (sql, row, _), var in zip(reversed(parts[:-1]), reversed(names[:-1]), strict=False):
        if row is not None:  # one row: bound, without ``flatten`` over a one-element array
            expr = f"element_at(transform(array({row}), {var} -> {expr}), 1)"
        else:
            expr = f"flatten(transform({sql}, {var} -> {expr}))"
    return expr
