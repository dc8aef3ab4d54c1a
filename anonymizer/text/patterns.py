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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from anonymizer.text.dates import (
    DAY_FIRST_DATE,
    ISO_DATE,
    MONTH_FIRST_DATE,
    NUMERIC_DATE,
    DateParts,
    parse_date_text,
)

CATEGORIES = ("DATE", "PHONE", "EMAIL", "URL", "IP", "SSN", "ID", "ZIP", "ADDRESS", "AGE")

STATE_ABBREVIATIONS = tuple(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "PR",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
    ]
)
STATE_NAMES_PATTERN = (
    "Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware|Florida|Georgia|Hawaii|Idaho|"
    "Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana|Maine|Maryland|Massachusetts|Michigan|Minnesota|"
    "Mississippi|Missouri|Montana|Nebraska|Nevada|New Hampshire|New Jersey|New Mexico|New York|"
    "North Carolina|North Dakota|Ohio|Oklahoma|Oregon|Pennsylvania|Puerto Rico|Rhode Island|South Carolina|"
    "South Dakota|Tennessee|Texas|Utah|Vermont|Virginia|Washington|West Virginia|Wisconsin|Wyoming"
)
_STREET_SUFFIX = (
    "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter|"
    "Circle|Cir|Parkway|Pkwy|Highway|Hwy|Landing|Square|Sq|Trail|Trl|Row|Alley|Crossing|Heights|Hts|"
    "Route|Rte|Loop|Run|Point|Pike|Plaza|Commons|Gardens|Estates|Station|Walk|Ridge|Manor|Grove|Hollow|"
    "Harbor|Junction|Knoll|Meadows?|Mill|Park|Ranch|Summit|Turnpike|View|Village|Vista|Wells?|Creek|Glen|"
    "Xing|Ldg|Holw|Rdg|Mnr|Jct|Cres|Crescent|Ctr|Center|Expy|Fwy|Bend|Bnd|Cove|Cv|Spur|Pass|Oval|Trce|Sta"
)
# Every alternative starts with a literal letter, so the regex engine can skip ahead to candidates.
_ID_LABEL = "|".join(
    [
        r"mrn",
        r"mr\s*#",
        r"medical\s+record\s+(?:number|no\.?|num\.?|#)",
        r"record\s+(?:number|no\.?|num\.?|#)",
        r"acct\.?(?:\s*(?:number|no\.?|#))?",
        r"account\s+(?:number|no\.?|num\.?|#)",
        *(
            rf"{word}\s+(?:id|identifier|number|no\.?|#)"
            for word in (
                "member",
                "subscriber",
                "beneficiary",
                "patient",
                "insurance",
                r"health\s+plan",
                "policy",
                "claim",
                "encounter",
                "visit",
                "case",
                "device",
                "serial",
                "passport",
                "certificate",
                "plate",
            )
        ),
        r"licen[cs]e\s+(?:plate\s+)?(?:number|no\.?|#)",
        r"driver'?s\s+licen[cs]e(?:\s+(?:number|no\.?|#))?",
        r"dl\s*#",
        r"s/n",
        r"vin",
    ]
)
# Bare domains ("example.org/patient/1") are URLs only with these common top-level domains.
_TLDS = "com|org|net|edu|gov|mil|info|biz|io|us|health|care|co\\.uk"
_ID_KEYS = (
    "mrn",
    "mr",
    "medical",
    "record",
    "acct",
    "account",
    "member",
    "subscriber",
    "beneficiary",
    "patient",
    "insurance",
    "health",
    "policy",
    "claim",
    "encounter",
    "visit",
    "case",
    "device",
    "serial",
    "passport",
    "certificate",
    "plate",
    "licen",
    "driver",
    "dl",
    "s/n",
    "vin",
)
_MONTH_KEYS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_URL_PATH = re.compile(r"/[^\s<>\"'`]*")
_DIGIT_RUN = re.compile(r"\d+")
_SEP = r"\s*(?:is\s+|[:#=]\s*|no\.?\s*)?"
_H = r"[0-9a-f]{1,4}"
_PHONE_EXT = r"(?:\s*(?:x|ext\.?|extension)\s*\d{1,5})?(?![\w/-])"
_PHONE_PREFIX = re.compile(r"(?:\+1|1)[\s.-]?$")
_AGE = r"(?:9\d|1[0-4]\d)"
_ZIP_BEFORE = re.compile(
    rf"(?:(?<![\w])(?P<abbr>{'|'.join(STATE_ABBREVIATIONS)})|(?i:(?<!\w)(?:{STATE_NAMES_PATTERN}))|"
    rf"(?i:(?<!\w)zip(?:\s*code)?{_SEP}))"
    r",?\s*$"
)
# FDA application numbers in medication names ("nda020800 0.3 ml epinephrine") are not about the patient.
_DRUG_APPLICATION = frozenset({"nda", "bla"})
_FULL_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_TRAILING = ".,;:!?)]}'\""


