"""Parse every complex element a view navigates once per row, into structs of exactly the keys the view reads.

The resource is parsed with one ``from_json`` into a nested struct holding only the keys the view uses: a complex
element the view navigates into (``code``, then ``code.coding``) is a :class:`Node`, typed ``struct<...>`` or
``array<struct<...>>`` by its R4 cardinality (:mod:`anonymizer.views.cardinality`); every other key is a STRING
(Spark's JSON reader gives an object or array member as its JSON text). The parsed struct is then reshaped into
one column ``_root`` in which every node is an array of its elements (one element for a single object, none when
absent), so navigation is struct field access, also inside ``forEach`` and other lambdas, whatever the
cardinality.

A resource whose JSON does not have the R4 shape (an object where an array belongs or the reverse) is not lost
or misread: ``from_json`` reports it in :data:`UNPARSED`, and that row's ``_root`` is built the shape-agnostic
way: the resource parsed into a struct of STRING fields and each node's text parsed with
``from_json(text, 'array<struct<...>>')``, which accepts a single object as well as an array of objects.

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
UNPARSED = "_views_unparsed"
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
    children: dict[str, Node] = field(default_factory=dict)

    @property
    def is_root(self) -> bool:
        """Whether this is the resource itself."""
        return not self.path

    def use(self, key: str, *, as_text: bool) -> None:
        """Record that ``key`` is read from this node's elements (as text, or as a parsed child)."""
        if key not in self.fields:
            self.fields.append(key)
        if as_text:
            self.text_keys.add(key)

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

    def enriched(self, raw: str) -> str:
        """A raw struct (shape-agnostic parse) of this node as a struct whose child nodes are parsed."""
        parts = []
        for key in self.parsed_keys():
            child = self.children.get(key)
            value = f"{raw}.{ident(key)}"
            parts.append(f"{quote(key)}, {child.parse(value) if child else value}")
        return f"named_struct({', '.join(parts)})"

    def parse(self, text: str) -> str:
        """SQL parsing one JSON text (object or array of objects) into this node's elements (empty when NULL)."""
        schema = quote(f"array<{self.raw_type()}>")
        r = f"_r{next(_ids)}"
        parsed = f"array_compact(coalesce(from_json({text}, {schema}), from_json('[]', {schema})))"
        return f"transform({parsed}, {r} -> {self.enriched(r)})" if self.children else parsed

    def reshaped(self, value: str) -> str:
        """SQL turning this node's value in the nested parse into the array of its elements ``_root`` holds."""
        if not self.repeated:
            empty = f"CAST(array() AS array<{self.element_type()}>)"
            return f"IF({value} IS NULL, {empty}, array({self.shaped_struct(value)}))"
        r = f"_r{next(_ids)}"
        present = f"array_compact(coalesce({value}, CAST(array() AS {self.shaped_type()})))"
        return f"transform({present}, {r} -> {self.shaped_struct(r)})" if self.children else present

    def element_type(self) -> str:
        """The type of one element of this node in ``_root`` (child nodes as arrays of their elements)."""
        parts = []
        for key in self.parsed_keys():
            child = self.children.get(key)
            parts.append(f"{ident(key)}:{f'array<{child.element_type()}>' if child else 'STRING'}")
        return "struct<" + ",".join(parts) + ">"

    def shaped_struct(self, value: str) -> str:
        """One element of the nested parse as the struct ``_root`` holds (its child nodes as arrays)."""
        if not self.children and not self.is_root:  # the root drops the field UNPARSED
            return value
        parts = []
        for key in self.parsed_keys():
            child = self.children.get(key)
            member = f"{value}.{ident(key)}"
            parts.append(f"{quote(key)}, {child.reshaped(member) if child else member}")
        return f"named_struct({', '.join(parts)})"


class NodeTree:
    """The nodes of one compilation pass, and the opaque paths learned by earlier passes."""

    def __init__(self, resource_type: str, opaque: set[tuple[str, ...]]) -> None:
        self.opaque = opaque
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
            sql = sql.replace(token, f"CAST(array() AS array<{node.element_type()}>)")
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

    def root_definition(self, text: str) -> str:
        """SQL of ``_root`` (the resource with its parsed nodes as arrays) from :data:`RAW` and the JSON ``text``.

        Rows that do not have the R4 shape are parsed again the shape-agnostic way.
        """
        # Parsed once per key read (only rows without the R4 shape get here), not bound with a lambda: each lambda
        # level costs the analyzer a pass over the whole plan.
        agnostic = self.root.enriched(f"from_json({text}, {quote(self.root.raw_type())})")
        shaped = self.root.shaped_struct(RAW)
        return f"IF({RAW}.{ident(UNPARSED)} IS NULL, {shaped}, {agnostic})"
