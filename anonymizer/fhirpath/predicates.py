"""Simple ``where(...)`` arguments compiled to Python, with FHIRPath's three-valued logic.

A ``where`` argument made only of ``and``/``or`` over comparisons of a member of the element with a literal
(``unit = 'a' or code = 'mo'``, ``value >= 90``) is evaluated here instead of by fhirpathpy, which is about a
thousand times slower. Only the cases whose FHIRPath result is certain are answered: a missing member is the
empty collection (a comparison with it is empty, ``and``/``or`` follow FHIRPath's truth tables); strings compare
with ``=``/``!=`` to string literals, numbers (not booleans) with any comparison to integer literals (exact in
Python for ints and floats, as in FHIRPath's decimals). Any other
value (a list, a boolean, an empty string, an object, a type that differs from the literal's) raises
:class:`Undecided` and the caller asks fhirpathpy.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

__all__ = ["Undecided", "simple_predicate"]

#: A compiled argument: the element's JSON value -> True, False or None (empty).
Predicate = Callable[[Any], "bool | None"]

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?![.\d]))|(?P<str>'(?:[^'\\]|\\.)*')|(?P<op>>=|<=|!=|=|<|>|\(|\))|(?P<word>[A-Za-z_][A-Za-z0-9_]*))"
)
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}  # fmt: skip
_KEYWORDS = frozenset(
    {"and", "or", "xor", "implies", "div", "mod", "in", "contains", "is", "as", "true", "false"}
)


class Undecided(Exception):
    """The value is outside what the compiled predicate answers with certainty: evaluate with fhirpathpy."""


@lru_cache(maxsize=256)
def simple_predicate(expression: str) -> Predicate | None:
    """The compiled predicate of ``expression``, or ``None`` when it is not of the simple form."""
    tokens = _tokens(expression)
    if tokens is None:
        return None
    try:
        tree, rest = _or(tokens)
    except (IndexError, ValueError):
        return None
    return _generate(tree) if not rest else None


def _tokens(expression: str) -> list[tuple[str, str]] | None:
    out: list[tuple[str, str]] = []
    position = 0
    text = expression.rstrip()
    while position < len(text):
        m = _TOKEN.match(text, position)
        if m is None or m.end() == position:
            return None
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        position = m.end()
    return out


#: A parsed argument: ``("str"|"num", member, operator, literal)`` or ``("or"|"and", left, right)``.
Node = tuple[Any, ...]


def _or(tokens: list[tuple[str, str]]) -> tuple[Node, list[tuple[str, str]]]:
    left, tokens = _and(tokens)
    while tokens and tokens[0] == ("word", "or"):
        right, tokens = _and(tokens[1:])
        left = ("or", left, right)
    return left, tokens


def _and(tokens: list[tuple[str, str]]) -> tuple[Node, list[tuple[str, str]]]:
    left, tokens = _comparison(tokens)
    while tokens and tokens[0] == ("word", "and"):
        right, tokens = _comparison(tokens[1:])
        left = ("and", left, right)
    return left, tokens


def _comparison(tokens: list[tuple[str, str]]) -> tuple[Node, list[tuple[str, str]]]:
    if tokens[0] == ("op", "("):
        inner, rest = _or(tokens[1:])
        if not rest or rest[0] != ("op", ")"):
            raise ValueError("unbalanced")
        return inner, rest[1:]
    (kind, member), (op_kind, op), (lit_kind, literal) = tokens[0], tokens[1], tokens[2]
    if kind != "word" or member in _KEYWORDS or op_kind != "op" or op not in _COMPARE:
        raise ValueError("not a comparison")
    if lit_kind == "str":
        if op not in ("=", "!=") or "\\" in literal:
            raise ValueError("string ordering or escapes")
        return ("str", member, op, literal[1:-1]), tokens[3:]
    if lit_kind == "num":
        return ("num", member, op, int(literal)), tokens[3:]
    raise ValueError("not a literal")


def _generate(tree: Node, two_valued: bool = True) -> Predicate:
    """One Python function for the whole argument (straight-line code, no call per comparison).

    Every comparison is evaluated (as FHIRPath evaluates both sides of ``and``/``or``): any value outside what
    the comparisons answer with certainty raises :class:`Undecided`, whatever the other comparisons give. So each
    member is read, and checked against the kinds of literal it is compared with, once, before any comparison.
    Members and literals are bound as arguments of the generated code, never written into it.

    ``two_valued``: when every member is present (the common case) no comparison is empty, so the three-valued
    ``and``/``or`` are Python's (comparisons of checked members cannot raise or have effects): the argument is
    then one short-circuit expression, about three times faster. ``False`` leaves it out (for tests).
    """
    constants: list[Any] = []
    lines = ["if type(value) is not dict:", "    raise Undecided", "get = value.get"]
    members: dict[str, str] = {}  # member -> the variable holding its value
    kinds: dict[str, set[str]] = {}
    comparisons: list[str] = []

    def constant(value: Any) -> str:
        constants.append(value)
        return f"c{len(constants) - 1}"

    def read(node: Node) -> None:
        if node[0] in ("or", "and"):
            read(node[1])
            read(node[2])
            return
        kind, member = node[0], node[1]
        if member not in members:
            members[member] = f"m{len(members)}"
            lines.append(f"{members[member]} = get({constant(member)})")
        kinds.setdefault(member, set()).add(kind)

    def emit(node: Node) -> str:
        if node[0] in ("or", "and"):
            a, b = emit(node[1]), emit(node[2])
            n = len(comparisons)
            win, lose = ("True", "False") if node[0] == "or" else ("False", "True")
            comparisons.append(
                f"r{n} = {win} if {a} is {win} or {b} is {win} else "
                f"({lose} if {a} is {lose} and {b} is {lose} else None)"
            )
            return f"r{n}"
        _kind, member, op, literal = node
        n = len(comparisons)
        x = members[member]
        comparisons.append(
            f"r{n} = None if {x} is None else {x} {op if op != '=' else '=='} {constant(literal)}"
        )
        return f"r{n}"

    def emit_two_valued(node: Node) -> str:
        if node[0] in ("or", "and"):
            return f"({emit_two_valued(node[1])} {node[0]} {emit_two_valued(node[2])})"
        _kind, member, op, literal = node
        constants.append(literal)
        return f"{members[member]} {op if op != '=' else '=='} c{len(constants) - 1}"

    read(tree)
    for member, x in members.items():
        for kind in sorted(kinds[member]):
            check = (
                f"{x}.__class__ is not str or not {x}"
                if kind == "str"
                else f"{x}.__class__ is not int and {x}.__class__ is not float"
            )
            lines.append(f"if {x} is not None and ({check}):")
            lines.append("    raise Undecided")
    if two_valued:
        present = " and ".join(f"{x} is not None" for x in members.values())
        lines += [f"if {present}:", f"    return {emit_two_valued(tree)}"]
    result = emit(tree)
    lines.extend(comparisons)
    names = [f"c{i}" for i in range(len(constants))]
    source = "\n".join(
        [f"def factory(Undecided, {', '.join(names)}):", "    def predicate(value):"]
        + [f"        {line}" for line in lines]
        + [f"        return {result}", "    return predicate"]
    )
    scope: dict[str, Any] = {}
    exec(compile(source, "<where predicate>", "exec"), scope)  # noqa: S102 - structure only, constants bound
    predicate: Predicate = scope["factory"](Undecided, *constants)
    return predicate
