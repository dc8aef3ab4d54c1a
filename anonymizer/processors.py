"""Node-level application of each method: what one rule does to one element of the typed tree."""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from anonymizer.config import Parameters, RuleConfig
from anonymizer.errors import InvalidInputError, ProcessingError, RuleNotApplicableError
from anonymizer.fhir.model import PRIMITIVE_TYPES, TypeModel
from anonymizer.fhir.tree import Node, children
from anonymizer.methods import date_shift, generalize, perturb
from anonymizer.methods.dotnet import to_dotnet_string
from anonymizer.plan.value_ops import Position, ValueFn


@dataclass
class Context:
    """State of one top-level ``anonymize`` call (keys unwrapped once per call, visited set, date prefix)."""

    params: Parameters
    as_of: date
    model: TypeModel
    root: dict[str, Any]
    visited: set[tuple[int, Any]]
    date_shift_key: str
    crypto_hash_key: str
    encrypt_key: str
    prefix: str | None
    hits: collections.Counter[tuple[int, str]]
    value_op: Callable[[str, Position, str], ValueFn | None]
    patient_identifiers: Any = (
        None  # anonymizer.text.identifiers.PatientIdentifiers for scrubText, when known
    )

    def offset(self) -> int:
        """The date-shift offset (fixed, or keyed on the scope's prefix; resource scope reads the root id now)."""
        fixed = self.params.date_shift_fixed_offset
        if fixed is not None:
            return fixed
        prefix = self.prefix
        if prefix is None:
            rid = self.root.get("id")
            prefix = rid if isinstance(rid, str) else ""
        return date_shift.offset_days(prefix, self.date_shift_key)


def where_holds(expression: str, value: Any) -> bool:
    """Whether a ``where(...)`` argument holds for an element's JSON value (fhirpathpy, compiled once)."""
    try:
        result = generalize.compile_expression(expression)(value)
    except Exception as exc:
        raise ProcessingError(f"evaluating where({expression}) failed ({type(exc).__name__})") from None
    return bool(result) and result[0] is True


def where_predicate(ctx: Context) -> Any:
    """``where(...)`` on a node of the tree (see :func:`where_holds`)."""

    def predicate(expression: str, node: Node) -> bool:
        return where_holds(expression, node.value)

    return predicate


def mark_subtree(node: Node, ctx: Context) -> None:
    """Mark every non-resource descendant visited (perturb and substitute protect what they produced)."""
    stack = list(children(node, ctx.model))
    while stack:
        current = stack.pop()
        if current.is_resource:
            continue
        ctx.visited.add(current.location)
        stack.extend(children(current, ctx.model))


def _record(ctx: Context, rule: RuleConfig, ops: set[str], op: str) -> None:
    ops.add(op)
    ctx.hits[(rule.index, rule.method)] += 1


def apply_method(node: Node, rule: RuleConfig, ctx: Context, ops: set[str]) -> bool:
    """Apply ``rule`` to ``node``; returns True when the whole subtree is now final (perturb, substitute)."""
    method = rule.method
    if method == "keep":
        return False
    per_value = _PER_VALUE.get(method)
    if per_value is not None:
        per_value(node, rule, ctx, ops)
        return False
    if method == "perturb":
        return _perturb(node, rule, ctx, ops)
    if method == "substitute":
        _substitute(node, rule, ctx, ops)
        return True
    if method == "scrubtext":
        from anonymizer.text_method import scrub_node

        scrub_node(node, rule, ctx, ops)
        return False
    raise RuleNotApplicableError(f"Anonymization method {method.upper()} not supported.")


def _primitive_value(node: Node) -> Any:
    if not node.is_primitive or node.is_resource:
        return None
    value = node.value
    return None if value is None or value == "" else value


def _per_value(node: Node, rule: RuleConfig, ctx: Context, ops: set[str]) -> None:
    """redact, dateShift, cryptoHash, encrypt: the operation :func:`value_op` chooses for the node's position."""
    value = _primitive_value(node)
    if value is None:
        return
    parent_type = node.parent.fhir_type if node.parent is not None else ""
    hash_format = str(rule.extra.get("hashFormat", "hex"))
    fn = ctx.value_op(rule.method, Position(node.fhir_type, node.name, parent_type), hash_format)
    if fn is None:
        return
    node.value, op = fn(value, ctx.offset)
    _record(ctx, rule, ops, op)


