"""Parse every complex element a view navigates once per row, into structs of exactly the keys the view reads.

The resource is parsed with one ``from_json`` into a nested struct holding only the keys the view uses: a complex
element the view navigates into (``code``, then ``code.coding``) is a :class:`Node`, typed ``struct<...>`` or
``array<struct<...>>`` by its R4 cardinality (:mod:`anonymizer.views.cardinality`); every other key is a STRING
(Spark's JSON reader gives an object or array member as its JSON text). The views read that struct, :data:`RAW`,
directly: a single node is a struct field (NULL when absent), a repeating one an array.

A resource whose JSON does not have the R4 shape (an object where an array belongs, or an array where one object
belongs) is not lost: ``from_json`` reports it in :data:`UNPARSED`, and that row is parsed again the shape-agnostic
way (a struct of STRING fields, each node's text parsed with ``from_json(text, 'array<struct<...>>')``, which
accepts a single object as well as an array of objects) and reshaped to the R4 shape. Only a single element given
several values cannot be reshaped: that raises an error naming the element and the resource's id.

A single primitive element (``subject.reference``, ``id``) is a *plain* key: R4 gives it as one JSON value, so the
views read its text as the one value, with no test for a JSON array. A resource in which a plain key's text starts
like a JSON array (invalid R4, or a text that starts with ``[``) is also taken the shape-agnostic way, where a plain
key given as an array is reshaped like a single node: its one element, and several are an error.

A node whose elements are needed as JSON text (a complex value as a column, ``repeat``, ``distinct``, ``|``,
``extension()``...) is *opaque*: the compiler marks it while compiling and compiles again, and an opaque node
stays a text field of its parent.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from anonymizer.views.cardinality import repeats
from anonymizer.views.sql_text import ident, quote

_ids = itertools.count()
RAW = "_raw"
#: The R4-shaped parse before it is checked (:meth:`NodeTree.suspect`) and taken as :data:`RAW` or reshaped.
PARSED = "_p"
UNPARSED = "_views_unparsed"
#: The column of the resource (JSON text, or VARIANT: see :func:`resource_text`).
RESOURCE = "_resource"
#: SQL of the resource's JSON text over a JSON text column :data:`RESOURCE`.
RESOURCE_TEXT = RESOURCE


def resource_text(variant: bool) -> str:
    """SQL of the resource's JSON text when :data:`RESOURCE` is JSON text or (``variant``) a VARIANT."""
    return f"to_json({RESOURCE})" if variant else RESOURCE_TEXT


# A node the view reads no key from (``component.count()``) still needs its elements: a key every element may have.
_PLACEHOLDER = "id"


