"""Simple where() arguments compiled to Python answer exactly as fhirpathpy does, or defer to it."""

from __future__ import annotations

import random
from typing import Any

import pytest

from anonymizer.fhirpath.expressions import compile_expression
from anonymizer.fhirpath.predicates import Undecided, simple_predicate

STRICT_AGE = (
    "((code = 'a' or unit = 'a' or unit = 'yr' or unit = 'year' or unit = 'years') and value >= 90) or "
    "((code = 'mo' or unit = 'mo' or unit = 'month' or unit = 'months') and value >= 1080)"
)
EXPRESSIONS = [
    STRICT_AGE,
    "use = 'official'",
    "use != 'official' and value < 3",
    "(value > 1 or value <= 0) and unit = 'mg'",
    "value = 90",
]
_MEMBER_VALUES: list[Any] = [
    None, "a", "mo", "yr", "mg", "official", "usual", "", "A", 0, 1, 2, 3, 89, 90, 91, 89.99999999999999, 90.0,
    1079.5, 1080, 1e20, -1, True, False, ["a"], {"x": 1}, [], 3.0,
]  # fmt: skip


def _fhirpathpy(expression: str, value: Any) -> bool:
    result = compile_expression(expression)(value)
    return bool(result) and result[0] is True


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_compiled_predicates_agree_with_fhirpathpy(expression: str) -> None:
    predicate = simple_predicate(expression)
    assert predicate is not None
    rng = random.Random(expression)
    answered = 0
    for _ in range(1500):
        value = {
            name: rng.choice(_MEMBER_VALUES)
            for name in ("code", "unit", "value", "use", "system")
            if rng.random() < 0.7
        }
        value = {k: v for k, v in value.items() if v is not None}
        try:
            fast = predicate(value) is True
        except Undecided:
            continue
        answered += 1
        assert fast == _fhirpathpy(expression, value), value
    assert answered > 150


@pytest.mark.parametrize(
    "expression",
    ["value >= 1.5", "code.coding.code = 'x'", "$this = 'a'", "unit > 'a'", "name = 'O\\'Brien'", "a xor b",
     "exists()", "value = true"],
)  # fmt: skip
def test_other_arguments_are_left_to_fhirpathpy(expression: str) -> None:
    assert simple_predicate(expression) is None


def test_values_outside_the_simple_cases_are_undecided() -> None:
    predicate = simple_predicate("unit = 'a' and value >= 90")
    assert predicate is not None
    for value in ({"unit": ["a"]}, {"unit": "a", "value": True}, {"unit": ""}, "a", [{"unit": "a"}]):
        with pytest.raises(Undecided):
            predicate(value)


def _outcome(predicate: Any, value: Any) -> Any:
    try:
        return predicate(value)
    except Undecided:
        return Undecided


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_the_two_valued_shortcut_gives_the_three_valued_result(expression: str) -> None:
    """With every member present the argument is evaluated as one short-circuit expression: it must give what
    the three-valued evaluation gives (True, False or empty), on values with and without each member."""
    from anonymizer.fhirpath import predicates

    tree, rest = predicates._or(predicates._tokens(expression) or [])
    assert not rest
    fast, full = predicates._generate(tree), predicates._generate(tree, two_valued=False)
    rng = random.Random(f"two-valued {expression}")
    shortcut = 0
    for _ in range(3000):
        value = {
            name: rng.choice(_MEMBER_VALUES)
            for name in ("code", "unit", "value", "use", "system")
            if rng.random() < 0.9
        }
        value = {k: v for k, v in value.items() if v is not None}
        got, want = _outcome(fast, value), _outcome(full, value)
        assert got is want or (got == want and type(got) is type(want)), value
        shortcut += want in (True, False) and all(
            name in value for name in ("code", "unit", "value", "use") if f"{name} " in f"{expression} "
        )
    assert shortcut > 30
