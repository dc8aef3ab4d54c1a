"""generalize: map a primitive through FHIRPath cases (first matching predicate wins)."""

from __future__ import annotations

from collections.abc import Mapping

from anonymizer.fhirpath.expressions import first_case


def generalize_value(
    value: object, fhir_type: str, cases: Mapping[str, str], other_values: str
) -> tuple[bool, object]:
    """Apply the ``cases`` in order: the first predicate true on ``$this`` gives the new value.

    Returns ``(generalized, new_value)``; ``new_value`` is ``None`` when nothing matched and ``other_values``
    is ``redact``. Evaluation failures raise :class:`ProcessingError` (skippable, as in Microsoft's tool).
    """
    if value is None:
        return False, None
    matched, out = first_case(value, fhir_type, cases)
    if matched:
        return True, out
    return True, (value if other_values == "keep" else None)