class PatternMatch(NamedTuple):
    """One detected identifier: ``text[start:end]`` is the value, ``date`` is set for ``DATE``."""

    start: int
    end: int
    category: str
    date: DateParts | None = None


_Check = Callable[[str, "re.Match[str]"], bool]


@dataclass(frozen=True)
class _Recognizer:
    category: str
    regex: re.Pattern[str]
    left: re.Pattern[str] | None = None  # a character matching this may not precede the match
    value: str | None = None  # group holding the value to replace (default: whole match)
    gate: str | re.Pattern[str] | None = None  # skip the scan when absent from the lower-cased text
    original: bool = False  # run on the original text instead of the lower-cased one
    check: _Check | None = None  # extra test on the original text
    finder: str | None = None  # name of a special candidate expansion (see `_expand_id_token`)
    # Where candidates start: "scan" (``finditer``), "digits" (at each run of digits, found once for all
    # digit recognizers) or "keys" (at each occurrence of one of ``keys``, found with ``str.find``).
    starts: str = "scan"
    keys: tuple[str, ...] = ()
    runs: tuple[int, int] = (1, 1_000_000)  # "digits": lengths of the first digit run a match can have


def _cls(chars: str) -> re.Pattern[str]:
    return re.compile(f"[{chars}]")


def _capitalised_at(text: str, index: int) -> bool:
    return text[index : index + 1].isupper()


def _month_first_ok(text: str, m: re.Match[str]) -> bool:
    return bool(m.group("y") or m.group("y2")) or _capitalised_at(text, m.start())


def _day_first_ok(text: str, m: re.Match[str]) -> bool:
    return bool(m.group("y")) or _capitalised_at(text, m.start("m"))


def _octets_ok(text: str, m: re.Match[str]) -> bool:
    return all(
        int(part) <= 255 and (part == "0" or not part.startswith("0")) for part in m.group(0).split(".")
    )


def _ssn_ok(text: str, m: re.Match[str]) -> bool:
    # "123 45 6789" only when not inside a longer run of spaced numbers
    return m.group("s") == "-" or not (m.start() > 1 and text[m.start() - 2].isdigit())


def _place_ok(text: str, m: re.Match[str]) -> bool:
    # "Smith, MD." and "Jones, PA" are credentials: those two need a ZIP after them
    return m.group("st") not in ("MD", "PA") or m.group("z") is not None


def _zip_ok(text: str, m: re.Match[str]) -> bool:
    if "-" in m.group(0):
        return True
    before = _ZIP_BEFORE.search(text, max(0, m.start() - 30), m.start())
    # the abbreviation alternative is case-sensitive ("IN 46204"), names and labels are not
    return before is not None


