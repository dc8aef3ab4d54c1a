"""`TextScrubber`: remove identifiers from one piece of free text.

Two detectors run over the text: contextual (the patient's own values, `anonymizer.text.contextual`)
and patterns (identifiers not in the record, `anonymizer.text.patterns`). Overlapping finds are merged
into one span (so no fragment of an identifier survives between two placeholders); a span is replaced
by its category's placeholder, and a date span by what the date policy returns.

    scrubber = TextScrubber(date_policy=year_only())
    result = scrubber.scrub("Seen March 3rd, 1961 by ...", ids)
    result.text, result.counts_by_category, result.chars_kept / result.chars_in
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from anonymizer.text.contextual import ContextualMatcher
from anonymizer.text.dates import DateParts
from anonymizer.text.identifiers import PatientIdentifiers
from anonymizer.text.patterns import CATEGORIES, find_patterns

#: ``(date_text, parsed) -> replacement``; ``parsed`` has year/month/day, any of which may be ``None``.
DatePolicy = Callable[[str, DateParts], str]

PLACEHOLDERS: dict[str, str] = {
    "NAME": "[NAME]",
    "DATE": "[DATE]",
    "PHONE": "[PHONE]",
    "EMAIL": "[EMAIL]",
    "URL": "[URL]",
    "IP": "[IP]",
    "SSN": "[SSN]",
    "ID": "[ID]",
    "ADDRESS": "[ADDRESS]",
    "ZIP": "[ZIP]",
    "AGE": "[AGE]",
}

# Contextual finds win over pattern finds when spans overlap; then the longer span.
_CONTEXT, _PATTERN = 0, 1


def placeholder_dates(date_text: str, parsed: DateParts) -> str:
    """Default date policy: every date becomes ``[DATE]``."""
    return PLACEHOLDERS["DATE"]


class _YearOnly:
    """Picklable year-only policy (see `year_only`)."""

    __slots__ = ("min_year", "placeholder")

    def __init__(self, min_year: int | None, placeholder: str) -> None:
        self.min_year, self.placeholder = min_year, placeholder

    def __call__(self, date_text: str, parsed: DateParts) -> str:
        if parsed.year is None or (self.min_year is not None and parsed.year < self.min_year):
            return self.placeholder
        return str(parsed.year)


class _Shifted:
    """Picklable date-shift policy (see `shifted`)."""

    __slots__ = ("offset_days", "placeholder")

    def __init__(self, offset_days: int, placeholder: str) -> None:
        self.offset_days, self.placeholder = offset_days, placeholder

    def __repr__(self) -> str:
        return "shifted(****)"  # the offset is derived from a key

    def __call__(self, date_text: str, parsed: DateParts) -> str:
        full = parsed.as_date()
        if full is None:
            return self.placeholder
        try:
            return (full + timedelta(days=self.offset_days)).isoformat()
        except OverflowError:
            return self.placeholder


def year_only(min_year: int | None = None, placeholder: str = "[DATE]") -> DatePolicy:
    """Date policy keeping the year only; dates without a year, or (``min_year``) years before it, become
    ``placeholder``. With ``min_year = as_of.year - 89`` no year that betrays an age over 89 survives."""
    return _YearOnly(min_year, placeholder)


def shifted(offset_days: int, placeholder: str = "[DATE]") -> DatePolicy:
    """Date policy shifting full dates by ``offset_days`` (written back as ISO ``YYYY-MM-DD``);
    dates missing a day, month or year cannot be shifted and become ``placeholder``."""
    return _Shifted(offset_days, placeholder)


@dataclass(frozen=True, slots=True)
class ScrubResult:
    """Scrubbed text, how many identifiers of each category were replaced, and text kept.

    ``chars_kept`` counts input characters outside every replaced span (placeholders are not counted).
    """

    text: str
    counts_by_category: dict[str, int] = field(default_factory=dict)
    chars_in: int = 0
    chars_kept: int = 0

    def __repr__(self) -> str:
        return f"ScrubResult(chars_in={self.chars_in}, chars_kept={self.chars_kept}, counts={self.counts_by_category})"

    @property
    def kept_share(self) -> float:
        """Share of input characters kept (1.0 for empty input)."""
        return self.chars_kept / self.chars_in if self.chars_in else 1.0


class Replacement(NamedTuple):
    """``text[start:end]`` (an identifier of ``category``) is replaced by ``value``."""

    start: int
    end: int
    category: str
    value: str


def apply_replacements(text: str, replacements: list[Replacement]) -> ScrubResult:
    """Apply non-overlapping, ordered `Replacement`s to ``text`` and count what was done."""
    out: list[str] = []
    counts: dict[str, int] = {}
    pos = removed = 0
    for r in replacements:
        out.append(text[pos : r.start])
        out.append(r.value)
        counts[r.category] = counts.get(r.category, 0) + 1
        removed += r.end - r.start
        pos = r.end
    out.append(text[pos:])
    return ScrubResult("".join(out), counts, len(text), len(text) - removed)


@dataclass(slots=True)
class _Span:
    start: int
    end: int
    category: str
    source: int
    date: DateParts | None
    merged: bool = False


class TextScrubber:
    """Replace identifiers in text with typed placeholders (thread-safe, picklable when its policy is).

    ``patterns``: ``True`` (all `CATEGORIES`), ``False``, or the categories to detect by pattern.
    ``contextual``: search the patient's own values (needs ``ids`` in `scrub`). Dates equal to the
    patient's birth date are removed by the contextual detector even when date patterns are off.
    ``placeholders``: override the text of some placeholders, e.g. ``{"NAME": "***"}``.
    """

    def __init__(
        self,
        date_policy: DatePolicy | None = None,
        *,
        patterns: bool | Iterable[str] = True,
        contextual: bool = True,
        placeholders: Mapping[str, str] | None = None,
    ) -> None:
        self.date_policy: DatePolicy = date_policy or placeholder_dates
        if patterns is True:
            self.pattern_categories = frozenset(CATEGORIES)
        elif patterns is False:
            self.pattern_categories = frozenset()
        else:
            chosen = frozenset(str(c).upper() for c in patterns)
            unknown = chosen - frozenset(CATEGORIES)
            if unknown:
                raise ValueError(f"unknown pattern categories: {sorted(unknown)}")
            self.pattern_categories = chosen
        self.contextual = contextual
        self.placeholders = dict(PLACEHOLDERS)
        for key, value in (placeholders or {}).items():
            if key.upper() not in PLACEHOLDERS or not isinstance(value, str):
                raise ValueError(f"unknown placeholder category or non-text value: {key!r}")
            self.placeholders[key.upper()] = value

    @classmethod
    def from_options(
        cls, options: Mapping[str, Any] | None, date_policy: DatePolicy | None = None
    ) -> TextScrubber:
        """Build from a rule's ``scrubText`` options (``patterns``, ``contextual``, ``placeholders``);
        ``dates`` is the engine's to turn into ``date_policy`` and is ignored here."""
        options = options or {}
        return cls(
            date_policy,
            patterns=options.get("patterns", True),
            contextual=bool(options.get("contextual", True)),
            placeholders=options.get("placeholders"),
        )

    def scrub(self, text: str, ids: PatientIdentifiers | None = None) -> ScrubResult:
        """Scrub ``text`` using the patient's identifying values ``ids`` (``None``: patterns only)."""
        return apply_replacements(text, self.replacements(text, ids))

    def replacements(self, text: str, ids: PatientIdentifiers | None = None) -> list[Replacement]:
        """What `scrub` would replace: non-overlapping spans in order, each with its replacement text.

        For callers that must map the spans back onto pieces of text (XHTML text nodes).
        """
        if not text:
            return []
        out = []
        for span in _merge(self._find(text, ids)):
            if span.category == "DATE" and span.date is not None and not span.merged:
                value = self.date_policy(text[span.start : span.end], span.date)
            else:
                value = self.placeholders[span.category]
            out.append(Replacement(span.start, span.end, span.category, value))
        return out

    def _find(self, text: str, ids: PatientIdentifiers | None) -> list[_Span]:
        spans: list[_Span] = []
        lower = text.lower()
        use_ids = self.contextual and ids is not None and not ids.is_empty()
        if use_ids:
            assert ids is not None
            for m in ContextualMatcher.for_identifiers(ids).find(text, lower):
                spans.append(_Span(m.start, m.end, m.category, _CONTEXT, None))
        categories = self.pattern_categories
        births = _birth_parts(ids) if use_ids and ids is not None else frozenset()
        if births and "DATE" not in categories:
            categories = categories | {"DATE"}
        if not categories:
            return spans
        for found in find_patterns(text, categories, lower):
            if (
                found.category == "DATE"
                and "DATE" not in self.pattern_categories
                and (found.date is None or not _is_birth(found.date, births))
            ):
                continue
            source = (
                _CONTEXT
                if found.category == "DATE" and found.date is not None and _is_birth(found.date, births)
                else _PATTERN
            )
            spans.append(_Span(found.start, found.end, found.category, source, found.date))
        return spans


def _merge(spans: list[_Span]) -> list[_Span]:
    """Union of overlapping spans; the merged span takes the category of its best member."""
    spans.sort(key=lambda s: (s.start, s.source, -(s.end - s.start)))
    merged: list[_Span] = []
    for span in spans:
        if merged and span.start < merged[-1].end:
            current = merged[-1]
            if span.end > current.end:
                current.end = span.end
                current.merged = True
            continue
        merged.append(span)
    return merged


@lru_cache(maxsize=1024)
def _birth_parts(ids: PatientIdentifiers) -> frozenset[tuple[int, int, int | None]]:
    parts = set()
    for value in ids.birth_dates:
        try:
            year, month = int(value[0:4]), int(value[5:7])
        except ValueError:
            continue
        day = int(value[8:10]) if len(value) >= 10 and value[8:10].isdigit() else None
        parts.add((year, month, day))
    return frozenset(parts)


def _is_birth(parsed: DateParts, births: frozenset[tuple[int, int, int | None]]) -> bool:
    for year, month, day in births:
        if parsed.month == month and parsed.day == day and parsed.year in (year, None):
            return True
    return False
