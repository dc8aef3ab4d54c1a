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
#: A US ZIP or ZIP+4 that lost leading zeros (stored as a number): 3-4 digits, or 7-8 digits for ZIP+4.
_SHORT_ZIP = re.compile(r"^(?P<zip>\d{3,4})(?:(?P<sep>-)(?P<plus4>\d{4}))?$")
_SHORT_ZIP_PLUS4 = re.compile(r"^\d{7,8}$")


def age_over_89(value: str, as_of: date) -> bool:
    """True when the date, read as a birth date, implies an age above 89 on ``as_of``."""
    parts = parse_date_parts(value)
    return parts is not None and age_over_threshold(parts, as_of)


def redact_date(value: str, fhir_type: str, *, partial: bool, as_of: date) -> str | None:
    """Redact a date/dateTime/instant: the year under partial mode unless the age is over 89, else nothing.

    The year alone is what remains, so the age is also judged by the years alone: a birth year of 1936 is
    removed at any ``as_of`` in 2026 even when the full date says 89 (stricter than Microsoft, which keeps it).
    """
    if not partial:
        return None
    parts = parse_date_parts(value)
    if parts is None or age_over_threshold(parts, as_of) or as_of.year - parts.year > AGE_THRESHOLD:
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


def normalize_zip(value: str) -> str:
    """A US ZIP that lost its leading zeros back to five digits (``3601`` -> ``03601``; ZIP+4 to nine).

    Real exports store ZIPs as JSON numbers, which drop the zeros of New England ZIPs; taking ZIP3 of ``3601``
    would keep four real digits and miss the restricted area 036. Other postcodes are returned unchanged.
    """
    m = _SHORT_ZIP.match(value)
    if m:
        return m.group("zip").zfill(5) + (f"-{m.group('plus4')}" if m.group("sep") else "")
    if _SHORT_ZIP_PLUS4.match(value):
        return value.zfill(9)
    return value


def redact_postal_code(value: str, *, partial: bool, restricted: Sequence[str]) -> tuple[str | None, str]:
    """Redact a postal code: under partial mode keep the 3-digit prefix unless it is restricted.

    The value is first normalised with :func:`normalize_zip`, so a ZIP that lost its leading zeros is
    generalised (and checked against the restricted list) as the five-digit ZIP it is.
    """
    if not partial:
        return None, REDACT
    value = normalize_zip(value)
    if any(value.startswith(prefix) for prefix in restricted):
        return _DIGIT.sub("0", value), ABSTRACT
    if len(value) >= 3:
        return value[:3] + _DIGIT.sub("0", value[3:]), ABSTRACT
    return value, ABSTRACT
