"""substitute on the typed tree: replace an element, keeping what earlier rules already processed below it."""

from __future__ import annotations

from typing import Any

from anonymizer.config import RuleConfig
from anonymizer.engine.kernel.labels import Hits, record
from anonymizer.engine.kernel.substitute import copy_json, primitive_replacement
from anonymizer.errors import InvalidInputError
from anonymizer.fhir.model import TypeModel
from anonymizer.fhir.tree import Node, children

Visited = set[tuple[int, Any]]


def substitute(
    node: Node, rule: RuleConfig, model: TypeModel, visited: Visited, hits: Hits, ops: set[str]
) -> None:
    """Replace ``node``'s value by the rule's ``replaceWith`` (processed descendants are kept)."""
    replacement = rule.replace_with
    hit_key = (rule.index, rule.method)
    if node.is_primitive:
        node.value = primitive_replacement(replacement)
        holder = node.ext_holder
        if isinstance(holder, dict):
            for key in list(holder):
                kids = [c for c in children(node, model) if c.name == key]
                if not any(c.location in visited for c in kids):
                    holder.pop(key, None)
        node.kids = None
        record(ops, hits, hit_key, "SUBSTITUTE")
        return
    current = node.value
    if not isinstance(current, dict):
        return
    if replacement is None:
        replacement = {}
    if not isinstance(replacement, dict):
        raise InvalidInputError(
            f"{rule.label}: replaceWith must be a JSON object for {node.fhir_type} at {node.path}"
        )
    for key in replacement:
        if key.startswith("_") or model.child(node.type_path, key) is None:
            raise InvalidInputError(f"{rule.label}: replaceWith has no element {key!r} of {node.fhir_type}")
    kids = children(node, model)
    merged: dict[str, Any] = {}
    for key in list(current) + [k for k in replacement if k not in current]:
        if key.startswith("_"):
            continue
        processed = [
            c
            for c in kids
            if c.key == key or (isinstance(c.container, list) and c.container is current.get(key))
        ]
        touched = [c for c in processed if _touched(c, model, visited)]
        visited_idx = {c.key if isinstance(c.container, list) else 0 for c in touched}
        old, new = current.get(key), replacement.get(key)
        if new == "" or new is None:
            if visited_idx:
                # Not in the replacement but holding processed descendants: kept, emptied of everything else.
                kept = [_only_visited(c, model, visited) for c in touched]
                merged[key] = kept if isinstance(old, list) else kept[0]
            continue
        if isinstance(new, list):
            old_list = old if isinstance(old, list) else ([] if old is None else [old])
            merged[key] = [
                old_list[i] if i in visited_idx and i < len(old_list) else copy_json(v)
                for i, v in enumerate(new)
            ]
        else:
            merged[key] = old if 0 in visited_idx else copy_json(new)
    current.clear()
    current.update(merged)
    node.kids = None
    record(ops, hits, hit_key, "SUBSTITUTE")


def _touched(node: Node, model: TypeModel, visited: Visited) -> bool:
    if node.location in visited:
        return True
    return any(_touched(c, model, visited) for c in children(node, model) if not c.is_resource)


def _only_visited(node: Node, model: TypeModel, visited: Visited) -> Any:
    if node.location in visited:
        return node.value
    out: dict[str, Any] = {}
    for child in children(node, model):
        if _touched(child, model, visited):
            value = _only_visited(child, model, visited)
            if isinstance(child.container, list):
                out.setdefault(child.key if isinstance(child.key, str) else child.name, []).append(value)
            else:
                out[child.key] = value
    return out
