"""Contextual detection: the patient's own identifying values, wherever they occur in that patient's text.

`ContextualMatcher.for_identifiers(ids)` compiles one case-insensitive alternation from a
`PatientIdentifiers` (cached per value, so the notes of one patient share it). Matching rules:

- Whole words only: a value never matches inside a longer word ("Ann" not in "Annual"); a possessive
  keeps its suffix ("Smith's" -> "[NAME]'s").
- Multi-word values (full names, street lines, two-word cities) match across any run of whitespace,
  line breaks included ("John\\nSmith").
- Case is ignored ("SMITH", "smith").
- A single name token is removed on its own only when it is at least 4 characters long and not in
  `anonymizer.text.common_words`, or when it contains a digit (Synthea's numbered names). Shorter or
  common tokens ("Li", "Grace", "White") are removed only as part of a full name from the record or after
  a title ("Mr.", "Mrs.", "Ms.", "Miss", "Dr."). Numbered tokens also give their stem ("Sumiko254" ->
  "Sumiko") under the same rule.
- A city that is a common word ("Liberal") is removed only before a state ("Liberal, KS").
- Phone numbers and numeric identifiers match with any punctuation between their digits; other
  identifiers of 4+ characters and e-mails match literally.
- Names, address lines and cities also match without their accents ("Ramon" for "Ramón"); two of the
  patient's name words glued together match ("RamonGarcia", "GARCIARAMON"); a word hyphenated over a line
  break ("Garcia-Villa-\nnueva") matches as if joined.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

from anonymizer.text.common_words import MIN_ALONE_TOKEN, is_common_word, kept_alone_reason
from anonymizer.text.identifiers import PatientIdentifiers
from anonymizer.text.recognizer_vocabulary import STATE_ABBREVIATIONS, STATE_NAMES_PATTERN

_TITLES = ("mr", "mrs", "ms", "mx", "miss", "dr", "prof")
# Word edges: letters and digits, but not "_", so markdown "_Smith_" still shows a whole word.
_LB = r"(?<![^\W_])"
_RB = r"(?![^\W_])"
_FIRST_WORD = re.compile(r"\w+")
_MIN_TOKEN = MIN_ALONE_TOKEN
_MIN_IDENTIFIER = 4
_TRAILING_DIGITS = re.compile(r"^(.*?[^\d])\d+$")
_SSN_SHAPE = re.compile(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$")
_STATE_AFTER = rf"(?=,?\s+(?-i:{'|'.join(STATE_ABBREVIATIONS)}|{STATE_NAMES_PATTERN})\b)"


class ContextMatch(NamedTuple):
    """A patient value found in text: ``text[start:end]`` is removed as ``category``."""

    start: int
    end: int
    category: str


class ContextualMatcher:
    """Compiled matcher for one patient's values; build it with `for_identifiers` (cached).

    Each value is keyed by the lower-cased literal its match must start with; `find` locates keys with
    ``str.find`` (C speed) and runs the value's regex only there, which is much faster than one big
    case-insensitive alternation scanned at every position.
    """

    __slots__ = ("_by_key", "_count")

    def __init__(self, alternatives: list[tuple[str, str, str]]) -> None:
        by_key: dict[str, list[tuple[re.Pattern[str], str]]] = {}
        unique = sorted(set(alternatives), key=lambda a: (-len(a[1]), a))
        for key, source, category in unique:
            by_key.setdefault(key, []).append((re.compile(source, re.IGNORECASE), category))
        self._by_key = by_key
        self._count = len(unique)

    def __repr__(self) -> str:
        return f"ContextualMatcher({self._count} values)"

    @staticmethod
    def for_identifiers(ids: PatientIdentifiers) -> ContextualMatcher:
        """The matcher of ``ids`` (the last 1,024 distinct collections are kept compiled)."""
        return _cached(ids)

    @staticmethod
    def clear_cache() -> None:
        """Forget every compiled matcher (the next `for_identifiers` compiles again)."""
        _cached.cache_clear()

    def find(self, text: str, lower: str | None = None) -> list[ContextMatch]:
        """Matches in ``text`` sorted by start (they may overlap; the scrubber merges overlaps).

        ``lower`` is ``text.lower()`` when the caller has it already (same length as ``text``).
        """
        if lower is None or len(lower) != len(text):
            lower = text.lower()
            if len(lower) != len(text):
                lower = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
        out = self._find(text, lower)
        joined = _join_line_break_hyphens(text)
        if joined is not None:
            joined_text, origin = joined
            for m in self._find(
                joined_text, joined_text.lower() if len(joined_text.lower()) == len(joined_text) else None
            ):
                out.append(ContextMatch(origin[m.start], origin[m.end - 1] + 1, m.category))
        out.sort(key=lambda c: (c.start, -c.end))
        return out

    def _find(self, text: str, lower: str | None) -> list[ContextMatch]:
        if lower is None or len(lower) != len(text):
            lower = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
        out: list[ContextMatch] = []
        for key, candidates in self._by_key.items():
            pos = lower.find(key)
            while pos >= 0:
                nxt = pos + 1
                for regex, category in candidates:
                    m = regex.match(text, pos)
                    if m is not None:
                        out.append(ContextMatch(pos, m.end(), category))
                        nxt = max(nxt, m.end())
                        break
                pos = lower.find(key, nxt)
        return out


@lru_cache(maxsize=1024)
def _cached(ids: PatientIdentifiers) -> ContextualMatcher:
    return ContextualMatcher(_alternatives(ids))


_LINE_BREAK_HYPHEN = re.compile(r"(?<=[^\W\d_])-[ \t]*\r?\n[ \t]*(?=[^\W\d_])")


def _join_line_break_hyphens(text: str) -> tuple[str, list[int]] | None:
    """``text`` with words hyphenated over a line break joined, and each joined character's index in ``text``."""
    if "-" not in text or _LINE_BREAK_HYPHEN.search(text) is None:
        return None
    parts: list[str] = []
    origin: list[int] = []
    last = 0
    for m in _LINE_BREAK_HYPHEN.finditer(text):
        parts.append(text[last : m.start()])
        origin.extend(range(last, m.start()))
        last = m.end()
    parts.append(text[last:])
    origin.extend(range(last, len(text)))
    return "".join(parts), origin


