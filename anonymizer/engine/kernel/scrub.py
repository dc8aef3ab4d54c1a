"""``scrubText`` (our extension): remove identifiers inside free text instead of deleting the text.

Applies to string, markdown, narrative XHTML and ``Attachment.data`` (base64 ``text/*``: decoded, scrubbed and
re-encoded; other content types are removed). Detection is pattern-based (dates, phones, e-mails, URLs, IPs, SSNs,
record numbers, ZIP codes, ages over 89) plus, when the caller passes the patient's identifiers
(``Anonymizer.anonymize(..., patient_identifiers=...)``), the patient's own names, telecom, address parts and
identifiers. Dates follow the rule's ``dates`` option: ``year`` (default under partial-date redaction),
``shift`` (the resource's date-shift offset) or ``placeholder``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import lru_cache
from typing import Any

from anonymizer.config import Parameters, RuleConfig
from anonymizer.text.formats import scrub_attachment, scrub_string, scrub_xhtml
from anonymizer.text.scrubber import TextScrubber, shifted, year_only

TEXT_TYPES = frozenset({"string", "markdown"})
#: What :func:`scrub_text` returns for a value it does not scrub (nothing recorded).
NOT_TEXT: Any = object()
#: Strings up to this length are scrubbed once per (scrubber, text, patient): CodeableConcept.text values repeat
#: across a patient's resources (on the 10-patient sample 8,942 calls, 860 distinct pairs).
SHORT_TEXT = 256


@lru_cache(maxsize=16384)
def _scrub_short(scrubber: TextScrubber, text: str, ids: Any) -> str:
    return scrub_string(scrubber, text, ids).text


@lru_cache(maxsize=256)
def _cached_scrubber(rule_key: tuple[Any, ...], min_year: int | None, dates: str) -> TextScrubber:
    options = {k: (dict(v) if k == "placeholders" and v else v) for k, v in rule_key}
    policy = year_only(min_year=min_year) if dates == "year" else None
    return TextScrubber.from_options(options, policy)


def rule_scrubber(
    rule: RuleConfig, params: Parameters, as_of: date, offset: Callable[[], int] | None = None
) -> TextScrubber:
    """The `TextScrubber` a ``scrubText`` rule applies (its options, the config's partial-date setting, ``as_of``).

    ``offset`` gives the resource's date-shift offset, read only under ``dates: shift``. Public so that a
    benchmark or an audit scrubs exactly as the engine does.
    """
    dates = str(rule.extra.get("dates") or ("year" if params.partial_dates else "placeholder"))
    if dates == "shift":  # depends on the resource's offset: not cached
        return TextScrubber.from_options(rule.extra, shifted(offset() if offset is not None else 0))
    # A year that implies an age over 89 is not kept either (Safe Harbor).
    key = tuple(sorted((k, _freeze(v)) for k, v in rule.extra.items()))
    return _cached_scrubber(key, as_of.year - 89, dates)


def clear_caches() -> None:
    """Forget cached scrubbers, short-text results and compiled patient matchers (benchmarks start cold)."""
    from anonymizer.text.contextual import ContextualMatcher

    _scrub_short.cache_clear()
    _cached_scrubber.cache_clear()
    ContextualMatcher.clear_cache()


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def scrub_text(
    value: Any,
    fhir_type: str,
    name: str,
    parent_type: str,
    parent: Any,
    scrubber: Callable[[], TextScrubber],
    ids: Any,
    cache_short: bool,
) -> Any:
    """The scrubbed value of one element (``None``: removed), or :data:`NOT_TEXT` when it holds no text to scrub.

    ``parent`` is the element's parent object (an ``Attachment``: its ``hash`` is dropped and its ``size``
    updated); ``scrubber`` gives the rule's scrubber, built only when needed; ``ids`` are the patient's
    identifiers (or ``None``); ``cache_short`` caches short strings (not under ``dates: shift``).
    """
    if not isinstance(value, str) or not value:
        return NOT_TEXT
    if fhir_type == "xhtml":
        return scrub_xhtml(scrubber(), value, ids).text
    if fhir_type == "base64Binary" and name == "data" and parent_type == "Attachment":
        holder = parent if isinstance(parent, dict) else {}
        scrubbed = scrub_attachment(scrubber(), holder.get("contentType"), value, ids)
        holder.pop("hash", None)
        if scrubbed is not None and "size" in holder:
            holder["size"] = scrubbed.size
        return None if scrubbed is None else scrubbed.data
    if fhir_type in TEXT_TYPES:
        if cache_short and len(value) <= SHORT_TEXT:
            return _scrub_short(scrubber(), value, ids)
        return scrub_string(scrubber(), value, ids).text
    return NOT_TEXT


def text_scrubber(
    rule: RuleConfig, params: Parameters, as_of: date, offset: Callable[[], int]
) -> tuple[Callable[[], TextScrubber], bool]:
    """The scrubber source of a ``scrubText`` rule for :func:`scrub_text`, and whether short texts are cached."""
    return (lambda: rule_scrubber(rule, params, as_of, offset)), rule.extra.get("dates") != "shift"
