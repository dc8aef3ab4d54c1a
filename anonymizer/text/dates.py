"""Written date forms: the regular expressions that find them and the parser that reads them back.

The regex sources (``*_DATE``) are used by the pattern scan (`anonymizer.text.patterns`);
`parse_date_text` turns a matched text into `DateParts` (year/month/day, each possibly unknown) so a
date policy can keep the year or shift the date. Numeric dates are read month-first (US usage) unless
the first number cannot be a month.
"""

from __future__ import annotations

import re
from datetime import date
from typing import NamedTuple

_MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}

# Patterns run on the lower-cased text (`anonymizer.text.patterns`); a date without a year must have
# a capitalised month in the original text ("May 3", "MAY 3"), so "may 3 doses" stays.
MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
DAY = r"(?:3[01]|[12]\d|0?[1-9])(?:st|nd|rd|th)?"
YEAR4 = r"(?:1[6-9]|20)\d{2}"
_TIME = r"(?:[t ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:z|[+-]\d{2}:?\d{2})?)?"

#: 1961-03-03, 1961/03/03, 1961-03-03T10:00:00-05:00 (no word, "." or "-" before it).
ISO_DATE = rf"{YEAR4}[-/.](?:1[0-2]|0?[1-9])[-/.](?:3[01]|[12]\d|0?[1-9]){_TIME}(?![\w-])"
#: 03/03/1961, 3-3-61, 3.3.1961 (validated when parsed; month first unless impossible).
NUMERIC_DATE = r"\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})(?![\w/-]|\.\d)"
#: March 3rd, 1961 / Mar 3 1961 / March 1961 / March 3 ; group "y" is set when a year is present.
MONTH_FIRST_DATE = rf"{MONTH}(?:\s*{DAY}(?P<y>,?\s*(?:{YEAR4}|'\d{{2}}))?|(?P<y2>,?\s+{YEAR4}))(?!\w)"
#: 3 March 1961 / 3rd of March, 1961 / 03-Mar-1961 / 3 March ; group "m" is the month.
DAY_FIRST_DATE = (
    rf"\d\d?(?:st|nd|rd|th)?(?:\s+of)?[\s-]*(?P<m>{MONTH})(?P<y>,?[\s-]*(?:{YEAR4}|'?\d{{2}}))?(?!\w)"
)

_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_NUMERIC = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})")
_WORD = re.compile(r"[a-z]+|'?\d+", re.IGNORECASE)


class DateParts(NamedTuple):
    """What a written date says: each of year/month/day may be unknown (``None``)."""

    year: int | None
    month: int | None
    day: int | None

    def as_date(self) -> date | None:
        """The full calendar date, or ``None`` when a part is missing or the date does not exist."""
        if self.year is None or self.month is None or self.day is None:
            return None
        try:
            return date(self.year, self.month, self.day)
        except ValueError:
            return None


def parse_date_text(text: str) -> DateParts | None:
    """Read a text matched by one of the ``*_DATE`` patterns; ``None`` when it is not a plausible date."""
    text = text.strip()
    m = _ISO.match(text)
    if m and len(m.group(1)) == 4:
        parts = DateParts(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        return parts if parts.as_date() else None
    m = _NUMERIC.fullmatch(text)
    if m:
        return _numeric(int(m.group(1)), int(m.group(2)), m.group(3))
    return _worded(text)


def _numeric(first: int, second: int, year_text: str) -> DateParts | None:
    year = _year(year_text)
    if year is None:
        return None
    month, day = (first, second) if first <= 12 else (second, first)
    parts = DateParts(year, month, day)
    return parts if parts.as_date() else None


def _worded(text: str) -> DateParts | None:
    year = month = day = None
    for token in _WORD.findall(text):
        low = token.lower()
        if low[:3] in _MONTHS and low[0].isalpha():
            if month is None:
                month = _MONTHS[low[:3]]
            continue
        if low in {"st", "nd", "rd", "th", "of"} or not any(c.isdigit() for c in low):
            continue
        digits = low.lstrip("'")
        if low.startswith("'") or len(digits) == 4:
            year = _year(digits)
        elif day is None and digits.isdigit():
            day = int(digits)
        else:
            year = _year(digits)
    if month is None:
        return None
    parts = DateParts(year, month, day)
    if day is not None and not 1 <= day <= 31:
        return None
    if year is not None and day is not None and parts.as_date() is None:
        return None
    return parts


def _year(text: str) -> int | None:
    digits = text.lstrip("'")
    if not digits.isdigit():
        return None
    value = int(digits)
    if len(digits) == 2:
        # Two-digit years: 00-29 -> 2000s, 30-99 -> 1900s (clinical notes mostly speak of the past).
        return 2000 + value if value < 30 else 1900 + value
    return value if len(digits) == 4 else None