_RECOGNIZERS: tuple[_Recognizer, ...] = (
    _Recognizer("URL", re.compile(r"(?:https?|s?ftp)://[^\s<>\"'`]+"), gate="://"),
    _Recognizer(
        "URL", re.compile(r"www\.[a-z0-9-]+(?:\.[a-z0-9-]+)+[^\s<>\"'`]*"), _cls(r"\w."), gate="www."
    ),
    _Recognizer(
        "URL",
        re.compile(rf"\.(?:{_TLDS})(?![a-z0-9-])"),
        finder="domain",
        gate=re.compile(rf"\.(?:{_TLDS})\b"),
    ),
    _Recognizer(
        "EMAIL",
        re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?![\w-])"),
        _cls(r"\w.+-"),
        gate="@",
    ),
    _Recognizer(
        "ID",
        re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![\w-])"),
        _cls(r"\w-"),
        gate=re.compile(r"-[0-9a-f]{4}-[0-9a-f]{4}-"),
    ),
    _Recognizer(
        "IP",
        re.compile(r"\d\d?\d?(?:\.\d\d?\d?){3}(?!\w|\.\d)"),
        _cls(r"\w."),
        gate=".",
        check=_octets_ok,
        starts="digits",
        runs=(1, 3),
    ),
    _Recognizer(
        "IP",
        re.compile(rf"(?:{_H}:){{7}}{_H}(?![\w:])|(?:{_H}:){{1,6}}:(?:{_H}(?::{_H}){{0,5}})?(?![\w:])"),
        _cls(r"\w:"),
        gate=re.compile(r"::|(?::[0-9a-f]{1,4}){3}:"),  # not times ("10:30:45")
    ),
    _Recognizer("DATE", re.compile(ISO_DATE), _cls(r"\w.-"), starts="digits", runs=(4, 4)),
    _Recognizer("DATE", re.compile(NUMERIC_DATE), _cls(r"\w./-"), starts="digits", runs=(1, 2)),
    _Recognizer(
        "DATE",
        re.compile(MONTH_FIRST_DATE),
        _cls(r"\w"),
        check=_month_first_ok,
        starts="keys",
        keys=_MONTH_KEYS,
    ),
    _Recognizer(
        "DATE", re.compile(DAY_FIRST_DATE), _cls(r"\w.,"), check=_day_first_ok, starts="digits", runs=(1, 2)
    ),
    _Recognizer(
        "SSN",
        re.compile(r"\d\d\d(?P<s>[- ])\d\d(?P=s)\d{4}(?![\w-])"),
        _cls(r"\w-"),
        check=_ssn_ok,
        starts="digits",
        runs=(3, 3),
    ),
    _Recognizer(
        "SSN",
        re.compile(
            r"(?:ssn|ss\s*#|social\s+security(?:\s+(?:number|no\.?|#))?)" + _SEP + r"(?P<v>\d{9})(?!\w)"
        ),
        _cls(r"\w"),
        value="v",
        starts="keys",
        keys=("ss", "social"),
    ),
    _Recognizer(
        "PHONE",
        re.compile(r"\d\d\d[\s.-]?\d{3}[\s.-]?\d{4}" + _PHONE_EXT),
        _cls(r"\w+/.-"),
        finder="phone",
        starts="digits",
        runs=(3, 10),
    ),
    _Recognizer(
        "PHONE", re.compile(r"\(\d{3}\)\s?\d{3}[\s.-]?\d{4}" + _PHONE_EXT), _cls(r"\w"), finder="phone"
    ),
    _Recognizer(
        "PHONE", re.compile(r"\+[2-9]\d{0,2}(?:[\s.-]?\(?\d{1,4}\)?){2,5}(?!\w)"), _cls(r"\w+"), gate="+"
    ),
    _Recognizer(
        "ZIP",
        re.compile(r"\d{5}(?:-\d{4})?(?![\w-])"),
        _cls(r"\w-"),
        original=True,
        check=_zip_ok,
        starts="digits",
        runs=(5, 5),
    ),
    _Recognizer(
        "ID",
        re.compile(f"(?:{_ID_LABEL})" + _SEP + r"(?P<v>(?=[a-z0-9-]*\d)[a-z0-9][a-z0-9-]{2,}[a-z0-9])(?!\w)"),
        _cls(r"\w"),
        value="v",
        starts="keys",
        keys=_ID_KEYS,
    ),
    _Recognizer(
        "ADDRESS",
        re.compile(
            rf"\d{{1,6}}[A-Za-z]?\s+(?:[A-Z][A-Za-z'-]*\.?\s+){{1,4}}(?:{_STREET_SUFFIX})\b\.?"
            r"(?:,?\s*(?:Apt|Apartment|Suite|Ste|Unit|#)\.?\s*[A-Za-z0-9-]+)?"
        ),
        _cls(r"\w-"),
        original=True,
        starts="digits",
        runs=(1, 6),
    ),
    _Recognizer("ADDRESS", re.compile(r"p\.?\s?o\.?\s+box\s+\d+(?!\w)"), _cls(r"\w"), gate="box"),
    _Recognizer(
        "ADDRESS",
        re.compile(
            r"(?P<v>[A-Z][a-z]+(?:[ -][A-Z][a-z]+){0,2}),[ \t]*"
            rf"(?P<st>{'|'.join(STATE_ABBREVIATIONS)}|{STATE_NAMES_PATTERN})(?P<z>[ \t]+\d{{5}})?"
            r"(?(z)|(?=[ \t]*(?:[.;,)\n]|$)))"
        ),
        _cls(r"\w"),
        value="v",
        original=True,
        check=_place_ok,
    ),
    _Recognizer(
        "AGE",
        re.compile(
            rf"(?P<v>{_AGE})(?=\s*-?\s*(?:(?:years?|yrs?)\s*-?\s*old|years?\s+of\s+age|y\.?\s?o(?!\w)|y/o))"
        ),
        _cls(r"\w."),
        value="v",
        starts="digits",
        runs=(2, 3),
    ),
    _Recognizer(
        "AGE",
        re.compile(rf"(?:aged?|age\s*:|age\s+of)\s*(?P<v>{_AGE})(?![\w.]|\.\d)"),
        _cls(r"\w"),
        value="v",
        starts="keys",
        keys=("age",),
    ),
    _Recognizer("ID", re.compile(r"\d\d{4,}"), finder="id_token", starts="digits", runs=(5, 1_000_000)),
)


