"""The plan objects: per element position, which rule owns it and the operation it applies there.

:class:`ObjPlan` holds the keys of an object position, :class:`KeyPlan` one key (and its guards, when the
element's plan depends on its value: ``extension('url')``, ``where(...)``), :class:`ElementPlan` one element
position under one set of guard outcomes. Plans are built lazily by a :class:`Planner` (the
:class:`~anonymizer.engine.compiled.compiler.PlanCompiler`) the first time data reaches a position.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from anonymizer.engine.kernel.values import Position
from anonymizer.fhir.model import PRIMITIVE_TYPES, TypeModel
from anonymizer.fhirpath.expressions import where_holds
from anonymizer.fhirpath.predicates import Undecided, simple_predicate

#: (program, branch, step, mode): mode 0 = the element is a focus after ``step`` steps; mode 1 = the element
#: lies below a focus of a descendant search (``nodesByType``, ``nodesByName``, ``descendants()``).
State = tuple[int, int, int, int]
#: An element plan's operation: ``op(value, run, parent object) -> new value or NOCHANGE`` (records its label).
Op = Callable[[Any, Any, Any], Any]


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

    __slots__ = ("arg", "_simple")

    def __init__(self, arg: str) -> None:
        self.arg = arg
        self._simple = simple_predicate(arg)  # what where_holds asks first, resolved once

    def __call__(self, value: Any) -> bool:
        simple = self._simple
        if simple is not None:
            try:
                return simple(value) is True
            except Undecided:
                pass
        return where_holds(self.arg, value)


Guard = UrlGuard | WhereGuard


class MemoBudget:
    """How much the element memos of one engine hold (see :func:`anonymizer.engine.compiled.walk._account`)."""

    __slots__ = ("used", "plans", "shapes")

    def __init__(self) -> None:
        self.used = 0
        self.plans: list[ObjPlan] = []
        #: generated shape functions held by all positions (:mod:`anonymizer.engine.compiled.shapes`)
        self.shapes = 0


class Planner(Protocol):
    """What plans ask of the compiler that builds them."""

    model: TypeModel
    memo_budget: MemoBudget

    def operation(self, element: ElementPlan) -> Op | None:
        """The operation of the rule owning ``element`` there."""

    def element(self, plan: KeyPlan, outcome: tuple[bool, ...]) -> ElementPlan:
        """The element plan of ``plan`` under the guards' ``outcome``."""

    def key(self, parent: ObjPlan, key: str) -> Any:
        """The plan of ``key`` in ``parent`` (or ``SKIP``)."""


class ElementPlan:
    """One element position under one set of guard outcomes."""

    __slots__ = ("compiler", "position", "path", "type_path", "states", "owner", "owner_path", "consumed_by",
                 "op", "_sub")  # fmt: skip

    def __init__(self, compiler: Planner, position: Position, path: str, type_path: str,
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
        guards = self.guards
        outcome = (guards[0](value),) if len(guards) == 1 else tuple([guard(value) for guard in guards])
        plan = self._variants.get(outcome)
        if plan is None:
            plan = self._variants[outcome] = self.parent.compiler.element(self, outcome)
        return plan


class ObjPlan:
    """The keys of one object position (a resource, a complex element, or a primitive's extension holder)."""

    __slots__ = ("compiler", "element", "type_path", "fhir_type", "path", "states", "owner", "owner_path",
                 "consumed_by", "is_root", "keys", "inert", "walkers", "memo", "memo_hits", "memo_misses",
                 "memo_counted", "shapes", "starts")  # fmt: skip

    def __init__(self, compiler: Planner, element: ElementPlan, *, is_root: bool) -> None:
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
        #: keys of primitives no rule changes here (a scalar value there needs nothing)
        self.inert: set[str] = set()
        #: keys of complex elements no rule changes here, with the plan of their object (only walked)
        self.walkers: dict[str, ObjPlan] = {}
        #: element JSON text -> (the result's text, or None when unchanged; the changes logged; the result)
        self.memo: dict[bytes, tuple[bytes | None, tuple[Any, ...], Any]] | None = {}
        self.memo_hits = 0
        self.memo_misses = 0
        self.memo_counted = False
        #: key tuple -> the walk generated for objects with exactly these keys (:mod:`.shapes`)
        self.shapes: dict[tuple[str, ...], Any] = {}
        #: a resource's key tuple -> (its walk, the rule index that sees the original id): see process.process_resource
        self.starts: dict[tuple[str, ...], tuple[Any, int | None]] = {}

    def key(self, key: str) -> Any:
        """The :class:`KeyPlan` of ``key`` (or :data:`SKIP`); raises for an element R4 does not define."""
        plan = self.keys.get(key)
        if plan is None:
            plan = self.keys[key] = self.compiler.key(self, key)
            static = (
                plan.static if plan is not SKIP and not plan.holder_only and not plan.is_resource else None
            )
            if static is not None and static.op is None:
                if plan.primitive:
                    self.inert.add(key)
                else:
                    self.walkers[key] = static.sub
        return plan
