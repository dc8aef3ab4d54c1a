"""Compiled rule plans: for every element position of a resource type, which rule owns it and what it does.

Microsoft's engine applies each rule in configuration order to the nodes its path matches and to their
descendants, skipping nodes an earlier rule already visited. So the rule that changes an element is the
*first* rule (lowest index) that matches the element or one of its ancestors within the same resource. For
the rule paths in :mod:`anonymizer.plan.program` whether a rule matches an element depends only on the
element's position (its names and FHIR types from the resource down), except for ``extension('url')``, which
also reads the extension's ``url``. A plan therefore records, per position:

- the automaton states of every rule branch there (which steps have matched so far),
- the owning rule and the function it applies to the value there (:mod:`anonymizer.plan.value_ops`),
- the plans of the child positions, built the first time data reaches them and then reused.

One :class:`ObjPlan` tree is built per resource type and per process; a resource is then anonymized by one
walk over its JSON (:mod:`anonymizer.plan.walk`) with a dictionary lookup per element.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from anonymizer.errors import VALUE_FAILURES, InvalidInputError, method_failed
from anonymizer.fhir.model import PRIMITIVE_TYPES, TypeModel
from anonymizer.methods import perturb
from anonymizer.plan.program import RuleProgram
from anonymizer.plan.value_ops import OpSettings, Position, remove, value_op
from anonymizer.processors import where_holds

#: (program, branch, step, mode): mode 0 = the element is a focus after ``step`` steps; mode 1 = the element
#: lies below a focus of a descendant search (``nodesByType``, ``nodesByName``, ``descendants()``).
State = tuple[int, int, int, int]
#: An element plan's operation: ``op(value, run, parent object) -> new value or NOCHANGE`` (records its label).
Op = Callable[[Any, Any], Any]


class _NoChange:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NOCHANGE"


NOCHANGE: Any = _NoChange()
#: A key the walk passes over (``resourceType`` of a resource, ``fhir_comments``, ``_x`` beside ``x``).
SKIP: Any = object()


class UrlGuard:
    """``extension('url')``: the extension element's ``url`` equals ``arg``."""

    __slots__ = ("arg",)

    def __init__(self, arg: str) -> None:
        self.arg = arg

    def __call__(self, value: Any) -> bool:
        return isinstance(value, dict) and value.get("url") == self.arg


class WhereGuard:
    """``where(arg)`` holds for the element's value (fhirpathpy, as the node-tree engine evaluates it)."""

    __slots__ = ("arg",)

    def __init__(self, arg: str) -> None:
        self.arg = arg

    def __call__(self, value: Any) -> bool:
        return where_holds(self.arg, value)


Guard = UrlGuard | WhereGuard


class ElementPlan:
    """One element position under one set of guard outcomes."""

    __slots__ = ("compiler", "position", "path", "type_path", "states", "owner", "owner_path", "consumed_by",
                 "op", "_sub")  # fmt: skip

    def __init__(self, compiler: PlanCompiler, position: Position, path: str, type_path: str,
                 states: frozenset[State], owner: int | None, owner_path: str, consumed_by: int | None) -> None:  # fmt: skip
        self.compiler = compiler
        self.position = position
        self.path = path
        self.type_path = type_path
        self.states = states
        self.owner = owner
        self.owner_path = owner_path
        self.consumed_by = consumed_by
        self._sub: ObjPlan | None = None
        self.op: Op | None = compiler.operation(self)

    @property
    def sub(self) -> ObjPlan:
        """The plan of this element's object (a complex value, or a primitive's ``_name`` holder)."""
        sub = self._sub
        if sub is None:
            sub = self._sub = ObjPlan(self.compiler, self, is_root=False)
        return sub


class KeyPlan:
    """A JSON key of an object position: its element, and the element plan (one, or one per guard outcome)."""

    __slots__ = ("parent", "key", "name", "fhir_type", "type_path", "path", "primitive", "is_resource",
                 "static", "guards", "_variants", "holder_only", "base")  # fmt: skip

    def __init__(self, parent: ObjPlan, key: str, name: str, fhir_type: str, type_path: str) -> None:
        self.parent = parent
        self.key = key
        self.name = name
        self.fhir_type = fhir_type
        self.type_path = type_path
        self.path = f"{parent.path}.{name}"
        self.primitive = fhir_type in PRIMITIVE_TYPES
        self.is_resource = fhir_type == "Resource"
        self.static: ElementPlan | None = None
        self.guards: tuple[Guard, ...] = ()
        self._variants: dict[tuple[bool, ...], ElementPlan] = {}
        self.holder_only = False
        self.base: KeyPlan | None = None

    def element(self, value: Any) -> ElementPlan:
        """The element plan for ``value`` (evaluates the ``extension('url')`` and ``where`` guards, if any)."""
        static = self.static
        if static is not None:
            return static
        outcome = tuple(guard(value) for guard in self.guards)
        plan = self._variants.get(outcome)
        if plan is None:
            plan = self._variants[outcome] = self.parent.compiler.element(self, outcome)
        return plan


