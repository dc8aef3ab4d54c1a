"""``scrubText`` at a compiled position: the same :func:`anonymizer.text_method.scrub_node` the node-tree engine calls.

Scrubbing reads the element's parent (an ``Attachment``'s ``contentType``, and drops its ``hash``), so the
operation receives the parent object and hands ``scrub_node`` a one-element view of it.
"""

from __future__ import annotations

from typing import Any

from anonymizer.errors import VALUE_FAILURES, method_failed
from anonymizer.fhir.tree import Node
from anonymizer.plan.compiler import NOCHANGE, ElementPlan, Op, PlanCompiler
from anonymizer.plan.program import RuleProgram


class _ScrubContext:
    """What ``scrub_node`` reads of a context: parameters, ``as_of``, the offset, hits, patient identifiers."""

    __slots__ = ("params", "as_of", "hits", "patient_identifiers", "offset")

    def __init__(self, compiler: PlanCompiler, run: Any, rule_index: int) -> None:
        self.params = compiler.settings.params
        self.as_of = compiler.settings.as_of
        self.hits = compiler.hits
        self.patient_identifiers = run.patient_identifiers
        self.offset = run.offset_for(rule_index)


def scrub_text_op(compiler: PlanCompiler, element: ElementPlan, prog: RuleProgram) -> Op | None:
    """The operation of a ``scrubText`` rule at ``element`` (other methods: ``None``)."""
    rule = prog.rule
    if rule.method != "scrubtext":
        return None
    pos = element.position
    owner_path = element.owner_path

    def scrub(value: Any, run: Any, parent: Any) -> Any:
        if not isinstance(value, str) or not value:
            return NOCHANGE
        parent_node = Node(None, {"v": parent}, "v", "", pos.parent_type, pos.parent_type)
        box = {"v": value}
        node = Node(parent_node, box, "v", pos.name, pos.fhir_type, pos.fhir_type, path=element.path)
        try:
            from anonymizer.text_method import scrub_node

            scrub_node(node, rule, _ScrubContext(compiler, run, rule.index), run.ops)  # type: ignore[arg-type]
        except VALUE_FAILURES as exc:
            raise method_failed(rule.label, rule.method, owner_path, exc) from None
        return box["v"]

    return scrub