def _perturb(node: Node, rule: RuleConfig, ctx: Context, ops: set[str]) -> bool:
    target, fhir_type = node, node.fhir_type
    if node.fhir_type in perturb.QUANTITY_TYPES or any(
        ctx.model.is_a(node.fhir_type, t) for t in ("Quantity",)
    ):
        target = next((c for c in children(node, ctx.model) if c.name == "value"), None)
        fhir_type = "decimal"
        if target is None:
            return True
    elif node.fhir_type not in perturb.NUMERIC_TYPES:
        return False  # visited, unchanged
    if target.location in ctx.visited:
        return True
    value = target.value
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return True
    target.value = perturb.perturb_value(
        value, fhir_type, span=rule.span or 0, range_type=rule.range_type, round_to=rule.round_to
    )
    _record(ctx, rule, ops, "PERTURB")
    return True


def _generalize(node: Node, rule: RuleConfig, ctx: Context, ops: set[str]) -> None:
    if node.is_resource or node.fhir_type not in PRIMITIVE_TYPES:
        raise RuleNotApplicableError(
            f"{rule.label}: generalize applies to primitive values only ({node.fhir_type} at {node.path})"
        )
    value = node.value
    if value is None:
        return
    _, new = generalize.generalize_value(value, node.fhir_type, rule.cases or {}, rule.other_values)
    node.value = new
    _record(ctx, rule, ops, "GENERALIZE")


def _substitute(node: Node, rule: RuleConfig, ctx: Context, ops: set[str]) -> None:
    replacement = rule.replace_with
    if node.is_primitive:
        node.value = None if replacement is None else to_dotnet_string(replacement)
        holder = node.ext_holder
        if isinstance(holder, dict):
            for key in list(holder):
                kids = [c for c in children(node, ctx.model) if c.name == key]
                if not any(c.location in ctx.visited for c in kids):
                    holder.pop(key, None)
        node.kids = None
        _record(ctx, rule, ops, "SUBSTITUTE")
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
        if key.startswith("_") or ctx.model.child(node.type_path, key) is None:
            raise InvalidInputError(f"{rule.label}: replaceWith has no element {key!r} of {node.fhir_type}")
    kids = children(node, ctx.model)
    merged: dict[str, Any] = {}
    for key in list(current) + [k for k in replacement if k not in current]:
        if key.startswith("_"):
            continue
        processed = [
            c
            for c in kids
            if c.key == key or (isinstance(c.container, list) and c.container is current.get(key))
        ]
        visited_idx = {c.key if isinstance(c.container, list) else 0 for c in processed if _touched(c, ctx)}
        old, new = current.get(key), replacement.get(key)
        if new == "" or new is None:
            if visited_idx:
                # Not in the replacement but holding processed descendants: kept, emptied of everything else.
                kept = [_only_visited(c, ctx) for c in processed if _touched(c, ctx)]
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
    _record(ctx, rule, ops, "SUBSTITUTE")


#: Methods that change one value and leave the walk to continue into the children.
_PER_VALUE = {
    "redact": _per_value,
    "dateshift": _per_value,
    "cryptohash": _per_value,
    "encrypt": _per_value,
    "generalize": _generalize,
}


def _touched(node: Node, ctx: Context) -> bool:
    if node.location in ctx.visited:
        return True
    return any(_touched(c, ctx) for c in children(node, ctx.model) if not c.is_resource)


def _only_visited(node: Node, ctx: Context) -> Any:
    if node.location in ctx.visited:
        return node.value
    out: dict[str, Any] = {}
    for child in children(node, ctx.model):
        if _touched(child, ctx):
            value = _only_visited(child, ctx)
            if isinstance(child.container, list):
                out.setdefault(child.key if isinstance(child.key, str) else child.name, []).append(value)
            else:
                out[child.key] = value
    return out


def copy_json(value: Any) -> Any:
    """Deep copy of a replacement value; empty-string members disappear, as in Microsoft's parser."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items() if v != ""}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value
