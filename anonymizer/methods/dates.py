"""FHIR date/dateTime/instant values as Microsoft's tool reads them (unanchored regex, no time-zone conversion)."""

from __future__ import annotations

import re
from datetime import date
from typing import NamedTuple

# Unanchored like Microsoft's DateTimeUtility: the first FHIR-looking date in the value counts.
_DATE_TIME = re.compile(
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2}))?)?"
    r"(?P<time>T\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?"
)
_DIGIT = re.compile(r"\d")

#: Ages strictly above this are redacted (HIPAA Safe Harbor).
AGE_THRESHOLD = 89


class DateParts(NamedTuple):
    """The parts of a FHIR date value as written."""

    year: int
    month: int | None
    day: int | None
    time: str | None
    zone: str | None


def parse_date_parts(value: str) -> DateParts | None:
    """Split a FHIR date/dateTime/instant into its written parts; ``None`` when no date is found."""
    m = _DATE_TIME.search(value)
    if m is None:
        return None
    month = m.group("month")
    day = m.group("day")
    return DateParts(
        int(m.group("year")),
        int(month) if month else None,
        int(day) if day else None,
        m.group("time"),
        m.group("zone"),
    )


def age_over_threshold(parts: DateParts, as_of: date) -> bool:
    """Microsoft's ``IndicateAgeOverThreshold``: the date read as a birth date implies an age above 89 on ``as_of``."""
    month = parts.month or 1
    day = parts.day or 1
    age = as_of.year - parts.year - (1 if (as_of.month, as_of.day) < (month, day) else 0)
    return age > AGE_THRESHOLD


def zero_time(time_part: str) -> str:
    """``T13:28:17.123`` -> ``T00:00:00.000`` (every digit zeroed, fraction length kept)."""
    return _DIGIT.sub("0", time_part)