def fold_accents(value: str) -> str:
    """``value`` without combining accents ("Ramón" -> "Ramon"); other characters unchanged."""
    decomposed = unicodedata.normalize("NFKD", value)
    folded = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", folded)


def _variants(values: tuple[str, ...]) -> list[str]:
    return sorted({v for value in values for v in (value, fold_accents(value))})


def _glued(tokens: list[str]) -> list[tuple[str, str, str]]:
    """Two name words written as one ("RamonGarcia", "GarciaRamon"): one alternative per first word, keyed
    like that word alone, so gluing adds no ``str.find`` pass."""
    words = [t for t in tokens if len(t) >= 2 and not any(c.isdigit() for c in t)]
    out = []
    for first in words:
        seconds = sorted({b for b in words if b.lower() != first.lower()}, key=lambda b: (-len(b), b))
        if seconds:
            body = "|".join(re.escape(b) for b in seconds)
            out.append((_key(first), rf"{_LB}{re.escape(first)}(?:{body}){_RB}", "NAME"))
    return out


def _alternatives(ids: PatientIdentifiers) -> list[tuple[str, str, str]]:
    """``(key, regex source, category)`` for every value: the match must start with ``key``."""
    alts: list[tuple[str, str, str]] = []
    for name in _variants((*ids.names, *ids.related_names)):
        alts.append((_key(name), _words(name), "NAME"))
    name_tokens = _variants(ids.name_tokens)
    alts.extend(_glued(name_tokens))
    tokens = sorted({c for token in name_tokens for c in _with_stem(token)}, key=lambda t: (-len(t), t))
    if tokens:
        one = "(?:" + "|".join(re.escape(t) for t in tokens) + ")" + _RB
        more = rf"(?:,?\s+{one})*"
        for title in _TITLES:
            alts.append((title, rf"{_LB}{title}\.?\s+{one}{more}", "NAME"))
        for token in tokens:
            # two or more of the patient's name words in a row ("Al Smith", "SMITH, JOHN"), any order
            alts.append((_key(token), rf"{_LB}{re.escape(token)}(?:,?\s+{one})+", "NAME"))
            if _alone_ok(token):
                alts.append((_key(token), _word(token), "NAME"))
    for value in ids.telecom:
        alts.extend(_telecom(value))
    for line in _variants(ids.address_lines):
        alts.append((_key(line), _words(line), "ADDRESS"))
        street = line.split(maxsplit=1)
        if len(street) == 2 and street[0][:1].isdigit() and len(street[1].split()) > 1:
            alts.append((_key(street[1]), _words(street[1]), "ADDRESS"))
    for city in _variants(ids.cities):
        single_common = len(city.split()) == 1 and (is_common_word(city) or len(city) < _MIN_TOKEN)
        alts.append((_key(city), _words(city) + (_STATE_AFTER if single_common else ""), "ADDRESS"))
    for code in ids.postal_codes:
        digits = re.sub(r"\D", "", code)
        if len(digits) >= 5:
            alts.append((digits[:5], rf"(?<![\w-]){digits[:5]}(?:-?\d{{4}})?(?![\w-])", "ZIP"))
    for value in ids.identifiers:
        alts.extend(_identifier(value))
    return [a for a in alts if a[0]]


