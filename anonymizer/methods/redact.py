"""redact: remove values, or keep what Safe Harbor allows (year, age <= 89, ZIP3)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from anonymizer.errors import InvalidInputError
from anonymizer.methods.dates import AGE_THRESHOLD, age_over_threshold, parse_date_parts

REDACT = "REDACT"
ABSTRACT = "ABSTRACT"
DATE_TYPES = frozenset({"date", "dateTime", "instant"})
_DIGIT = re.compile(r"\d")


def age_over_89(value: str, as_of: date) -> bool:
    """True when the date, read as a birth date, implies an age above 89 on ``as_of``."""
    parts = parse_date_parts(value)
    return parts is not None and age_over_threshold(parts, as_of)


def redact_date(value: str, fhir_type: str, *, partial: bool, as_of: date) -> str | None:
    """Redact a date/dateTime/instant: the year under partial mode unless the age is over 89, else nothing."""
    if not partial:
        return None
    parts = parse_date_parts(value)
    if parts is None or age_over_threshold(parts, as_of):
        return None
    return f"{parts.year:04d}"


def redact_age(value: object, *, partial: bool) -> object | None:
    """Redact an ``Age.value``: under partial mode keep ages up to 89.

    Microsoft parses the value with ``int.Parse`` and fails on fractions; so do we, with a clear error
    (an integral float such as ``65.0`` is accepted: JSON parsers cannot tell it from ``65``).
    """
    if not partial:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError("Age value is not a number")
    if isinstance(value, float) and not value.is_integer():
        raise InvalidInputError(
            "Age value with a fraction cannot be redacted partially (Microsoft int.Parse)"
        )
    return None if int(value) > AGE_THRESHOLD else value


def redact_postal_code(value: str, *, partial: bool, restricted: Sequence[str]) -> tuple[str | None, str]:
    """Redact a postal code: under partial mode keep the 3-digit prefix unless it is restricted."""
    if not partial:
        return None, REDACT
    if any(value.startswith(prefix) for prefix in restricted):
        return _DIGIT.sub("0", value), ABSTRACT
    if len(value) >= 3:
        return value[:3] + _DIGIT.sub("0", value[3:]), ABSTRACT
    return value, ABSTRACT
