"""Microsoft's functional fixtures (cases.json kinds output, error, smoke) through our engine."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from anonymizer.engine import Anonymizer
from anonymizer.errors import AnonymizerError, InvalidInputError, ProcessingError, RuleNotApplicableError
from anonymizer.methods.encrypt import decrypt_value

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ms-anonymizer"
CASES = json.loads((FIXTURES / "cases.json").read_text())
#: The fixtures were produced before 2030 ("patient-special-content" flips on 2030-01-01); see the README there.
AS_OF = date(2025, 9, 5)
ERRORS = {
    "AnonymizerProcessingException": ProcessingError,
    "InvalidInputException": InvalidInputError,
    "AnonymizerConfigurationException": AnonymizerError,
    "AnonymizerRuleNotApplicableException": RuleNotApplicableError,
}
#: Differences we keep on purpose or cannot reproduce with fhirpathpy; each is documented in docs/engine.md.
KNOWN_DIFFERENCES: dict[str, str] = {
    "engine/custom-processor-mask (informational)": "custom processors (C# classes registered in code) are not supported",
    "patient-generalize": "Firely-specific: year-only dates compare with full dateTimes, and single objects are re-serialised as arrays",
}


def _load(rel: str) -> Any:
    return json.loads((FIXTURES / rel).read_text(encoding="utf-8-sig"), parse_float=Decimal)


def _normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, Decimal | float) and not isinstance(value, bool):
        return Decimal(str(value)).normalize()
    if isinstance(value, str) and value.endswith("+00:00") and "T" in value:
        return value[:-6] + "Z"
    return value


def _cases(*kinds: str) -> list[Any]:
    return [pytest.param(c, id=c["name"]) for c in CASES if c["kind"] in kinds]


@pytest.fixture(params=[True, False], ids=["plans", "tree"])
def compiled(request: pytest.FixtureRequest) -> bool:
    """Every case runs on the compiled plans and on the node-tree engine (configurations the plans do not
    support run on the tree engine in both)."""
    return bool(request.param)


def _engine(case: dict[str, Any], compiled: bool) -> Anonymizer:
    return Anonymizer.from_config_file(
        FIXTURES / case["config"],
        as_of=AS_OF,
        allow_ephemeral_keys=True,
        compiled=compiled,
        allow_weak_test_keys=True,  # Microsoft's fixtures use short keys
    )


def _input(case: dict[str, Any]) -> Any:
    return json.loads((FIXTURES / case["input"]).read_text(encoding="utf-8-sig"))


@pytest.mark.parametrize("case", _cases("output"))
def test_output_cases(case: dict[str, Any], compiled: bool) -> None:
    if case["name"] in KNOWN_DIFFERENCES:
        pytest.xfail(KNOWN_DIFFERENCES[case["name"]])
    engine = _engine(case, compiled)
    text = (FIXTURES / case["input"]).read_text(encoding="utf-8-sig")
    actual = json.loads(engine.anonymize_json(text), parse_float=Decimal)
    expected = _load(case["expected"])
    _compare_nondeterministic(actual, expected, engine)
    assert _normalise(actual) == _normalise(expected)


def _compare_nondeterministic(actual: Any, expected: Any, engine: Anonymizer) -> None:
    """Encrypted values: decrypt both sides; then copy ours over so the structural comparison can proceed."""
    if isinstance(actual, dict) and isinstance(expected, dict):
        for key in actual.keys() & expected.keys():
            a, e = actual[key], expected[key]
            if (
                isinstance(a, str)
                and isinstance(e, str)
                and a != e
                and _looks_encrypted(a)
                and _looks_encrypted(e)
            ):
                key_text = engine.config.parameters.encrypt_key.value
                try:
                    assert decrypt_value(a, key_text) == decrypt_value(e, key_text)
                    expected[key] = a
                except ValueError:
                    pass
            else:
                _compare_nondeterministic(a, e, engine)
    elif isinstance(actual, list) and isinstance(expected, list):
        for a, e in zip(actual, expected, strict=False):
            _compare_nondeterministic(a, e, engine)


def _looks_encrypted(text: str) -> bool:
    return (
        len(text) >= 24
        and len(text) % 4 == 0
        and text.endswith(("=", "A", "g", "w", "Q"))
        or text.endswith("=")
    )


@pytest.mark.parametrize("case", _cases("error"))
def test_error_cases(case: dict[str, Any], compiled: bool) -> None:
    if case["name"] in KNOWN_DIFFERENCES:
        pytest.xfail(KNOWN_DIFFERENCES[case["name"]])
    expected = ERRORS[case["expect_error"]]
    text = (FIXTURES / case["input"]).read_text(encoding="utf-8-sig")
    with pytest.raises(expected):
        # Configuration errors surface when the config is loaded (stricter than Microsoft, which waits for a resource).
        _engine(case, compiled).anonymize_json(text)


@pytest.mark.parametrize("case", _cases("smoke"))
def test_smoke(case: dict[str, Any], compiled: bool) -> None:
    engine = _engine(case, compiled)
    for line in (FIXTURES / case["input"]).read_text(encoding="utf-8-sig").splitlines():
        if line.strip():
            assert json.loads(engine.anonymize_json(line))["resourceType"]
