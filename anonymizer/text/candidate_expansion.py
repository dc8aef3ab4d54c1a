"""Special candidate expansions of the recognizers (`Recognizer.finder`): a bare domain around its top-level
domain, a country code before a phone number, letters around a run of digits of an ID-like token."""

from __future__ import annotations

import re

_URL_PATH = re.compile(r"/[^\s<>\"'`]*")
_PHONE_PREFIX = re.compile(r"(?:\+1|1)[\s.-]?$")
# FDA application numbers in medication names ("nda020800 0.3 ml epinephrine") are not about the patient.
_DRUG_APPLICATION = frozenset({"nda", "bla"})


def expand_domain(lower: str, dot: int, end: int) -> tuple[int, int] | None:
    """A bare domain around the top-level domain found at ``dot`` ("example.org/patient/1"); e-mail
    domains (after "@") and parts of longer tokens are not URLs."""
    start = dot
    while start > 0 and (lower[start - 1].isalnum() or lower[start - 1] in ".-"):
        start -= 1
    while start < dot and not lower[start].isalnum():
        start += 1
    if start == dot or (start > 0 and lower[start - 1] in "@/_"):
        return None
    path = _URL_PATH.match(lower, end)
    return start, path.end() if path else end


def expand_phone_prefix(lower: str, start: int) -> int:
    """Include a country code "+1 "/"1-" written before a US number (not one glued to a longer number)."""
    m = _PHONE_PREFIX.search(lower, max(0, start - 3), start)
    if m is None or (m.start() > 0 and (lower[m.start() - 1].isalnum() or lower[m.start() - 1] in "_+-.")):
        return start
    return m.start()


def expand_id_token(lower: str, start: int, end: int) -> tuple[int, int] | None:
    """A run of 5+ digits is an ID-like token with up to 3 letters either side ("S99940903",
    "X53631011X"), or alone when 7+ digits long; it must stand alone (no other word character or "-")."""
    left = start
    while left > 0 and start - left < 3 and "a" <= lower[left - 1] <= "z":
        left -= 1
    right = end
    while right < len(lower) and right - end < 3 and "a" <= lower[right] <= "z":
        right += 1
    if left > 0 and (lower[left - 1].isalnum() or lower[left - 1] in "_-"):
        return None
    if right < len(lower) and (lower[right].isalnum() or lower[right] in "_-"):
        return None
    if left == start and right == end and end - start < 7:
        return None
    if lower[left:start] in _DRUG_APPLICATION:
        return None
    return left, right
