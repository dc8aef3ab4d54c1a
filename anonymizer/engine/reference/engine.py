"""The node-tree engine: every rule in configuration order on the typed tree of each resource."""

from __future__ import annotations

from typing import Any

from anonymizer.config import RuleConfig
from anonymizer.engine.kernel.labels import Hits, add_security_labels
from anonymizer.engine.kernel.values import OpSettings, Position, ValueFn, value_op
from anonymizer.engine.reference.nodes import Context, apply_method, mark_subtree
from anonymizer.errors import VALUE_FAILURES, method_failed
from anonymizer.fhir.model import TypeModel
from anonymizer.fhir.prune import prune
from anonymizer.fhir.tree import Node, children, resource_node
from anonymizer.fhirpath.compiler import CompiledPath, compile_path
from anonymizer.fhirpath.evaluate import ResourceIndex, match
from anonymizer.fhirpath.expressions import where_holds
from anonymizer.fhirpath.json_path import select

__all__ = ["ReferenceEngine"]


def _where(expression: str, node: Node) -> bool:
    return where_holds(expression, node.value)


class ReferenceEngine:
    """Microsoft's algorithm: for each resource reached, each rule's matches, then their descendants."""

    name = "reference"

    def __init__(
        self, rules: tuple[RuleConfig, ...], model: TypeModel, settings: OpSettings, hits: Hits
    ) -> None:
        self.model = model
        self.settings = settings
        self.hits = hits
        self._compiled = [(rule, compile_path(rule.path) if rule.path else None) for rule in rules]
        self._plans: dict[str, list[tuple[RuleConfig, CompiledPath | None]]] = {}
        self._ops: dict[tuple[int, Position], ValueFn | None] = {}

    def __repr__(self) -> str:
        return f"ReferenceEngine(rules={len(self._compiled)})"

    def process(
        self,
        resource: dict[str, Any],
        prefix: str | None,
        patient_identifiers: Any,
        *,
        shared_results: bool = False,
    ) -> None:
        """Anonymize a validated top-level resource in place, and prune what was emptied."""
        ctx = Context(
            settings=self.settings,
            model=self.model,
            root=resource,
            visited=set(),
            prefix=prefix,
            hits=self.hits,
            value_op=self._value_op,
            patient_identifiers=patient_identifiers,
        )
        self._process_resource(resource_node(resource), ctx, None)
        prune(resource)

    def plan(self, resource_type: str) -> list[tuple[RuleConfig, CompiledPath | None]]:
        """The rules that apply to ``resource_type``, in order (worked out once per type)."""
        plan = self._plans.get(resource_type)
        if plan is None:
            plan = [(rule, cp) for rule, cp in self._compiled if cp is None or cp.applies_to(resource_type)]
            self._plans[resource_type] = plan
        return plan

    def _value_op(self, rule: RuleConfig, position: Position) -> ValueFn | None:
        key = (rule.index, position)
        if key not in self._ops:
            self._ops[key] = value_op(rule, position, self.settings)
        return self._ops[key]

    def _process_resource(self, node: Node, ctx: Context, parent_ops: set[str] | None) -> None:
        ops: set[str] = set()
        index = ResourceIndex(node, ctx.model)
        for rule, compiled in self.plan(node.fhir_type):
            targets = (
                match(compiled, index, _where)
                if compiled is not None
                else select(rule.json_path or "", index)
            )
            for target in targets:
                try:
                    self._apply_recursive(target, rule, ctx, ops)
                except VALUE_FAILURES as exc:
                    raise method_failed(rule.label, rule.method, target.path, exc) from None
        for sub in index.all_nodes()[1:]:
            if sub.is_resource:
                self._process_resource(sub, ctx, ops)
        if parent_ops is not None:
            parent_ops |= ops
        if node.name != "contained":
            add_security_labels(node.value, ops)

    def _apply_recursive(self, node: Node, rule: RuleConfig, ctx: Context, ops: set[str]) -> None:
        stack = [node]
        while stack:
            current = stack.pop()
            if current.location in ctx.visited:
                continue
            marks_subtree = apply_method(current, rule, ctx, ops)
            ctx.visited.add(current.location)
            if marks_subtree:
                mark_subtree(current, ctx)
                continue
            stack.extend(reversed([c for c in children(current, ctx.model) if not c.is_resource]))