@dataclass(eq=False)
class Node:
    """A complex element (or the resource) parsed into a struct of the keys read from it."""

    path: tuple[str, ...]
    type_path: str
    tree: NodeTree
    repeated: bool = False
    fields: list[str] = field(default_factory=list)
    text_keys: set[str] = field(default_factory=set)
    plain_keys: set[str] = field(default_factory=set)
    children: dict[str, Node] = field(default_factory=dict)

    @property
    def is_root(self) -> bool:
        """Whether this is the resource itself."""
        return not self.path

    def use(self, key: str, *, as_text: bool, plain: bool = False) -> None:
        """Record that ``key`` is read from this node's elements (as text, or as a parsed child).

        ``plain``: the key is a single primitive element, read as one value (see the module's documentation).
        """
        if key not in self.fields:
            self.fields.append(key)
        if as_text:
            self.text_keys.add(key)
        if plain:
            self.plain_keys.add(key)

    def parsed_keys(self) -> list[str]:
        """The keys parsed from this node's elements (the root always has ``resourceType`` and ``id``)."""
        keys = (["resourceType", "id"] if self.is_root else []) + (self.fields or [_PLACEHOLDER])
        return list(dict.fromkeys(keys))

    def raw_type(self) -> str:
        """``struct<key:STRING,...>``: the keys read, each as text (the shape-agnostic parse)."""
        return "struct<" + ",".join(f"{ident(k)}:STRING" for k in self.parsed_keys()) + ">"

    def nested_type(self) -> str:
        """``struct<...>`` of the keys read, child nodes by their R4 shape and everything else as text."""
        parts = []
        for key in self.parsed_keys():
            child = self.children.get(key)
            parts.append(f"{ident(key)}:{child.shaped_type() if child else 'STRING'}")
        return "struct<" + ",".join(parts) + ">"

    def shaped_type(self) -> str:
        """This node's type as a field of its parent's nested struct (an array when the element repeats)."""
        return f"array<{self.nested_type()}>" if self.repeated else self.nested_type()

    def reshaped(self, raw: str, several: str) -> str:
        """A raw struct (shape-agnostic parse) of this node as its R4-shaped struct (child nodes by cardinality).

        A plain key's text is its one value (see :meth:`plain_value`).
        """
        parts = []
        for key in self.parsed_keys():
            child = self.children.get(key)
            value = f"{raw}.{ident(key)}"
            if child is not None:
                value = child.shaped_parse(value, several)
            elif key in self.plain_keys:
                value = self.plain_value(key, value, several)
            parts.append(f"{quote(key)}, {value}")
        return f"named_struct({', '.join(parts)})"

    def plain_value(self, key: str, text: str, several: str) -> str:
        """SQL of a single primitive's one value from its JSON ``text``: the text, or the one element of an array.

        A text that starts like a JSON array and parses as one is R4's single primitive given as an array: its one
        element (NULL for none); several raise the error ``several`` like a single node's. Any other text (one
        that starts with ``[`` but is not a JSON array) is the value as it is.
        """
        a = f"_a{next(_ids)}"
        items = f"array_compact({a})"
        one = (
            f"CASE WHEN {a} IS NULL THEN {text} WHEN size({items}) > 1 THEN CAST({self._several(key, several)} AS STRING) "
            f"ELSE try_element_at({items}, 1) END"
        )
        parsed = f"element_at(transform(array(from_json({text}, 'array<string>')), {a} -> {one}), 1)"
        return f"CASE WHEN {text} IS NULL OR left({text}, 1) <> '[' THEN {text} ELSE {parsed} END"

    def _several(self, key: str | None, several: str) -> str:
        """The error of several values given where R4 allows one (this node's element, or its key ``key``)."""
        path = ".".join((*self.path, key) if key else self.path)
        where = quote(f" in element '{path}' (R4 allows one) of resource ")
        return f"raise_error(concat({several}, {where}, get_json_object({self.tree.text}, '$.id')))"

    def suspect(self, value: str) -> str | None:
        """SQL true when a plain key under this node's parsed ``value`` starts like a JSON array (None: no plain key).

        Such a resource is taken the shape-agnostic way (:meth:`NodeTree.root_definition`), where the key is read
        as its one value or fails; the views then read every plain key's text as the value.
        """
        tests = [f"left({value}.{ident(key)}, 1) = '['" for key in sorted(self.plain_keys)]
        for key, child in self.children.items():
            if child.repeated:
                element = f"_s{next(_ids)}"
                inner = child.suspect(element)
                if inner is not None:
                    tests.append(f"exists({value}.{ident(key)}, {element} -> {inner})")
            else:
                inner = child.suspect(f"{value}.{ident(key)}")
                if inner is not None:
                    tests.append(inner)
        return " OR ".join(tests) if tests else None

    def shaped_parse(self, text: str, several: str) -> str:
        """SQL parsing one JSON text (object or array of objects) into this node's R4-shaped value.

        A repeating node is the array of its elements (empty when NULL); a single one is its element (NULL when
        there is none), and several elements raise the error ``several`` (SQL of the message's start) followed by
        this element's path and the resource's id: R4 allows one, and reading one of them would be a guess.
        """
        schema = quote(f"array<{self.raw_type()}>")
        r = f"_r{next(_ids)}"
        parsed = f"array_compact(coalesce(from_json({text}, {schema}), from_json('[]', {schema})))"
        elements = (
            f"transform({parsed}, {r} -> {self.reshaped(r, several)})"
            if self.children or self.plain_keys
            else parsed
        )
        if self.repeated:
            return elements
        error = self._several(None, several)
        return (
            f"CASE WHEN size({parsed}) > 1 THEN CAST({error} AS {self.nested_type()}) "
            f"ELSE try_element_at({elements}, 1) END"
        )


