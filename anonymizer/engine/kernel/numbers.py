"""perturb at an element: which elements are numbers or quantities, and the noisy value."""

from __future__ import annotations

from typing import Any

from anonymizer.config import RuleConfig
from anonymizer.fhir.model import TypeModel
from anonymizer.methods import perturb

#: What :func:`perturbed` returns for a value that is not a number (left unchanged, nothing recorded).
NOT_A_NUMBER: Any = object()


def is_quantity(fhir_type: str, model: TypeModel) -> bool:
    """A complex type whose ``value`` perturb changes (Quantity and its profiles)."""
    return fhir_type in perturb.QUANTITY_TYPES or model.is_a(fhir_type, "Quantity")


def is_number(fhir_type: str) -> bool:
    """A numeric primitive perturb changes."""
    return fhir_type in perturb.NUMERIC_TYPES


def perturbed(value: Any, fhir_type: str, rule: RuleConfig) -> Any:
    """``value`` with the rule's noise, or :data:`NOT_A_NUMBER` when it holds no JSON number."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return NOT_A_NUMBER
    return perturb.perturb_value(
        value, fhir_type, span=rule.span or 0, range_type=rule.range_type, round_to=rule.round_to
    )