class ObjPlan:
    """The keys of one object position (a resource, a complex element, or a primitive's extension holder)."""

    __slots__ = ("compiler", "element", "type_path", "fhir_type", "path", "states", "owner", "owner_path",
                 "consumed_by", "is_root", "keys")  # fmt: skip

    def __init__(self, compiler: PlanCompiler, element: ElementPlan, *, is_root: bool) -> None:
        self.compiler = compiler
        self.element = element
        self.type_path = element.type_path
        self.fhir_type = element.position.fhir_type
        self.path = element.path
        self.states = element.states
        self.owner = element.owner
        self.owner_path = element.owner_path
        self.consumed_by = element.consumed_by
        self.is_root = is_root
        self.keys: dict[str, Any] = {}

    def key(self, key: str) -> Any:
        """The :class:`KeyPlan` of ``key`` (or :data:`SKIP`); raises for an element R4 does not define."""
        plan = self.keys.get(key)
        if plan is None:
            plan = self.keys[key] = self.compiler.key(self, key)
        return plan


class PlanCompiler:
    """Builds and caches the plans of one configuration, one root :class:`ObjPlan` per resource type."""

    def __init__(self, programs: tuple[RuleProgram, ...], model: TypeModel, settings: OpSettings,
                 hits: Any, extra_ops: Callable[[PlanCompiler, ElementPlan, RuleProgram], Op | None]) -> None:  # fmt: skip
        self.programs = programs
        self.model = model
        self.settings = settings
        self.hits = hits
        self._extra_ops = extra_ops
        self._roots: dict[str, ObjPlan] = {}

    def __repr__(self) -> str:
        return f"PlanCompiler(rules={len(self.programs)}, types={len(self._roots)})"

    def rule(self, index: int) -> RuleProgram:
        """The program of the rule with configuration index ``index``."""
        return self.programs[index]

    # -- plans ----------------------------------------------------------------------------------------
    def root(self, resource_type: str) -> ObjPlan:
        """The plan of a resource of ``resource_type`` (built on first use)."""
        plan = self._roots.get(resource_type)
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
            plan = self._roots[resource_type] = ObjPlan(self, element, is_root=True)
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

    # -- operations -----------------------------------------------------------------------------------
    def operation(self, element: ElementPlan) -> Op | None:
        """What the owning rule does at ``element`` (``None``: nothing, the walk only goes on below)."""
        owner = element.owner
        if owner is None or owner == element.consumed_by:
            return None
        prog = self.programs[owner]
        rule = prog.rule
        method = rule.method
        position = element.position
        if method == "perturb":
            return self._perturb(element, prog)
        primitive = position.fhir_type in PRIMITIVE_TYPES
        hash_format = str(rule.extra.get("hashFormat", "hex"))
        fn = value_op(method, position, self.settings, hash_format) if primitive else None
        if fn is None:
            return self._extra_ops(self, element, prog) if primitive else None
        return _recording(fn, prog, element.owner_path, self.hits)

    def _perturb(self, element: ElementPlan, prog: RuleProgram) -> Op | None:
        rule = prog.rule
        fhir_type = element.position.fhir_type
        quantity = fhir_type in perturb.QUANTITY_TYPES or self.model.is_a(fhir_type, "Quantity")
        if not quantity and fhir_type not in perturb.NUMERIC_TYPES:
            return None
        label, hits, hit_key = "PERTURB", self.hits, (rule.index, rule.method)
        owner_path = element.owner_path
        settings = {"span": rule.span or 0, "range_type": rule.range_type, "round_to": rule.round_to}

        def noisy(value: Any, value_type: str, run: Any) -> Any:
            if value is None or isinstance(value, bool) or not isinstance(value, int | float):
                return NOCHANGE
            try:
                new = perturb.perturb_value(value, value_type, **settings)
            except VALUE_FAILURES as exc:
                raise method_failed(rule.label, rule.method, owner_path, exc) from None
            run.ops.add(label)
            hits[hit_key] += 1
            return new

        if not quantity:
            return lambda value, run, _parent: noisy(value, fhir_type, run)

        def perturb_quantity(value: Any, run: Any, _parent: Any) -> Any:
            if type(value) is dict and "value" in value:
                value_plan = element.sub.key("value")
                target = value_plan.element(value["value"]) if value_plan is not SKIP else None
                if target is not None and target.owner == rule.index:  # not visited by an earlier rule
                    new = noisy(value["value"], "decimal", run)
                    if new is not NOCHANGE:
                        value["value"] = new
            return NOCHANGE

        return perturb_quantity


def _recording(fn: Any, prog: RuleProgram, owner_path: str, hits: Any) -> Op:
    rule = prog.rule
    hit_key = (rule.index, rule.method)
    if fn is remove:  # the most common operation by far: no call, no offset

        def removing(value: Any, run: Any, _parent: Any) -> Any:
            if value is None or value == "":
                return NOCHANGE
            run.ops.add("REDACT")
            hits[hit_key] += 1
            return None

        return removing
    needs_offset = rule.method == "dateshift"

    def op(value: Any, run: Any, _parent: Any) -> Any:
        if value is None or value == "":
            return NOCHANGE
        try:
            new, label = fn(value, run.offset_for(hit_key[0]) if needs_offset else None)
        except VALUE_FAILURES as exc:
            raise method_failed(rule.label, rule.method, owner_path, exc) from None
        run.ops.add(label)
        hits[hit_key] += 1
        return new

    return op
