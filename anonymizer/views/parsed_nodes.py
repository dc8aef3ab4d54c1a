"""Parse every complex element a view navigates once per row, into structs of exactly the keys the view reads.

The resource is parsed with ``from_json`` into a struct of one STRING field per top-level key the view uses
(Spark's JSON reader gives an object or array member as its JSON text). A complex element the view navigates
into (``code``, then ``code.coding``) is a :class:`Node`: its text is parsed with
``from_json(text, 'array<struct<...>>')``, which accepts a single object as well as an array of objects, so the
R4 cardinality need not be known, and the field of the parent struct is replaced by that array. The whole tree
is one column ``_root`` computed once per row before the view's rows; navigation is then struct field access,
also inside ``forEach`` and other lambdas.

A node whose elements are needed as JSON text (a complex value as a column, ``repeat``, ``distinct``, ``|``,
``extension()``...) is *opaque*: the compiler marks it while compiling and compiles again, and an opaque node
stays a text field of its parent.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from anonymizer.views.sql_text import ident, quote

_ids = itertools.count()
RAW = "_raw"


@dataclass(eq=False)
class Node:
    """A complex element (or the resource) parsed into a struct of the keys read from it."""

    path: tuple[str, ...]
    type_path: str
    tree: NodeTree
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

    def raw_type(self) -> str:
        """``struct<key:STRING,...>`` of the keys read (the root always has ``resourceType`` and ``id``)."""
        keys = (["resourceType", "id"] if self.is_root else []) + self.fields
        return "struct<" + ",".join(f"{ident(k)}:STRING" for k in dict.fromkeys(keys)) + ">"

    def enriched(self, raw: str) -> str:
        """A raw struct of this node as a struct whose child nodes are parsed."""
        keys = (["resourceType", "id"] if self.is_root else []) + self.fields
        parts = []
        for key in dict.fromkeys(keys):
            child = self.children.get(key)
            value = f"{raw}.{ident(key)}"
            parts.append(f"{quote(key)}, {child.parse(value) if child else value}")
        return f"named_struct({', '.join(parts)})"

    def parse(self, text: str) -> str:
        """SQL parsing one JSON text (object or array of objects) into this node's elements (empty when NULL)."""
        schema = quote(f"array<{self.raw_type()}>")
        e, r = f"_e{next(_ids)}", f"_r{next(_ids)}"
        parsed = f"filter(coalesce(from_json({text}, {schema}), from_json('[]', {schema})), {e} -> {e} IS NOT NULL)"
        return f"transform({parsed}, {r} -> {self.enriched(r)})" if self.children else parsed


class NodeTree:
    """The nodes of one compilation pass, and the opaque paths learned by earlier passes."""

    def __init__(self, resource_type: str, opaque: set[tuple[str, ...]]) -> None:
        self.opaque = opaque
        self.dirty = False
        self.root = Node((), resource_type, self)

    def child(self, parent: Node, key: str, type_path: str) -> Node | None:
        """The parsed node of ``key`` under ``parent`` (None when it is opaque: read it as text)."""
        path = (*parent.path, key)
        if path in self.opaque:
            return None
        parent.use(key, as_text=False)
        node = parent.children.get(key)
        if node is None:
            node = parent.children[key] = Node(path, type_path, self)
        return node

    def mark_opaque(self, node: Node) -> None:
        """Elements of ``node`` are needed as JSON text: read it as text in the next pass."""
        if not node.is_root and node.path not in self.opaque:
            self.opaque.add(node.path)
            self.dirty = True

    def settle(self) -> None:
        """Mark nodes opaque that have no key read (not a schema) or that are also read as text."""
        stack = [self.root]
        while stack:
            node = stack.pop()
            for key, child in node.children.items():
                if not child.fields or key in node.text_keys:
                    self.mark_opaque(child)
                stack.append(child)

    def root_schema(self) -> str:
        """The schema ``from_json`` parses the resource with (into column :data:`RAW`)."""
        return self.root.raw_type()

    def root_definition(self) -> str:
        """SQL of ``_root`` (the resource with its parsed nodes) from the column :data:`RAW`."""
        return self.root.enriched(RAW)
