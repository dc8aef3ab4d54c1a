"""What one rule does to one element of the typed tree (the methods' values come from the kernel)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from anonymizer.config import RuleConfig
from anonymizer.engine.kernel import numbers
from anonymizer.engine.kernel.labels import Hits, record
from anonymizer.engine.kernel.offsets import date_offset
from anonymizer.engine.kernel.scrub import NOT_TEXT, scrub_text, text_scrubber
from anonymizer.engine.kernel.values import OpSettings, Position, ValueFn
from anonymizer.engine.reference.substitute import substitute
from anonymizer.errors import RuleNotApplicableError
from anonymizer.fhir.model import PRIMITIVE_TYPES, TypeModel
from anonymizer.fhir.tree import Node, children


@dataclass
class Context:
    """State of one top-level ``anonymize`` call (visited set, date-shift prefix, patient identifiers)."""

    settings: OpSettings
    model: TypeModel
    root: dict[str, Any]
    visited: set[tuple[int, Any]]
    prefix: str | None
    hits: Hits
    value_op: Callable[[RuleConfig, Position], ValueFn | None]
    patient_identifiers: Any = None  # anonymizer.text.identifiers.PatientIdentifiers, when known

    def offset(self) -> int:
        """The date-shift offset (fixed, or keyed on the scope's prefix; resource scope reads the root id now)."""
        s = self.settings
        return date_offset(
            s.params.date_shift_fixed_offset, self.prefix, self.root.get("id"), s.date_shift_key
        )


def mark_subtree(node: Node, ctx: Context) -> None:
    """Mark every non-resource descendant visited (perturb and substitute protect what they produced)."""
    stack = list(children(node, ctx.model))
    while stack:
        current = stack.pop()
        if current.is_resource:
            continue
        ctx.visited.add(current.location)
        stack.extend(children(current, ctx.model))


def apply_method(node: Node, rule: RuleConfig, ctx: Context, ops: set[str]) -> bool:
    """Apply ``rule`` to ``node``; returns True when the whole subtree is now final (perturb, substitute)."""
    method = rule.method
    if method == "keep":
        return False
    if method in _PER_VALUE:
        _per_value(node, rule, ctx, ops)
        return False
    if method == "generalize":
        _generalize(node, rule, ctx, ops)
        return False
    if method == "perturb":
        return _perturb(node, rule, ctx, ops)
    if method == "substitute":
        substitute(node, rule, ctx.model, ctx.visited, ctx.hits, ops)
        return True
    if method == "scrubtext":
        _scrub(node, rule, ctx, ops)
        return False
    raise RuleNotApplicableError(f"Anonymization method {method.upper()} not supported.")


#: Methods that change one non-empty primitive value and leave the walk to continue into the children.
_PER_VALUE = frozenset({"redact", "dateshift", "cryptohash", "encrypt"})


def _position(node: Node) -> Position:
    return Position(node.fhir_type, node.name, node.parent.fhir_type if node.parent is not None else "")


def _per_value(node: Node, rule: RuleConfig, ctx: Context, ops: set[str]) -> None:
    if not node.is_primitive or node.is_resource:
        return
    value = node.value
    if value is None or value == "":
        return
    fn = ctx.value_op(rule, _position(node))
    if fn is None:
        return
    node.value, op = fn(value, ctx.offset)
    record(ops, ctx.hits, (rule.index, rule.method), op)


def _generalize(node: Node, rule: RuleConfig, ctx: Context, ops: set[str]) -> None:
    if node.is_resource or node.fhir_type not in PRIMITIVE_TYPES:
        raise RuleNotApplicableError(generalize_not_applicable(rule, node.fhir_type, node.path))
    value = node.value
    if value is None:
        return
    fn = ctx.value_op(rule, _position(node))
    assert fn is not None
    node.value, op = fn(value, ctx.offset)
    record(ops, ctx.hits, (rule.index, rule.method), op)


def generalize_not_applicable(rule: RuleConfig, fhir_type: str, path: str) -> str:
    """The message of a generalize rule that reached a complex element."""
    return f"{rule.label}: generalize applies to primitive values only ({fhir_type} at {path})"


def _perturb(node: Node, rule: RuleConfig, ctx: Context, ops: set[str]) -> bool:
    target, fhir_type = node, node.fhir_type
    if numbers.is_quantity(node.fhir_type, ctx.model):
        value = next((c for c in children(node, ctx.model) if c.name == "value"), None)
        if value is None:
            return True
        target, fhir_type = value, "decimal"
    elif not numbers.is_number(node.fhir_type):
        return False  # visited, unchanged
    if target.location in ctx.visited:
        return True
    new = numbers.perturbed(target.value, fhir_type, rule)
    if new is not numbers.NOT_A_NUMBER:
        target.value = new
        record(ops, ctx.hits, (rule.index, rule.method), "PERTURB")
    return True


def _scrub(node: Node, rule: RuleConfig, ctx: Context, ops: set[str]) -> None:
    parent = node.parent
    scrubber, cache_short = text_scrubber(rule, ctx.settings.params, ctx.settings.as_of, ctx.offset)
    new = scrub_text(
        node.value,
        node.fhir_type,
        node.name,
        parent.fhir_type if parent is not None else "",
        parent.value if parent is not None else None,
        scrubber,
        ctx.patient_identifiers,
        cache_short,
    )
    if new is not NOT_TEXT:
        node.value = new
        record(ops, ctx.hits, (rule.index, rule.method), "REDACT")
