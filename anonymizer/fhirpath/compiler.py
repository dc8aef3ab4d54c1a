"""Compile a rule's FHIRPath into a chain of steps evaluated on the typed tree.

Supported (what Microsoft's configs and ours use): member navigation (``Patient.address.city``; choice elements by
base name), ``nodesByType('T')``, ``nodesByName('n')``, ``where(<FHIRPath>)`` (evaluated per node by fhirpathpy),
``extension('url')``, ``ofType(T)`` / ``as T``, ``first()``, ``descendants()``, indexers ``[n]``, parentheses and
``|`` unions. Anything else is rejected when the config is loaded, with the rule named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from anonymizer.errors import ConfigError

_SPLIT = re.compile(r"^(?P<rt>[A-Z][a-zA-Z]*)?(\.)?(?P<expr>.*?)$", re.S)
_FAST = re.compile(
    r"""^nodesBy(?P<kind>Type|Name)\(['"](?P<arg>[A-Za-z0-9]+)['"]\)(\.(?P<child>[A-Za-z0-9]+))?$"""
)


@dataclass(frozen=True)
class Step:
    """One step: ``kind`` is child | by_type | by_name | where | extension | of_type | first | index | descendants | group."""

    kind: str
    arg: str = ""
    group: tuple[tuple[Step, ...], ...] = ()


@dataclass(frozen=True)
class CompiledPath:
    """A rule path: the resource type it applies to and the step chains (one per ``|`` branch)."""

    resource_type: str
    is_resource_rule: bool
    branches: tuple[tuple[Step, ...], ...]
    fast: bool  # Microsoft's nodesByType/nodesByName fast path (sub-resource nodes are matched too)

    def applies_to(self, resource_type: str) -> bool:
        """Microsoft's filter: exact type, or ``""`` / ``Resource`` / ``DomainResource``."""
        return self.resource_type in ("", "Resource", "DomainResource", resource_type)


def flatten(branches: tuple[tuple[Step, ...], ...]) -> tuple[tuple[Step, ...], ...]:
    """Multiply out ``group`` steps: ``(a | b).c`` becomes ``a.c`` and ``b.c``."""
    out: list[tuple[Step, ...]] = []
    for branch in branches:
        partial: list[tuple[Step, ...]] = [()]
        for step in branch:
            if step.kind == "group":
                inner = flatten(step.group)
                partial = [p + g for p in partial for g in inner]
            else:
                partial = [p + (step,) for p in partial]
        out.extend(partial)
    return tuple(out)


def split_path(path: str) -> tuple[str, str]:
    """Microsoft's split of a rule path into (resourceType, expression)."""
    m = _SPLIT.match(path)
    assert m is not None
    rt, expr = m.group("rt") or "", m.group("expr")
    if not expr:
        expr = path
    return rt, expr


@lru_cache(maxsize=4096)
def compile_path(path: str) -> CompiledPath:
    """Compile a rule path (raises :class:`ConfigError` naming the construct it does not support)."""
    rt, expr = split_path(path)
    if path == rt:
        return CompiledPath(rt, True, ((),), False)
    fast = bool(_FAST.match(expr))
    try:
        branches = _parse_union(expr)
    except ValueError as exc:
        raise ConfigError(f"Unsupported FHIR path {path}: {exc}") from None
    return CompiledPath(rt, False, branches, fast)


def _split_top(text: str, sep: str) -> list[str]:
    parts, depth, quote, start, i = [], 0, "", 0, 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            start = i + len(sep)
            i += len(sep)
            continue
        i += 1
    parts.append(text[start:])
    return parts


def _parse_union(expr: str) -> tuple[tuple[Step, ...], ...]:
    return tuple(_parse_chain(part.strip()) for part in _split_top(expr, "|"))


def _parse_chain(expr: str) -> tuple[Step, ...]:
    pieces = _split_top(expr, " as ")
    if len(pieces) > 1:
        return _parse_chain(" as ".join(pieces[:-1]).strip()) + (Step("of_type", pieces[-1].strip()),)
    steps: list[Step] = []
    i, n = 0, len(expr)
    while i < n:
        if expr[i] == ".":
            i += 1
            continue
        if expr[i] == "(":
            close = _matching(expr, i)
            steps.append(Step("group", group=_parse_union(expr[i + 1 : close].strip())))
            i = close + 1
            continue
        if expr[i] == "[":
            close = _matching(expr, i)
            steps.append(Step("index", expr[i + 1 : close].strip()))
            i = close + 1
            continue
        m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", expr[i:])
        if not m:
            raise ValueError(f"unexpected {expr[i:]!r}")
        name = m.group(0)
        i += len(name)
        if i < n and expr[i] == "(":
            close = _matching(expr, i)
            steps.append(_function(name, expr[i + 1 : close].strip()))
            i = close + 1
        else:
            steps.append(Step("child", name))
    return tuple(steps)


def _function(name: str, args: str) -> Step:
    literal = args.strip("'\"")
    if name == "nodesByType":
        return Step("by_type", literal)
    if name == "nodesByName":
        return Step("by_name", literal)
    if name == "where":
        return Step("where", args)
    if name == "extension":
        return Step("extension", literal)
    if name == "ofType":
        return Step("of_type", args)
    if name in ("first", "descendants") and not args:
        return Step(name)
    raise ValueError(f"function {name}() is not supported in rule paths")


def _matching(text: str, start: int) -> int:
    depth, quote = 0, ""
    for j in range(start, len(text)):
        ch = text[j]
        if quote:
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
            if depth == 0:
                return j
    raise ValueError("unbalanced parentheses")
