"""Rule paths as flat step programs, and the check that a configuration can run on compiled plans.

A rule's compiled FHIRPath (:mod:`anonymizer.fhirpath.compiler`) becomes one or more *branches*, each a flat
tuple of steps (``|`` unions and parenthesised groups are multiplied out). Matching a branch along a
resource's element tree is then a small automaton whose state at an element depends only on the element's
position in the FHIR type model, so the rules that reach each position can be worked out once per resource
type (see :mod:`anonymizer.engine.compiled.compiler`).

Steps whose outcome depends on sibling positions (``first()``, indexers), ``where`` filters that an earlier
rule's change could flip, ``jsonPath`` rules and ``substitute`` (it rebuilds a subtree around what earlier rules
kept) are not compiled: :func:`fallback_reasons` says why, and a configuration that uses them runs on the
node-tree engine, which implements every construct.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from anonymizer.config import RuleConfig
from anonymizer.fhir.model import TypeModel
from anonymizer.fhirpath.compiler import CompiledPath, Step, compile_path, flatten

#: Step kinds a branch may hold after flattening.
MOVING = frozenset({"child", "extension", "by_type", "by_name", "descendants"})
FILTERS = frozenset({"of_type", "where"})
#: Methods whose effect on an element depends only on that element (and its position).
COMPILED_METHODS = frozenset(
    {"keep", "redact", "dateshift", "cryptohash", "encrypt", "perturb", "scrubtext", "generalize"}
)


@dataclass(frozen=True)
class RuleProgram:
    """One rule as flat branches; ``fast`` is Microsoft's cached ``nodesByType``/``nodesByName`` path."""

    rule: RuleConfig
    compiled: CompiledPath
    branches: tuple[tuple[Step, ...], ...]

    @property
    def index(self) -> int:
        """The rule's priority (configuration order)."""
        return self.rule.index

    @property
    def fast(self) -> bool:
        """True for Microsoft's fast path (its search starts below the resource node)."""
        return self.compiled.fast


def unsupported_reason(rules: tuple[RuleConfig, ...], model: TypeModel) -> str | None:
    """The first reason why ``rules`` cannot run on compiled plans (``None``: they can)."""
    reasons = fallback_reasons(rules, model)
    return reasons[0] if reasons else None


def fallback_reasons(rules: tuple[RuleConfig, ...], model: TypeModel) -> tuple[str, ...]:
    """Why ``rules`` cannot run on compiled plans, one reason per rule that cannot (empty: they can)."""
    resource_slots = _resource_slot_names(model)
    reasons = []
    for rule in rules:
        reason = _rule_reason(rule, rules, model, resource_slots)
        if reason is not None:
            reasons.append(reason)
    return tuple(reasons)


def _rule_reason(
    rule: RuleConfig, rules: tuple[RuleConfig, ...], model: TypeModel, resource_slots: frozenset[str]
) -> str | None:
    if rule.path is None:
        return f"{rule.label}: jsonPath rules"
    if rule.method not in COMPILED_METHODS:
        return f"{rule.label}: method {rule.method}"
    compiled = compile_path(rule.path)
    for branch in flatten(compiled.branches):
        for step in branch:
            if step.kind not in MOVING and step.kind not in FILTERS:
                return f"{rule.label}: {step.kind}()"
            # Navigation into, or a cached-path match of, a resource inside the resource: such nodes belong
            # to the outer resource's pass in Microsoft's engine.
            if step.kind in ("child", "by_name") and step.arg in resource_slots:
                return f"{rule.label}: reaches into {step.arg}"
            if step.kind == "by_type" and (
                step.arg in model.resource_types or step.arg in ("Resource", "DomainResource")
            ):
                return f"{rule.label}: nodesByType of a resource type"
            if step.kind == "where" and not _where_is_safe(rule, rules, branch):
                return f"{rule.label}: where() at the resource, or after rules that change what it reads"
            if step.kind == "extension" and any(
                _may_change_url(earlier) for earlier in rules[: rule.index] if earlier.method != "keep"
            ):
                # the url is read when the rule runs, after the earlier rules changed what they reach
                return f"{rule.label}: extension() after a rule that may change extension urls"
    return None


def _where_is_safe(rule: RuleConfig, rules: tuple[RuleConfig, ...], branch: tuple[Step, ...]) -> bool:
    """``where()`` is evaluated on the values as written: safe when no earlier rule can change them first.

    The filter may read anything below the element it tests, so every earlier rule that applies to the same
    resources must be ``keep``. A ``where`` on the resource itself is left to the node-tree engine.
    """
    for step in branch:  # the steps that stay on the resource node
        if step.kind == "where":
            return False
        if not (step.kind == "of_type" or (step.kind == "child" and step.arg[:1].isupper())):
            break
    own = compile_path(rule.path or "").resource_type
    generic = ("", "Resource", "DomainResource")
    for earlier in rules[: rule.index]:
        if earlier.method == "keep":
            continue
        other = compile_path(earlier.path).resource_type if earlier.path else ""
        if own in generic or other in generic or other == own:
            return False
    return True


def _may_change_url(rule: RuleConfig) -> bool:
    """True when ``rule`` may match an ``Extension.url`` value itself (not only a whole extension)."""
    if rule.path is None:
        return True
    for branch in flatten(compile_path(rule.path).branches):
        for step in branch:
            if (
                step.kind == "descendants"
                or (step.kind == "by_type" and step.arg == "uri")
                or (step.kind in ("by_name", "child") and step.arg == "url")
            ):
                return True
    return False


def programs(rules: tuple[RuleConfig, ...]) -> tuple[RuleProgram, ...]:
    """The rules as programs, in configuration order (call after :func:`unsupported_reason` said None)."""
    out = []
    for rule in rules:
        assert rule.path is not None
        compiled = compile_path(rule.path)
        out.append(RuleProgram(rule, compiled, flatten(compiled.branches)))
    return tuple(out)


@lru_cache(maxsize=4)
def _resource_slot_names(model: TypeModel) -> frozenset[str]:
    """Names of the elements that hold a resource (``contained``, ``resource``, ``outcome``, ...)."""
    names = {path.rsplit(".", 1)[1] for path, t in model.path2type.items() if t == "Resource" and "." in path}
    return frozenset(names)
