"""Compiled rule plans: for every element position of a resource type, which rule owns it and what it does.

Microsoft's engine applies each rule in configuration order to the nodes its path matches and to their
descendants, skipping nodes an earlier rule already visited. So the rule that changes an element is the
*first* rule (lowest index) that matches the element or one of its ancestors within the same resource. For
the rule paths in :mod:`anonymizer.engine.compiled.program` whether a rule matches an element depends only on the
element's position (its names and FHIR types from the resource down), except for ``extension('url')``, which
also reads the extension's ``url``. A plan therefore records, per position:

- the automaton states of every rule branch there (which steps have matched so far),
- the owning rule and the function it applies to the value there (:mod:`anonymizer.engine.compiled.operations`),
- the plans of the child positions, built the first time data reaches them and then reused.

One :class:`ObjPlan` tree is built per resource type and per process; a resource is then anonymized by one
walk over its JSON (:mod:`anonymizer.engine.compiled.walk`) with a dictionary lookup per element.
"""

from __future__ import annotations

from typing import Any

from anonymizer.engine.compiled.changes import Changes
from anonymizer.engine.compiled.operations import operation
from anonymizer.engine.compiled.plans import (
    SKIP,
    ElementPlan,
    KeyPlan,
    MemoBudget,
    ObjPlan,
    Op,
    State,
    UrlGuard,
    WhereGuard,
)
from anonymizer.engine.compiled.program import RuleProgram
from anonymizer.engine.kernel.labels import Hits
from anonymizer.engine.kernel.values import OpSettings, Position
from anonymizer.errors import InvalidInputError
from anonymizer.fhir.model import TypeModel


