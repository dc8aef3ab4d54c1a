"""Pattern detection of identifiers that are not in the patient's record.

Categories (`CATEGORIES`):

- ``DATE``: ISO/numeric/worded dates ("1961-03-03", "03/03/1961", "March 3rd, 1961", "3 March 1961",
  "Mar 3, 1961", "03-Mar-1961", "March 1961", "March 3"); a bare year is not a date element and stays.
- ``PHONE``: US numbers in any punctuation ("(555) 810-7203", "555.810.7203", "+1 555 810 7203 ext. 12",
  "5558107203") and international "+" numbers; fax numbers are found by the same patterns.
- ``EMAIL``, ``URL`` (scheme, "www." and bare-domain URLs with a common TLD), ``IP`` (IPv4; IPv6 full and "::" forms).
- ``SSN``: "123-45-6789", "123 45 6789", 9 digits after an SSN label.
- ``ID``: values after record/account/plan/licence/passport/serial/claim labels ("MRN: A1234567",
  "acct # 88-1234"), UUIDs, ID-like tokens (1-3 letters around 5+ digits such as "S99940903", runs of 7+ digits).
- ``ZIP``: 5 or 9 digits after a state ("KS 66801", "Kansas 66801-1234") or a ZIP label; any "12345-6789".
- ``ADDRESS``: house number + capitalised words + street suffix ("633 Abernathy Landing"), PO boxes.
- ``AGE``: ages over 89 ("92-year-old", "93 y/o", "aged 93", "age: 95", "91 years of age"); the number only.

Speed: Python's ``re`` is slow on case-insensitive alternations and on patterns that begin with a
look-behind, because it cannot skip ahead to a possible first character. So the text is lower-cased once;
recognizers that start with a digit are tried only at the start of digit runs of a plausible length (the
runs are found once for all of them); recognizers that start with a label or month name are tried only
where one of their keywords occurs (``str.find``); the rest start with a literal or character class;
"no word character before" is checked in Python on the candidates; and recognizers whose trigger
(``@``, ``://``, ``::``, a TLD...) is absent are not run at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import NamedTuple

from anonymizer.text.candidate_expansion import expand_domain, expand_id_token, expand_phone_prefix
from anonymizer.text.dates import DateParts, parse_date_text
from anonymizer.text.recognizer_vocabulary import CATEGORIES, DIGIT_RUN, FULL_MONTHS, TRAILING
from anonymizer.text.recognizers import RECOGNIZERS, Recognizer

__all__ = ["CATEGORIES", "PatternMatch", "find_patterns"]


class PatternMatch(NamedTuple):
    """One detected identifier: ``text[start:end]`` is the value, ``date`` is set for ``DATE``."""

    start: int
    end: int
    category: str
    date: DateParts | None = None


@lru_cache(maxsize=32)
def _enabled(categories: frozenset[str]) -> tuple[Recognizer, ...]:
    return tuple(r for r in RECOGNIZERS if r.category in categories)


def _gate_open(gate: str | re.Pattern[str] | None, lower: str) -> bool:
    if gate is None:
        return True
    if isinstance(gate, str):
        return gate in lower
    return gate.search(lower) is not None


def _candidates(
    rec: Recognizer, subject: str, lower: str, digit_runs: list[tuple[int, int]] | None
) -> Iterator[re.Match[str]]:
    """Matches of ``rec`` in ``subject``: non-overlapping, in order."""
    if rec.starts == "scan":
        yield from rec.regex.finditer(subject)
        return
    if rec.starts == "digits":
        low, high = rec.runs
        positions: Iterable[int] = [a for a, b in digit_runs or () if low <= b - a <= high]
    else:
        found: set[int] = set()
        for key in rec.keys:
            pos = lower.find(key)
            while pos >= 0:
                found.add(pos)
                pos = lower.find(key, pos + 1)
        positions = sorted(found)
    done = 0
    for pos in positions:
        if pos < done:
            continue
        m = rec.regex.match(subject, pos)
        if m is not None:
            done = m.end()
            yield m


def find_patterns(
    text: str, categories: frozenset[str] | None = None, lower: str | None = None
) -> list[PatternMatch]:
    """Pattern matches in ``text`` for the enabled ``categories``, sorted by start.

    Matches of different recognizers may overlap; the scrubber merges overlaps into one span.
    ``lower`` is ``text.lower()`` when the caller has it already.
    """
    recognizers = _enabled(frozenset(CATEGORIES) if categories is None else frozenset(categories))
    if lower is None or len(lower) != len(text):
        lower = text.lower()
    if len(lower) != len(text):  # a few characters change length when lower-cased ("İ")
        lower = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    out: list[PatternMatch] = []
    digit_runs: list[tuple[int, int]] | None = None
    for rec in recognizers:
        if not _gate_open(rec.gate, lower):
            continue
        subject = text if rec.original else lower
        if rec.starts == "digits" and digit_runs is None:
            digit_runs = [m.span() for m in DIGIT_RUN.finditer(lower)]
        for m in _candidates(rec, subject, lower, digit_runs):
            start = m.start()
            if rec.left is not None and start > 0 and rec.left.match(subject, start - 1):
                continue
            if rec.check is not None and not rec.check(text, m):
                continue
            if rec.finder == "id_token":
                span = expand_id_token(lower, m.start(), m.end())
                if span is None:
                    continue
                start, end = span
            elif rec.finder == "domain":
                span = expand_domain(lower, m.start(), m.end())
                if span is None:
                    continue
                start, end = span
            elif rec.finder == "phone":
                start, end = expand_phone_prefix(lower, start), m.end()
            elif rec.value:
                start, end = m.span(rec.value)
            else:
                end = m.end()
            parsed = None
            if rec.category == "DATE":
                if lower.endswith(".", start, end) and lower[start : end - 1].endswith(FULL_MONTHS):
                    end -= 1  # the sentence's full stop, not an abbreviation's
                parsed = parse_date_text(lower[start:end])
                if parsed is None:
                    continue
            elif rec.category == "URL":
                while end > start and text[end - 1] in TRAILING:
                    end -= 1
            if end > start:
                out.append(PatternMatch(start, end, rec.category, parsed))
    out.sort(key=lambda p: (p.start, -p.end))
    return out
