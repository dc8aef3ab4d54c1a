"""perturb: add uniform noise to numbers, rounded half to even."""

from __future__ import annotations

import random
from decimal import ROUND_HALF_EVEN, Decimal

from anonymizer.errors import RuleNotApplicableError

INTEGER_TYPES = frozenset({"integer", "positiveInt", "unsignedInt", "integer64"})
NUMERIC_TYPES = INTEGER_TYPES | {"decimal"}
#: Complex types whose ``value`` is perturbed when the rule reaches the complex node.
QUANTITY_TYPES = frozenset(
    {"Age", "Count", "Duration", "Distance", "Money", "MoneyQuantity", "Quantity", "SimpleQuantity"}
)

_SYSTEM_RANDOM = random.SystemRandom()


def perturb_value(
    value: Decimal | int | float,
    fhir_type: str,
    *,
    span: Decimal | float | int,
    range_type: str = "fixed",
    round_to: int = 2,
    rng: random.Random | None = None,
) -> int | float:
    """Return ``round(value + U(-w/2, w/2), round_to)``; ``w`` is ``span`` or ``value * span`` (proportional).

    Integer types round to 0 decimals; positiveInt stays >= 1 and unsignedInt >= 0.
    Decimal results are returned as ``float`` so any JSON writer can serialise them.
    """
    v = Decimal(str(value))
    width = Decimal(str(span)) * (v if range_type == "proportional" else 1)
    if width < 0:
        raise RuleNotApplicableError(
            "perturb: negative value with proportional range gives an empty noise range"
        )
    half = float(width) / 2
    noise = Decimal(repr((rng or _SYSTEM_RANDOM).uniform(-half, half))) if half else Decimal(0)
    digits = 0 if fhir_type in INTEGER_TYPES else int(round_to)
    result = (v + noise).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_EVEN)
    if fhir_type in INTEGER_TYPES:
        out = int(result)
        if fhir_type == "positiveInt" and out <= 0:
            return 1
        if fhir_type == "unsignedInt" and out < 0:
            return 0
        return out
    return float(result)
