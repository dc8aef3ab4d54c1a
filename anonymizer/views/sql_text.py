"""Small helpers that write Spark SQL text (the compiler's output language, identical on Spark 3.5 and 4.x)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

EMPTY = "CAST(array() AS ARRAY<STRING>)"

_counter = itertools.count()


def fresh(prefix: str = "x") -> str:
    """A lambda variable name unique in this process (nested lambdas must not shadow each other)."""
    return f"_{prefix}{next(_counter)}"


def quote(text: str) -> str:
    """A Spark SQL string literal (backslash escapes are on by default in Spark SQL)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ident(name: str) -> str:
    """A back-quoted identifier."""
    return "`" + name.replace("`", "``") + "`"


def split_value(value: str) -> str:
    """A JSON member's text (array JSON, object JSON or primitive text) as a collection of element texts."""
    # Only texts that start like a JSON array are parsed (a failed parse costs an exception per value).
    array = f"coalesce(array_compact(from_json({value}, 'array<string>')), array({value}))"
    return f"CASE WHEN {value} IS NULL THEN {EMPTY} WHEN left({value}, 1) = '[' THEN {array} ELSE array({value}) END"


def single_value(value: str) -> str:
    """A single primitive's text (never a JSON array) as a collection: empty when NULL, else the one text."""
    return f"IF({value} IS NULL, {EMPTY}, array({value}))"


def text_array(value: str) -> str:
    """``value`` (a JSON member's text starting with ``[``) parsed as an array of element texts (NULL if not JSON)."""
    return f"from_json({value}, 'array<string>')"


def first_text(value: str) -> str:
    """The first element of ``split_value(value)`` (NULL when it has none), without a lambda.

    ``array_except`` with ``[NULL]`` keeps the non-NULL elements in their order (duplicates dropped, which does
    not change the first one).
    """
    parsed = text_array(value)
    firsts = f"try_element_at(array_except({parsed}, array(CAST(NULL AS STRING))), 1)"
    return f"CASE WHEN left({value}, 1) <> '[' OR {parsed} IS NULL THEN {value} ELSE {firsts} END"


def as_map(element: str) -> str:
    """An element's JSON object as ``map<string,string>`` (NULL for primitives)."""
    return f"from_json({element}, 'map<string,string>')"


def let(value: str, body: Callable[[str], str], *, prefix: str = "b") -> str:
    """Evaluate ``value`` once and use it several times in ``body`` (Spark SQL has no LET)."""
    var = fresh(prefix)
    return f"element_at(transform(array({value}), {var} -> {body(var)}), 1)"
