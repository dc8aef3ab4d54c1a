"""FHIRPath expressions evaluated on one element's value (fhirpathpy): ``where(...)`` filters and generalize cases.

Rule *paths* are compiled by :mod:`anonymizer.fhirpath.compiler`; the expressions inside them (a ``where``
argument, a generalize case) are full FHIRPath and are evaluated here, compiled once per expression.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

from anonymizer.errors import ProcessingError
from anonymizer.fhirpath.predicates import Undecided, simple_predicate

__all__ = ["compile_expression", "dotnet_regex_to_python", "first_case", "where_holds"]


@lru_cache(maxsize=1024)
def compile_expression(expression: str) -> Callable[..., list[Any]]:
    """Compile a FHIRPath expression once (fhirpathpy); raises on syntax errors."""
    import fhirpathpy
    from fhirpathpy.models import models

    # fhirpathpy binds `$this` only inside functions: evaluating `select(expr)` on the value binds it.
    return fhirpathpy.compile(
        f"select({dotnet_regex_to_python(expression)})", model=models["r4"], options=_RAW
    )


_RAW = {"returnRawData": True}
_NET_GROUP = re.compile(r"\(\?<(?=[A-Za-z_])")
_NET_SUBST = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def dotnet_regex_to_python(expression: str) -> str:
    """Rewrite .NET regex syntax that Microsoft's configs use in ``replaceMatches``: ``(?<n>`` and ``${n}``."""
    return _NET_SUBST.sub(r"\\g<\1>", _NET_GROUP.sub("(?P<", expression))


def where_holds(expression: str, value: Any) -> bool:
    """Whether a ``where(...)`` argument holds for an element's JSON value (compiled once per expression).

    Simple arguments are answered by :mod:`anonymizer.fhirpath.predicates` when the value allows it.
    """
    simple = simple_predicate(expression)
    if simple is not None:
        try:
            return simple(value) is True
        except Undecided:
            pass
    try:
        result = compile_expression(expression)(value)
    except Exception as exc:
        raise ProcessingError(f"evaluating where({expression}) failed ({type(exc).__name__})") from None
    return bool(result) and result[0] is True


_TEMPORAL = frozenset({"date", "dateTime", "instant", "time"})


def _typed(value: object, fhir_type: str) -> object:
    # Dates must compare as dates (`$this >= @2010-01-01`); other primitives evaluate as plain values.
    if fhir_type not in _TEMPORAL:
        return value
    from fhirpathpy.engine.nodes import ResourceNode

    return ResourceNode.create_node(value, fhir_type)


def _plain(value: object) -> object:
    from fhirpathpy.engine.nodes import FP_DateTime, FP_Time, ResourceNode

    if isinstance(value, ResourceNode):
        value = value.data
    if isinstance(value, FP_DateTime | FP_Time):  # fhirpathpy's only FP_TimeBase kinds
        return value.asStr
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value) if value is not None and not isinstance(value, str | int | float | bool) else value


def first_case(value: object, fhir_type: str, cases: Mapping[str, str]) -> tuple[bool, object]:
    """The first case whose predicate is true on ``$this``: ``(True, its expression's value)``, else ``(False, None)``.

    Evaluation failures raise :class:`ProcessingError` (skippable, as in Microsoft's tool).
    """
    node = _typed(value, fhir_type)
    try:
        for predicate, expression in cases.items():
            result = compile_expression(predicate)(node)
            if result and result[0] is True:
                out = compile_expression(expression)(node)
                return True, _plain(out[0]) if out else None
    except Exception as exc:
        raise ProcessingError(f"generalize: evaluating a case failed ({type(exc).__name__})") from None
    return False, None