def _key(value: str) -> str:
    """The lower-cased literal a match of ``value`` starts with: its first word (or first character)."""
    v = value.strip().lower()
    m = _FIRST_WORD.match(v)
    return m.group(0) if m else v[:1]


def _with_stem(token: str) -> list[str]:
    m = _TRAILING_DIGITS.match(token)
    return [token, m.group(1)] if m else [token]


def _alone_ok(token: str) -> bool:
    return kept_alone_reason(token) is None


def _word(value: str) -> str:
    return rf"{_LB}{re.escape(value)}{_RB}"


def _words(value: str) -> str:
    body = r"\s+".join(re.escape(w) for w in value.split())
    return rf"{_LB}{body}{_RB}"


def _digits_loose(digits: str) -> str:
    # up to 3: "(555)" + the line break an XHTML element boundary reads as + " 342-8876"
    return r"[\s().-]{0,3}".join(digits)


def _telecom(value: str) -> list[tuple[str, str, str]]:
    v = value.strip()
    if "@" in v:
        v = v.removeprefix("mailto:")
        return [(_key(v), _word(v), "EMAIL")]
    if re.match(r"(?i)^(?:https?|ftp)://|^www\.", v):
        return [(_key(v), re.escape(v), "URL")]
    digits = re.sub(r"\D", "", v)
    if len(digits) >= 7:
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        return [(digits[:3], rf"(?<!\d){_digits_loose(digits)}(?!\d)", "PHONE")]
    return [(_key(v), _word(v), "PHONE")] if len(v) >= _MIN_IDENTIFIER else []


def _identifier(value: str) -> list[tuple[str, str, str]]:
    v = value.strip()
    if len(v) < _MIN_IDENTIFIER:
        return []
    category = "SSN" if _SSN_SHAPE.match(v) else "ID"
    alts = [(_key(v), rf"(?<![\w-]){re.escape(v)}(?![\w-])", category)]
    if re.fullmatch(r"[\d\s.-]+", v):
        digits = re.sub(r"\D", "", v)
        if len(digits) >= 6:
            alts.append((digits[:3], rf"(?<![\w-]){_digits_loose(digits)}(?![\w-])", category))
    return alts