class PlanCompiler:
    """Builds and caches the plans of one configuration, one root :class:`ObjPlan` per resource type."""

    def __init__(
        self, programs: tuple[RuleProgram, ...], model: TypeModel, settings: OpSettings, hits: Hits
    ) -> None:
        self.programs = programs
        self.model = model
        self.settings = settings
        self.changes = Changes(hits)
        self.roots: dict[str, ObjPlan] = {}
        self.memo_budget = MemoBudget()

    def __repr__(self) -> str:
        return f"PlanCompiler(rules={len(self.programs)}, types={len(self.roots)})"

    def rule(self, index: int) -> RuleProgram:
        """The program of the rule with configuration index ``index``."""
        return self.programs[index]

    # -- plans ----------------------------------------------------------------------------------------
    def root(self, resource_type: str) -> ObjPlan:
        """The plan of a resource of ``resource_type`` (built on first use)."""
        plan = self.roots.get(resource_type)
        if plan is None:
            start = frozenset(
                (p, b, 0, 0)
                for p, prog in enumerate(self.programs)
                if prog.compiled.applies_to(resource_type)
                for b in range(len(prog.branches))
            )
            states, matched = self._closure(start, resource_type, resource_type, at_root=True)
            position = Position(resource_type, resource_type, "")
            element = ElementPlan(
                self, position, resource_type, resource_type, states, matched, resource_type, None
            )
            plan = self.roots[resource_type] = ObjPlan(self, element, is_root=True)
        return plan

    def key(self, parent: ObjPlan, key: str) -> Any:
        """Plan a JSON key of ``parent`` (validating it against the R4 model as the node-tree engine does)."""
        if parent.is_root and key == "resourceType":
            return SKIP
        if key.startswith("_"):
            base = parent.key(key[1:])
            if base is SKIP:
                return SKIP
            holder = KeyPlan(parent, key, base.name, base.fhir_type, base.type_path)
            holder.holder_only = True
            holder.base = base
            return holder
        ct = self.model.child(parent.type_path, key)
        if ct is None:
            if key == "fhir_comments":
                return SKIP
            raise InvalidInputError(
                f"The input FHIR resource is invalid: unknown element {parent.path}.{key}"
            )
        plan = KeyPlan(parent, key, ct.name, ct.fhir_type, ct.type_path)
        if not plan.is_resource:
            self._plan_states(plan)
        return plan

    def _plan_states(self, plan: KeyPlan) -> None:
        urls: list[str] = []
        for p, b, k, mode in plan.parent.states:
            steps = self.programs[p].branches[b]
            step = steps[k] if mode == 0 and k < len(steps) else None
            if (
                step is not None
                and step.kind == "extension"
                and plan.name == "extension"
                and step.arg not in urls
            ):
                urls.append(step.arg)
        # The where() filters this element may meet: those reached when every guard holds (a superset).
        wheres: list[str] = []
        entering = self._entering(plan, dict.fromkeys(urls, True))
        self._closure(entering, plan.name, plan.fhir_type, at_root=False, wheres=wheres)
        plan.guards = tuple([UrlGuard(u) for u in urls] + [WhereGuard(w) for w in wheres])
        if not plan.guards:
            plan.static = self.element(plan, ())

    def _entering(self, plan: KeyPlan, urls: dict[str, bool]) -> frozenset[State]:
        """The states that move from the parent into ``plan``'s element (``urls``: outcome per url guard)."""
        entering: set[State] = set()
        for p, b, k, mode in plan.parent.states:
            if mode == 1:
                entering.add((p, b, k, 1))
                continue
            steps = self.programs[p].branches[b]
            if k == len(steps):
                continue
            step = steps[k]
            kind = step.kind
            if kind == "child":
                if step.arg == plan.name:
                    entering.add((p, b, k + 1, 0))
            elif kind == "extension":
                if plan.name == "extension" and urls.get(step.arg, False):
                    entering.add((p, b, k + 1, 0))
            elif kind in ("by_type", "by_name", "descendants"):
                entering.add((p, b, k, 1))
        return frozenset(entering)

    def element(self, plan: KeyPlan, outcome: tuple[bool, ...]) -> ElementPlan:
        """The element plan of ``plan`` when its guards came out as ``outcome``."""
        parent = plan.parent
        urls = {g.arg: o for g, o in zip(plan.guards, outcome, strict=True) if isinstance(g, UrlGuard)}
        wheres = {g.arg: o for g, o in zip(plan.guards, outcome, strict=True) if isinstance(g, WhereGuard)}
        entering = self._entering(plan, urls)
        states, matched = self._closure(entering, plan.name, plan.fhir_type, at_root=False, outcomes=wheres)
        owner, owner_path = parent.owner, parent.owner_path
        if matched is not None and (owner is None or matched < owner):
            owner, owner_path = matched, plan.path
        position = Position(plan.fhir_type, plan.name, parent.fhir_type)
        consumed = parent.consumed_by
        element = ElementPlan(self, position, plan.path, plan.type_path, states, owner, owner_path, consumed)
        if (
            element.op is not None
            and owner is not None
            and self.programs[owner].rule.method == "perturb"
            and consumed != owner
        ):
            element.consumed_by = owner  # perturb marks the subtree of what it changed as visited
        return element

    def _closure(self, states: frozenset[State], name: str, fhir_type: str, *, at_root: bool,
                 outcomes: dict[str, bool] | None = None, wheres: list[str] | None = None,
                 ) -> tuple[frozenset[State], int | None]:  # fmt: skip
        """Apply the steps that do not move (type and ``where`` filters, self matches).

        Returns the states and the first rule that matches here. ``where`` filters take their outcome from
        ``outcomes``; with ``wheres`` given, every filter holds and its expression is collected instead.
        """
        out = set(states)
        work = list(states)
        matched: int | None = None
        model = self.model
        while work:
            p, b, k, mode = work.pop()
            prog = self.programs[p]
            steps = prog.branches[b]
            nxt: State | None = None
            if mode == 1:
                step = steps[k]
                kind = step.kind
                if (
                    kind == "descendants"
                    or (kind == "by_type" and fhir_type == step.arg)
                    or (kind == "by_name" and name == step.arg)
                ):
                    nxt = (p, b, k + 1, 0)
            elif k == len(steps):
                if matched is None or prog.index < matched:
                    matched = prog.index
            else:
                step = steps[k]
                kind = step.kind
                if kind == "where":
                    if wheres is not None:
                        if step.arg not in wheres:
                            wheres.append(step.arg)
                        nxt = (p, b, k + 1, 0)
                    elif outcomes is not None and outcomes.get(step.arg, False):
                        nxt = (p, b, k + 1, 0)
                elif kind == "of_type":
                    wanted = step.arg.strip().removeprefix("FHIR.")
                    if fhir_type == wanted or model.is_a(fhir_type, wanted):
                        nxt = (p, b, k + 1, 0)
                elif kind in ("by_type", "by_name"):
                    # descendant-or-self; Microsoft's cached path starts below the resource node
                    hit = fhir_type == step.arg if kind == "by_type" else name == step.arg
                    if hit and not (at_root and prog.fast):
                        nxt = (p, b, k + 1, 0)
                elif kind == "child" and at_root and step.arg == fhir_type:
                    nxt = (p, b, k + 1, 0)  # `Condition.abatement` inside a union names the resource
            if nxt is not None and nxt not in out:
                out.add(nxt)
                work.append(nxt)
        return frozenset(out), matched

    def operation(self, element: ElementPlan) -> Op | None:
        """What the owning rule does at ``element`` (``None``: nothing, the walk only goes on below)."""
        owner = element.owner
        if owner is None or owner == element.consumed_by:
            return None
        return operation(self.programs[owner], element, self.model, self.settings, self.changes)
