"""Which rule owns each element position (first rule wins), worked out over the R4 model for every resource type.

Microsoft's engine applies the rules in configuration order; a rule changes the elements its path matches and
their descendants, unless an earlier rule already visited them. So the rule that acts on an element is the
first rule matching the element or one of its ancestors. The search below follows each rule path as a small
automaton down the type model (the same stepping as :mod:`anonymizer.engine.compiled.compiler`), carrying the owner
inherited from the ancestors:

- a rule that matches somewhere with no earlier owner is *effective*; a rule that matches only where an earlier
  rule already owns the element is *shadowed* (it can never apply);
- value-dependent steps (``where``, ``extension('url')``, ``first()``, indexers) are *conditional*: such a match
  may or may not happen, so it makes its rule effective but never shadows a later rule;
- with ``locations`` given, the owner of every element position matching a location is recorded (the Safe
  Harbor coverage table), with one example path each.

Search states are memoised by (position, automaton states, owner), so each type is explored once per distinct
rule context, not once per path.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from anonymizer.config.lint.elements import ElementIndex, Node
from anonymizer.fhir.model import PRIMITIVE_TYPES
from anonymizer.fhirpath.compiler import Step

#: (program, branch, step, mode, conditional): mode 0 = a focus after ``step`` steps, 1 = inside a descendant search.
State = tuple[int, int, int, int, bool]
NO_OWNER = 1 << 30
_CONDITIONAL = frozenset({"where", "first", "index"})


@dataclass(frozen=True)
class Program:
    """A rule path as flat branches (see :func:`anonymizer.fhirpath.compiler.flatten`)."""

    index: int
    resource_type: str
    branches: tuple[tuple[Step, ...], ...]
    fast: bool

    def applies_to(self, resource_type: str) -> bool:
        """Microsoft's filter: exact type, or ``""`` / ``Resource`` / ``DomainResource``."""
        return self.resource_type in ("", "Resource", "DomainResource", resource_type)


@dataclass
class Ownership:
    """What the search found."""

    effective: set[int] = field(default_factory=set)
    matched: set[int] = field(default_factory=set)
    #: rule index -> an example element path where an earlier rule owns what it matches
    shadowed_at: dict[int, tuple[str, int]] = field(default_factory=dict)
    #: location -> owner rule index (NO_OWNER: none) -> example element path
    owners: dict[str, dict[int, str]] = field(default_factory=dict)
    #: location -> rules that match there only conditionally
    conditional: dict[str, set[int]] = field(default_factory=dict)


def analyse(
    index: ElementIndex,
    programs: list[Program],
    locations: Callable[[Node], list[str]] | None = None,
) -> Ownership:
    """Run the search over every resource type (see the module docstring)."""
    result = Ownership()
    seen: set[tuple[object, ...]] = set()
    for resource_type in sorted(index.resource_types):
        start = frozenset(
            (p, b, 0, 0, False)
            for p, prog in enumerate(programs)
            if prog.applies_to(resource_type)
            for b in range(len(prog.branches))
        )
        if not start and locations is None:
            continue
        # Breadth first, so that the example path kept for each finding is a shortest one.
        queue: deque[tuple[Node, frozenset[State], int, str, bool]] = deque(
            [(index.root(resource_type), start, NO_OWNER, resource_type, False)]
        )
        while queue:
            node, entering, owner, path, below_primitive = queue.popleft()
            states, matches = _closure(index, programs, entering, node)
            sure = min((programs[p].index for p, c in matches.items() if not c), default=NO_OWNER)
            for p in matches:
                rule = programs[p].index
                result.matched.add(rule)
                if rule < owner and rule <= sure:
                    result.effective.add(rule)
                elif rule not in result.shadowed_at:
                    result.shadowed_at[rule] = (path, min(owner, sure))
            owner = min(owner, sure)
            if locations is not None and not below_primitive:
                for loc in locations(node):
                    result.owners.setdefault(loc, {}).setdefault(owner, path)
                    for p, conditional in matches.items():
                        if conditional and programs[p].index < owner:
                            result.conditional.setdefault(loc, set()).add(programs[p].index)
            # Rules below the owner cannot act here any more; they are followed on only until the first
            # position that shows where they are shadowed (for the message).
            live = frozenset(
                s
                for s in states
                if programs[s[0]].index < owner
                or (
                    programs[s[0]].index not in result.effective
                    and programs[s[0]].index not in result.shadowed_at
                )
            )
            if locations is None and all(programs[s[0]].index in result.effective for s in live):
                continue  # nothing left to learn below: every rule still in play is known to apply
            below = below_primitive or node.fhir_type in PRIMITIVE_TYPES
            key = (node, live, owner, below)
            if key in seen:
                continue
            seen.add(key)
            for child in index.child_nodes(node):
                queue.append((child, _entering(programs, live, child), owner, f"{path}.{child.name}", below))
    return result


def _entering(programs: list[Program], states: frozenset[State], child: Node) -> frozenset[State]:
    """The states that move from a parent into ``child``."""
    out: set[State] = set()
    for p, b, k, mode, cond in states:
        if mode == 1:
            out.add((p, b, k, 1, cond))
            continue
        steps = programs[p].branches[b]
        if k == len(steps):
            continue
        step = steps[k]
        if step.kind == "child" and step.arg == child.name:
            out.add((p, b, k + 1, 0, cond))
        elif step.kind == "extension" and child.name == "extension":
            out.add((p, b, k + 1, 0, True))
        elif step.kind in ("by_type", "by_name", "descendants"):
            out.add((p, b, k, 1, cond))
    return frozenset(out)


def _closure(
    index: ElementIndex, programs: list[Program], states: frozenset[State], node: Node
) -> tuple[frozenset[State], dict[int, bool]]:
    """Apply the steps that do not move; returns the states and the programs matching here (-> conditional)."""
    out = set(states)
    work = list(states)
    matches: dict[int, bool] = {}
    while work:
        p, b, k, mode, cond = work.pop()
        prog = programs[p]
        steps = prog.branches[b]
        nxt: State | None = None
        if mode == 1:
            step = steps[k]
            if (
                step.kind == "descendants"
                or (step.kind == "by_type" and node.fhir_type == step.arg)
                or (step.kind == "by_name" and node.name == step.arg)
            ):
                nxt = (p, b, k + 1, 0, cond)
        elif k == len(steps):
            matches[p] = matches.get(p, True) and cond
        else:
            step = steps[k]
            if step.kind in _CONDITIONAL:
                nxt = (p, b, k + 1, 0, True)
            elif step.kind == "of_type":
                wanted = step.arg.strip().removeprefix("FHIR.")
                if node.fhir_type == wanted or index.model.is_a(node.fhir_type, wanted):
                    nxt = (p, b, k + 1, 0, cond)
            elif step.kind in ("by_type", "by_name"):
                hit = node.fhir_type == step.arg if step.kind == "by_type" else node.name == step.arg
                if hit and not (node.at_root and prog.fast):
                    nxt = (p, b, k + 1, 0, cond)
            elif step.kind == "child" and node.at_root and step.arg == node.fhir_type:
                nxt = (p, b, k + 1, 0, cond)
        if nxt is not None and nxt not in out:
            out.add(nxt)
            work.append(nxt)
    return frozenset(out), matches