class NodeTree:
    """The nodes of one compilation pass, and the opaque paths learned by earlier passes."""

    def __init__(self, resource_type: str, opaque: set[tuple[str, ...]], text: str = RESOURCE_TEXT) -> None:
        self.opaque = opaque
        #: SQL of the resource's JSON text (the reshape path, error messages and the resource as a value).
        self.text = text
        self.dirty = False
        self._empties: dict[str, Node] = {}
        self.root = Node((), resource_type, self)

    def child(self, parent: Node, key: str, type_path: str) -> Node | None:
        """The parsed node of ``key`` under ``parent`` (None when it is opaque: read it as text)."""
        path = (*parent.path, key)
        if path in self.opaque:
            return None
        parent.use(key, as_text=False)
        node = parent.children.get(key)
        if node is None:
            node = parent.children[key] = Node(path, type_path, self, repeats(parent.type_path, key))
        return node

    def empty_array(self, node: Node) -> str:
        """A placeholder for the empty array of ``node``'s elements, typed once the pass knows every key it reads.

        :meth:`resolved` replaces it in the pass's SQL.
        """
        token = f"\ue000empty{len(self._empties)}\ue000"
        self._empties[token] = node
        return token

    def resolved(self, sql: str) -> str:
        """``sql`` with the placeholders of :meth:`empty_array` replaced by their typed empty arrays."""
        for token, node in self._empties.items():
            sql = sql.replace(token, f"CAST(array() AS array<{node.nested_type()}>)")
        return sql

    def mark_opaque(self, node: Node) -> None:
        """Elements of ``node`` are needed as JSON text: read it as text in the next pass."""
        if not node.is_root and node.path not in self.opaque:
            self.opaque.add(node.path)
            self.dirty = True

    def settle(self) -> None:
        """Mark nodes opaque that are also read as text."""
        stack = [self.root]
        while stack:
            node = stack.pop()
            for key, child in node.children.items():
                if key in node.text_keys:
                    self.mark_opaque(child)
                stack.append(child)

    def root_schema(self) -> str:
        """The schema ``from_json`` parses the resource with (into column :data:`RAW`), shaped by the R4 model."""
        return self.root.nested_type()[: -len(">")] + f",{ident(UNPARSED)}:STRING>"

    def suspect(self) -> str:
        """SQL true when the R4-shaped parse :data:`PARSED` has a plain key that starts like a JSON array.

        Such a resource is read the way of :meth:`root_definition`, like one without the R4 shape.
        """
        test = self.root.suspect(PARSED)
        return f"coalesce({test}, false)" if test else "false"

    def root_definition(self, several: str) -> str:
        """SQL of the R4-shaped parse of a resource ``from_json`` could not give the R4 shape (see :data:`UNPARSED`).

        The resource's JSON text is parsed the shape-agnostic way and reshaped: the same type as :meth:`root_schema`, so
        the views read it as they read the others. ``several`` starts the error of a single node with several
        elements (see :meth:`Node.shaped_parse`).
        """
        # Parsed once per key read (only rows without the R4 shape get here), not bound with a lambda: each lambda
        # level costs the analyzer a pass over the whole plan.
        shaped = self.root.reshaped(f"from_json({self.text}, {quote(self.root.raw_type())})", several)
        return f"{shaped[: -len(')')]}, {quote(UNPARSED)}, CAST(NULL AS STRING))"