def _expand_domain(lower: str, dot: int, end: int) -> tuple[int, int] | None:
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


def _expand_phone_prefix(lower: str, start: int) -> int:
    """Include a country code "+1 "/"1-" written before a US number (not one glued to a longer number)."""
    m = _PHONE_PREFIX.search(lower, max(0, start - 3), start)
    if m is None or (m.start() > 0 and (lower[m.start() - 1].isalnum() or lower[m.start() - 1] in "_+-.")):
        return start
    return m.start()


def _expand_id_token(lower: str, start: int, end: int) -> tuple[int, int] | None:
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


@lru_cache(maxsize=32)
def _enabled(categories: frozenset[str]) -> tuple[_Recognizer, ...]:
    return tuple(r for r in _RECOGNIZERS if r.category in categories)


def _gate_open(gate: str | re.Pattern[str] | None, lower: str) -> bool:
    if gate is None:
        return True
    if isinstance(gate, str):
        return gate in lower
    return gate.search(lower) is not None


def _candidates(
    rec: _Recognizer, subject: str, lower: str, digit_runs: list[tuple[int, int]] | None
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
            digit_runs = [m.span() for m in _DIGIT_RUN.finditer(lower)]
        for m in _candidates(rec, subject, lower, digit_runs):
            start = m.start()
            if rec.left is not None and start > 0 and rec.left.match(subject, start - 1):
                continue
            if rec.check is not None and not rec.check(text, m):
                continue
            if rec.finder == "id_token":
                span = _expand_id_token(lower, m.start(), m.end())
                if span is None:
                    continue
                start, end = span
            elif rec.finder == "domain":
                span = _expand_domain(lower, m.start(), m.end())
                if span is None:
                    continue
                start, end = span
            elif rec.finder == "phone":
                start, end = _expand_phone_prefix(lower, start), m.end()
            elif rec.value:
                start, end = m.span(rec.value)
            else:
                end = m.end()
            parsed = None
            if rec.category == "DATE":
                if lower.endswith(".", start, end) and lower[start : end - 1].endswith(_FULL_MONTHS):
                    end -= 1  # the sentence's full stop, not an abbreviation's
                parsed = parse_date_text(lower[start:end])
                if parsed is None:
                    continue
            elif rec.category == "URL":
                while end > start and text[end - 1] in _TRAILING:
                    end -= 1
            if end > start:
                out.append(PatternMatch(start, end, rec.category, parsed))
    out.sort(key=lambda p: (p.start, -p.end))
    return out
