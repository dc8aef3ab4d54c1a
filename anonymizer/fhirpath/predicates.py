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
        predicate, rest = _or(tokens)
    except (IndexError, ValueError):
        return None
    return predicate if not rest else None


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


def _or(tokens: list[tuple[str, str]]) -> tuple[Predicate, list[tuple[str, str]]]:
    left, tokens = _and(tokens)
    while tokens and tokens[0] == ("word", "or"):
        right, tokens = _and(tokens[1:])
        left = _either(left, right)
    return left, tokens


def _and(tokens: list[tuple[str, str]]) -> tuple[Predicate, list[tuple[str, str]]]:
    left, tokens = _comparison(tokens)
    while tokens and tokens[0] == ("word", "and"):
        right, tokens = _comparison(tokens[1:])
        left = _both(left, right)
    return left, tokens


def _comparison(tokens: list[tuple[str, str]]) -> tuple[Predicate, list[tuple[str, str]]]:
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
        return _compare_string(member, _COMPARE[op], literal[1:-1]), tokens[3:]
    if lit_kind == "num":
        return _compare_number(member, _COMPARE[op], int(literal)), tokens[3:]
    raise ValueError("not a literal")


def _member(value: Any, name: str) -> Any:
    if type(value) is not dict:
        raise Undecided
    return value.get(name)


def _compare_string(name: str, compare: Callable[[Any, Any], bool], literal: str) -> Predicate:
    def predicate(value: Any) -> bool | None:
        found = _member(value, name)
        if found is None:
            return None
        if type(found) is not str or not found:
            raise Undecided
        return compare(found, literal)

    return predicate


def _compare_number(name: str, compare: Callable[[Any, Any], bool], literal: int) -> Predicate:
    def predicate(value: Any) -> bool | None:
        found = _member(value, name)
        if found is None:
            return None
        if type(found) is not int and type(found) is not float:
            raise Undecided
        return compare(found, literal)

    return predicate


def _either(left: Predicate, right: Predicate) -> Predicate:
    def predicate(value: Any) -> bool | None:
        a, b = left(value), right(value)
        if a is True or b is True:
            return True
        if a is False and b is False:
            return False
        return None

    return predicate


def _both(left: Predicate, right: Predicate) -> Predicate:
    def predicate(value: Any) -> bool | None:
        a, b = left(value), right(value)
        if a is False or b is False:
            return False
        if a is True and b is True:
            return True
        return None

    return predicate
