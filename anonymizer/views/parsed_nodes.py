"""Parse each complex element a view navigates once per row, into a struct of exactly the keys the view reads.

The resource is parsed once into ``_root``: a struct with one STRING field per top-level key the view uses
(Spark's JSON reader gives an object or array member as its JSON text). A complex element the view navigates
into (``code``, then ``code.coding``) is a :class:`Node`: its text is parsed with
``from_json(text, 'array<struct<...>>')``, which accepts a single object as well as an array of objects, so the
R4 cardinality need not be known. A node reached from the resource by member navigation alone is computed once
per row as a column ``_n<i>`` before the view's rows (every column of the view shares it); a node reached from a
lambda's element is parsed inline.

A node whose elements are needed as JSON text (``where``, ``$this`` as a column, ``distinct``...) is *opaque*:
the compiler marks it while compiling and compiles again, and an opaque node stays a text member of its parent.
Schemas are written into the SQL as placeholders and filled in once the last pass knows every field.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from anonymizer.views.sql_text import ident, quote

_ids = itertools.count()


@dataclass(eq=False)
class Node:
    """A complex element (or the resource) parsed into a struct of the keys read from it."""

    path: tuple[str, ...]
    type_path: str
    tree: NodeTree
    fields: list[str] = field(default_factory=list)
    children: dict[str, Node] = field(default_factory=dict)
    hoisted: bool = False
    number: int = field(default_factory=lambda: next(_ids))

    @property
    def is_root(self) -> bool:
        """Whether this is the resource itself."""
        return not self.path

    @property
    def column(self) -> str:
        """SQL of the collection of all this node's elements in the resource (``_root`` or a hoisted column)."""
        return "array(_root)" if self.is_root else f"_n{self.number}"

    @property
    def token(self) -> str:
        """The placeholder of this node's struct type in SQL text."""
        return f"__fhir_schema_{self.number}__"

    def use(self, key: str) -> None:
        """Record that ``key`` is read from this node's elements."""
        if key not in self.fields:
            self.fields.append(key)

    def struct_type(self) -> str:
        """``struct<key:STRING,...>`` of the keys read (the root always has ``resourceType`` and ``id``)."""
        keys = (["resourceType", "id"] if self.is_root else []) + self.fields
        unique = list(dict.fromkeys(keys))
        return "struct<" + ",".join(f"{ident(k)}:STRING" for k in unique) + ">"

    def parse(self, text: str) -> str:
        """SQL parsing one JSON text (object or array of objects) into this node's elements (empty when NULL)."""
        schema = quote(f"array<{self.token}>")
        e = f"_e{next(_ids)}"
        return f"filter(coalesce(from_json({text}, {schema}), from_json('[]', {schema})), {e} -> {e} IS NOT NULL)"

    def definition(self, parent: Node) -> str:
        """SQL of the hoisted column: this node's elements under every element of ``parent``."""
        if parent.is_root:
            return self.parse(f"_root.{ident(self.path[-1])}")
        m = f"_m{next(_ids)}"
        return f"flatten(transform({parent.column}, {m} -> {self.parse(f'{m}.{ident(self.path[-1])}')}))"


class NodeTree:
    """The nodes of one compilation pass, and the opaque paths learned by earlier passes."""

    def __init__(self, resource_type: str, opaque: set[tuple[str, ...]]) -> None:
        self.opaque = opaque
        self.dirty = False
        self.root = Node((), resource_type, self)
        self.hoisted: list[tuple[Node, Node]] = []  # (node, parent) in dependency order

    def child(self, parent: Node, key: str, type_path: str, hoist: bool) -> Node | None:
        """The struct node of ``key`` under ``parent`` (None when it is opaque: read it as text)."""
        path = (*parent.path, key)
        if path in self.opaque:
            return None
        parent.use(key)
        node = parent.children.get(key)
        if node is None:
            node = parent.children[key] = Node(path, type_path, self)
        if hoist and not node.hoisted:
            node.hoisted = True
            self.hoisted.append((node, parent))
        return node

    def mark_opaque(self, node: Node) -> None:
        """Elements of ``node`` are needed as JSON text: read it as text in the next pass."""
        if not node.is_root and node.path not in self.opaque:
            self.opaque.add(node.path)
            self.dirty = True

    def settle(self) -> None:
        """Mark nodes of which no key is read opaque (a struct without fields is not a schema)."""
        stack = [self.root]
        while stack:
            node = stack.pop()
            if not node.is_root and not node.fields:
                self.mark_opaque(node)
            stack.extend(node.children.values())

    def nodes(self) -> list[Node]:
        """Every node of this pass."""
        out, stack = [], [self.root]
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(node.children.values())
        return out

    def fill(self, sql: str) -> str:
        """``sql`` with every schema placeholder replaced by the node's struct type."""
        for node in self.nodes():
            sql = sql.replace(node.token, node.struct_type())
        return sql

    def root_schema(self) -> str:
        """The schema ``from_json`` parses the resource with."""
        return self.root.struct_type()

    def columns(self) -> list[tuple[str, str]]:
        """(name, SQL) of the hoisted node columns, each after the columns it reads."""
        return [(node.column, self.fill(node.definition(parent))) for node, parent in self.hoisted]
