"""A typed view over a resource's JSON: one :class:`Node` per element, built once per resource.

Nodes point into the JSON (container + key), so methods change the resource in place. Primitive extensions
(``_birthDate``) are the children of their primitive, as in Firely's typed-element tree.
"""

from __future__ import annotations

from typing import Any

from anonymizer.errors import InvalidInputError
from anonymizer.fhir.model import PRIMITIVE_TYPES, TypeModel


class Node:
    """One element of a resource (or a resource inside it)."""

    __slots__ = (
        "parent",
        "container",
        "key",
        "name",
        "fhir_type",
        "type_path",
        "is_resource",
        "kids",
        "ext_holder",
        "path",
    )

    def __init__(self, parent: Node | None, container: Any, key: Any, name: str, fhir_type: str, type_path: str,
                 is_resource: bool = False, ext_holder: Any = None, path: str = "") -> None:  # fmt: skip
        self.parent = parent
        self.container = container
        self.key = key
        self.name = name
        self.fhir_type = fhir_type
        self.type_path = type_path
        self.is_resource = is_resource
        self.kids: list[Node] | None = None
        self.ext_holder = ext_holder  # the `_name` dict of a primitive (id, extension), if any
        self.path = path

    @property
    def value(self) -> Any:
        """The JSON value at this node (dict for complex nodes and resources)."""
        c = self.container
        if isinstance(c, list):
            return c[self.key] if self.key < len(c) else None
        return c.get(self.key)

    @value.setter
    def value(self, new: Any) -> None:
        self.container[self.key] = new

    @property
    def location(self) -> tuple[int, Any]:
        """Identity of the element's place (stable while the resource is processed)."""
        return (id(self.container), self.key)

    @property
    def is_primitive(self) -> bool:
        """A FHIR primitive (has a value, maybe extensions)."""
        return self.fhir_type in PRIMITIVE_TYPES

    def __repr__(self) -> str:  # no values: they may be PHI
        return f"Node({self.path}: {self.fhir_type})"


def resource_node(
    resource: dict[str, Any],
    container: Any = None,
    key: Any = None,
    parent: Node | None = None,
    name: str = "",
) -> Node:
    """The node of a resource (root, ``Bundle.entry.resource`` or ``contained``)."""
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        raise InvalidInputError("The input FHIR resource JSON is invalid: no resourceType")
    if container is None:
        container, key = {"_root": resource}, "_root"
    return Node(
        parent, container, key, name or resource_type, resource_type, resource_type, True, None, resource_type
    )


def children(node: Node, model: TypeModel) -> list[Node]:
    """The child nodes of ``node`` in document order (computed once, then cached on the node)."""
    if node.kids is not None:
        return node.kids
    kids: list[Node] = []
    if node.is_primitive:
        holder = node.ext_holder
        if isinstance(holder, dict):
            kids.extend(_complex_children(node, holder, model, skip_resource_type=False))
        node.kids = kids
        return kids
    value = node.value
    if isinstance(value, dict):
        kids.extend(_complex_children(node, value, model, skip_resource_type=node.is_resource))
    node.kids = kids
    return kids


def _complex_children(
    node: Node, obj: dict[str, Any], model: TypeModel, skip_resource_type: bool
) -> list[Node]:
    kids: list[Node] = []
    for key, item in list(obj.items()):
        if key == "resourceType" and skip_resource_type:
            continue
        if key.startswith("_"):
            base = key[1:]
            if base in obj:
                continue  # handled with its primitive
            item_for_nodes = [None] * len(item) if isinstance(item, list) else None
            key, holders = base, item
        else:
            item_for_nodes, holders = item, obj.get("_" + key)
        ct = model.child(node.type_path, key)
        if ct is None:
            if key in ("fhir_comments",):
                continue
            raise InvalidInputError(f"The input FHIR resource is invalid: unknown element {node.path}.{key}")
        path = f"{node.path}.{ct.name}"
        if item_for_nodes is None and holders is not None and key not in obj:
            # A primitive with only extensions: materialise a null value so the node has a place.
            obj[key] = [None] * len(holders) if isinstance(holders, list) else None
            item_for_nodes = obj[key]
        values = obj.get(key, item_for_nodes)
        if isinstance(values, list):
            for i, element in enumerate(values):
                holder = holders[i] if isinstance(holders, list) and i < len(holders) else None
                kids.append(_make(node, values, i, ct, element, holder, path, model))
        else:
            kids.append(
                _make(node, obj, key, ct, values, holders if isinstance(holders, dict) else None, path, model)
            )
    return kids


def _make(
    parent: Node, container: Any, key: Any, ct: Any, element: Any, holder: Any, path: str, model: TypeModel
) -> Node:
    if ct.fhir_type == "Resource":
        if not isinstance(element, dict) or not isinstance(element.get("resourceType"), str):
            raise InvalidInputError(f"The input FHIR resource is invalid: {path} is not a resource")
        rt = element["resourceType"]
        if rt not in model.resource_types:
            raise InvalidInputError(
                f"The input FHIR resource JSON is invalid: unknown resourceType at {path}"
            )
        return Node(parent, container, key, ct.name, rt, rt, True, None, rt)
    return Node(parent, container, key, ct.name, ct.fhir_type, ct.type_path, False, holder, path)


def preorder(root: Node, model: TypeModel, *, into_resources: bool = False) -> list[Node]:
    """``root`` and its descendants in document order; sub-resource nodes are included but not entered."""
    out: list[Node] = []
    stack = [root]
    while stack:
        node = stack.pop()
        out.append(node)
        if node.is_resource and node is not root and not into_resources:
            continue
        stack.extend(reversed(children(node, model)))
    return out
