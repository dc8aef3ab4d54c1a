"""The recognizer table behind `anonymizer.text.patterns`: one `Recognizer` per written form.

Each recognizer is a regex plus how its candidates are found (`Recognizer.starts`), the character class
that may not precede a match, a trigger that must occur in the text (`gate`), an extra check on the
original text, or a special expansion (``finder``). The regexes run on the lower-cased text unless
``original`` is set. See the module docstring of `anonymizer.text.patterns` for the categories.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from anonymizer.text.dates import DAY_FIRST_DATE, ISO_DATE, MONTH_FIRST_DATE, NUMERIC_DATE
from anonymizer.text.recognizer_vocabulary import (
    AGE,
    AGE_LABEL,
    AGE_WORDS,
    HEX_GROUP,
    ID_KEYS,
    ID_LABEL,
    MONTH_KEYS,
    PHONE_EXT,
    SEP,
    STATE_ABBREVIATIONS,
    STATE_NAMES_PATTERN,
    STREET_SUFFIX,
    TLDS,
    YEARS_OLD,
)

_ZIP_BEFORE = re.compile(
    rf"(?:(?<![\w])(?P<abbr>{'|'.join(STATE_ABBREVIATIONS)})|(?i:(?<!\w)(?:{STATE_NAMES_PATTERN}))|"
    rf"(?i:(?<!\w)zip(?:\s*code)?{SEP}))"
    r",?\s*$"
)


_Check = Callable[[str, "re.Match[str]"], bool]


@dataclass(frozen=True)
class Recognizer:
    category: str
    regex: re.Pattern[str]
    left: re.Pattern[str] | None = None  # a character matching this may not precede the match
    value: str | None = None  # group holding the value to replace (default: whole match)
    gate: str | re.Pattern[str] | None = None  # skip the scan when absent from the lower-cased text
    original: bool = False  # run on the original text instead of the lower-cased one
    check: _Check | None = None  # extra test on the original text
    finder: str | None = None  # name of a special candidate expansion (see `expand_id_token`)
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


#: Shapes other recognizers decide: phones, SSNs, and dates (valid or not: "13/45/2001" is a mistyped date).
_OTHER_SHAPES = re.compile(
    r"^(?:\d{3}[-/]\d{3}[-/]\d{4}|\d{3}-\d{2}-\d{4}|\d{1,2}([-/])\d{1,2}\1\d{2,4}|\d{4}([-/])\d{1,2}\2\d{1,2})$"
)


def _grouped_id_ok(text: str, m: re.Match[str]) -> bool:
    """Digit groups joined by ``-`` or ``/``: an identifier when 7+ digits in 3+ groups, or 6+ digits after a
    ``#`` or a letter prefix ("#A-4471-2210", "999/88/8662"); not a date, phone or SSN shape (their recognizers
    decide those), not a range ("150000-450000") or a ratio ("120/80")."""
    from anonymizer.text.dates import parse_date_text

    value = m.group(0).lower()
    digits = sum(c.isdigit() for c in value)
    prefixed = bool(m.group("pre") or m.group("let"))
    groups = value.count(m.group("sep")) + 1
    if digits < (6 if prefixed else 7) or (groups < 3 and not prefixed):
        return False
    bare = value[m.start("num") - m.start() :]
    return _OTHER_SHAPES.match(bare) is None and parse_date_text(bare) is None


def _zip_ok(text: str, m: re.Match[str]) -> bool:
    if "-" in m.group(0):
        return True
    before = _ZIP_BEFORE.search(text, max(0, m.start() - 30), m.start())
    # the abbreviation alternative is case-sensitive ("IN 46204"), names and labels are not
    return before is not None


RECOGNIZERS: tuple[Recognizer, ...] = (
    Recognizer("URL", re.compile(r"(?:https?|s?ftp)://[^\s<>\"'`]+"), gate="://"),
    Recognizer("URL", re.compile(r"www\.[a-z0-9-]+(?:\.[a-z0-9-]+)+[^\s<>\"'`]*"), _cls(r"\w."), gate="www."),
    Recognizer(
        "URL",
        re.compile(rf"\.(?:{TLDS})(?![a-z0-9-])"),
        finder="domain",
        gate=re.compile(rf"\.(?:{TLDS})\b"),
    ),
    Recognizer(
        "EMAIL",
        re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?![\w-])"),
        _cls(r"\w.+-"),
        gate="@",
    ),
    Recognizer(
        "ID",
        re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![\w-])"),
        _cls(r"\w-"),
        gate=re.compile(r"-[0-9a-f]{4}-[0-9a-f]{4}-"),
    ),
    Recognizer(
        "IP",
        re.compile(r"\d\d?\d?(?:\.\d\d?\d?){3}(?!\w|\.\d)"),
        _cls(r"\w."),
        gate=".",
        check=_octets_ok,
        starts="digits",
        runs=(1, 3),
    ),
    Recognizer(
        "IP",
        re.compile(
            rf"(?:{HEX_GROUP}:){{7}}{HEX_GROUP}(?![\w:])|(?:{HEX_GROUP}:){{1,6}}:(?:{HEX_GROUP}(?::{HEX_GROUP}){{0,5}})?(?![\w:])"
        ),
        _cls(r"\w:"),
        gate=re.compile(r"::|(?::[0-9a-f]{1,4}){3}:"),  # not times ("10:30:45")
    ),
    Recognizer("DATE", re.compile(ISO_DATE), _cls(r"\w.-"), starts="digits", runs=(4, 4)),
    Recognizer("DATE", re.compile(NUMERIC_DATE), _cls(r"\w./-"), starts="digits", runs=(1, 2)),
    Recognizer(
        "DATE",
        re.compile(MONTH_FIRST_DATE),
        _cls(r"\w"),
        check=_month_first_ok,
        starts="keys",
        keys=MONTH_KEYS,
    ),
    Recognizer(
        "DATE", re.compile(DAY_FIRST_DATE), _cls(r"\w.,"), check=_day_first_ok, starts="digits", runs=(1, 2)
    ),
    Recognizer(
        "SSN",
        re.compile(r"\d\d\d(?P<s>[- ])\d\d(?P=s)\d{4}(?![\w-])"),
        _cls(r"\w-"),
        check=_ssn_ok,
        starts="digits",
        runs=(3, 3),
    ),
    Recognizer(
        "SSN",
        re.compile(
            r"(?:ssn|ss\s*#|social\s+security(?:\s+(?:number|no\.?|#))?)" + SEP + r"(?P<v>\d{9})(?!\w)"
        ),
        _cls(r"\w"),
        value="v",
        starts="keys",
        keys=("ss", "social"),
    ),
    Recognizer(
        "PHONE",
        re.compile(r"\d\d\d[\s.-]?\d{3}[\s.-]?\d{4}" + PHONE_EXT),
        _cls(r"\w+/.-"),
        finder="phone",
        starts="digits",
        runs=(3, 10),
    ),
    Recognizer(
        "PHONE", re.compile(r"\(\d{3}\)\s?\d{3}[\s.-]?\d{4}" + PHONE_EXT), _cls(r"\w"), finder="phone"
    ),
    Recognizer(
        "PHONE", re.compile(r"\+[2-9]\d{0,2}(?:[\s.-]?\(?\d{1,4}\)?){2,5}(?!\w)"), _cls(r"\w+"), gate="+"
    ),
    Recognizer(
        "ZIP",
        re.compile(r"\d{5}(?:-\d{4})?(?![\w-])"),
        _cls(r"\w-"),
        original=True,
        check=_zip_ok,
        starts="digits",
        runs=(5, 5),
    ),
    Recognizer(
        "ID",
        re.compile(f"(?:{ID_LABEL})" + SEP + r"(?P<v>(?=[a-z0-9-]*\d)[a-z0-9][a-z0-9-]{2,}[a-z0-9])(?!\w)"),
        _cls(r"\w"),
        value="v",
        starts="keys",
        keys=ID_KEYS,
    ),
    Recognizer(
        "ADDRESS",
        re.compile(
            rf"\d{{1,6}}[A-Za-z]?\s+(?:[A-Z][A-Za-z'-]*\.?\s+){{1,4}}(?:{STREET_SUFFIX})\b\.?"
            r"(?:,?\s*(?:Apt|Apartment|Suite|Ste|Unit|#)\.?\s*[A-Za-z0-9-]+)?"
        ),
        _cls(r"\w-"),
        original=True,
        starts="digits",
        runs=(1, 6),
    ),
    Recognizer("ADDRESS", re.compile(r"p\.?\s?o\.?\s+box\s+\d+(?!\w)"), _cls(r"\w"), gate="box"),
    Recognizer(
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
    Recognizer(
        "AGE",
        re.compile(
            rf"(?P<v>{AGE})(?=\s*-?\s*(?:(?:years?|yrs?)\s*-?\s*old|years?\s+of\s+age|y\.?\s?o(?!\w)|y/o))"
        ),
        _cls(r"\w."),
        value="v",
        starts="digits",
        runs=(2, 3),
    ),
    Recognizer(
        "AGE",
        re.compile(rf"{AGE_LABEL}(?P<v>{AGE})(?!\w|\.\d)"),  # "age 116." at a sentence's end too
        _cls(r"\w"),
        value="v",
        starts="keys",
        keys=("age",),
    ),
    Recognizer(
        "AGE",
        re.compile(rf"(?P<v>{AGE_WORDS}){YEARS_OLD}"),
        _cls(r"\w"),
        value="v",
        gate=re.compile(r"ninety|hundred"),
    ),  # fmt: skip
    Recognizer(
        "AGE",
        re.compile(rf"{AGE_LABEL}(?P<v>{AGE_WORDS})(?![\w-])"),
        _cls(r"\w"),
        value="v",
        starts="keys",
        keys=("age",),
    ),
    # A sign before a long number ("Person seed: -5612345678901234567"), and separated digit groups.
    Recognizer("ID", re.compile(r"[-+]\d{7,}(?!\w)"), _cls(r"\w.+/-"), gate=re.compile(r"[-+]\d{7}")),
    Recognizer(
        "ID",
        re.compile(
            r"(?P<pre>#\s*)?(?:(?P<let>[a-z]{1,3})-?)?(?P<num>\d{2,}(?P<sep>[-/])\d{2,}(?:(?P=sep)\d{2,}){0,4})"
            r"(?![\w/-])"
        ),
        _cls(r"\w#/-"),
        check=_grouped_id_ok,
        gate=re.compile(r"\d[-/]\d"),
    ),
    # The last four digits of an SSN after a label ("SSN ending in 6789", "last 4 of SSN: 6789", "xxx-xx-6789").
    Recognizer(
        "SSN",
        re.compile(
            r"(?:(?:ssn|social\s+security(?:\s+(?:number|no\.?|#))?)"
            r"(?:\s+(?:ending|ends)(?:\s+(?:in|with))?|\s+last\s+(?:4|four)(?:\s+digits)?)?"
            r"|last\s+(?:4|four)(?:\s+digits)?(?:\s+of\s+(?:the\s+)?(?:ssn|social\s+security(?:\s+number)?))?)"
            + SEP
            + r"(?:(?:xxx|\*\*\*|###)[-\s]?(?:xx|\*\*|##)[-\s]?)?(?P<v>\d{4})(?![\w-])"
        ),
        _cls(r"\w"),
        value="v",
        starts="keys",
        keys=("ss", "social", "last"),
    ),
    Recognizer("ID", re.compile(r"\d\d{4,}"), finder="id_token", starts="digits", runs=(5, 1_000_000)),
)
