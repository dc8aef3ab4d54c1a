"""Normalisation shared by the harvest (source side) and the candidate extraction (output side).

Both sides must reduce a value to the same *match key* ``(kind, norm)`` for the leak-audit join to find it:

* ``words``  -- lower-case, accent-free word tokens joined by one space (names, address lines, cities);
  the output side emits every word n-gram of every string, so a full name inside a note is found.
* ``digits`` -- the digits of a number written with any punctuation or spacing (phone, fax, SSN);
  the output side emits every run of digit groups joined by ``- . ( ) /`` or one space.
* ``compact`` -- alphanumerics only, lower-case (identifier values, UUIDs, e-mail addresses);
  the output side emits every whitespace/URL-separator delimited chunk.
* ``zip``    -- a five-digit ZIP code (ZIP+4 reduced to five digits).
* ``date``   -- an ISO calendar date ``YYYY-MM-DD`` (from ISO or US ``MM/DD/YYYY`` writing).
* ``decimal`` -- a coordinate rounded to 4 decimals (geolocation latitude/longitude).
* ``whole``  -- a whole string value, lower-case, trimmed (URLs).
* ``blob``   -- SHA-256 of a binary attachment's base64 data (an image kept byte for byte).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator

_WORD_RE = re.compile(r"[a-z0-9]+")
_NON_ALNUM_RE = re.compile(r"[^a-z0-9]+")
# Digit groups separated by one separator character (or a closing+space pair like ") "). The separator is not
# optional: ``\d+(?:sep?\d+)*`` matches the same text but backtracks exponentially on a long digit run followed
# by a letter (a hexadecimal hash).
_DIGIT_RUN_RE = re.compile(r"(?<![A-Za-z0-9])\d+(?:(?:[-./ ]|\) ?|\()\d+)*(?![A-Za-z0-9])")
_DIGIT_GROUP_RE = re.compile(r"\d+")
_ZIP_RE = re.compile(r"(?<![\w.\-/])(\d{5})(?:-\d{4})?(?![\-.]?\d)(?!\w)")
_ISO_DATE_RE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_US_DATE_RE = re.compile(r"(?<!\d)(\d{1,2})/(\d{1,2})/(\d{4})(?!\d)")
_URL_RE = re.compile(r"(?:https?|ftp)://[^\s\"'<>]+", re.IGNORECASE)
_ZIP_KEY_RE = re.compile(r"\s*(\d{5})(?:-?\d{4})?\s*")
_DATE_KEY_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_CHUNK_SPLIT_RE = re.compile(r"[\s/:?=&|,;#<>\"'()\[\]{}]+")

#: Longest word n-gram emitted by the output side; longer harvested values are cut to their first words.
MAX_NGRAM = 6


def fold(text: str) -> str:
    """Lower-case and strip accents (``Castañeda`` -> ``castaneda``)."""
    if text.isascii():  # NFKD leaves ASCII as it is, and no ASCII character is combining
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def words(text: str) -> list[str]:
    """The alphanumeric word tokens of ``text`` after :func:`fold`."""
    return _WORD_RE.findall(fold(text))


def words_key(text: str) -> str:
    """The ``words`` match key of a harvested value (at most :data:`MAX_NGRAM` words)."""
    return " ".join(words(text)[:MAX_NGRAM])


def compact_key(text: str) -> str:
    """The ``compact`` match key: alphanumerics only, folded."""
    if text.isascii():  # fold is lower(); ASCII letters and digits are exactly what isalnum() accepts
        low = text.lower()
        if low.isalnum():
            return low
        bare = low.replace("-", "")  # ids, UUIDs
        return bare if bare.isalnum() else _NON_ALNUM_RE.sub("", bare)
    return _NON_ALNUM_RE.sub("", fold(text))


def digits_key(text: str) -> str:
    """The ``digits`` match key: the digits only."""
    return "".join(ch for ch in text if ch.isdigit())


def phone_keys(text: str) -> list[str]:
    """Digit keys of a phone/fax number: as written, and without a leading US country code ``1``."""
    digits = digits_key(text)
    keys = [digits]
    if len(digits) == 11 and digits.startswith("1"):
        keys.append(digits[1:])
    return keys


def zip_key(text: str) -> str | None:
    """The five-digit ZIP of a postal code (``02138-1234`` -> ``02138``), None when not US-shaped."""
    match = _ZIP_KEY_RE.fullmatch(text)
    return match.group(1) if match else None


def date_key(text: str) -> str | None:
    """``YYYY-MM-DD`` when ``text`` starts with a day-precision FHIR date/dateTime, else None."""
    match = _DATE_KEY_RE.match(text.strip())
    return "-".join(match.groups()) if match else None


def decimal_key(value: float) -> str:
    """A coordinate rounded to 4 decimals (about 11 m), as text."""
    return f"{value:.4f}"


def blob_key(data: str) -> str:
    """SHA-256 (hex) of base64 attachment data, whitespace removed."""
    return hashlib.sha256("".join(data.split()).encode("ascii", "replace")).hexdigest()


def whole_key(text: str) -> str:
    """A whole value, folded, trimmed, without a trailing slash."""
    return fold(text).strip().rstrip("/")


def word_ngrams(tokens: list[str], max_n: int = MAX_NGRAM) -> Iterator[str]:
    """Every contiguous n-gram (1..max_n words) of ``tokens`` joined by one space."""
    count = len(tokens)
    for start in range(count):
        for end in range(start + 1, min(count, start + max_n) + 1):
            yield " ".join(tokens[start:end])


def digit_sequences(text: str, max_groups: int = 5) -> Iterator[str]:
    """Digit keys of every contiguous run of digit groups in ``text`` (``(555) 810-7203`` -> ``5558107203``)."""
    for run in _DIGIT_RUN_RE.finditer(text):
        groups = _DIGIT_GROUP_RE.findall(run.group(0))
        for start in range(len(groups)):
            for end in range(start + 1, min(len(groups), start + max_groups) + 1):
                yield "".join(groups[start:end])


def zip_tokens(text: str) -> Iterator[str]:
    """Free-standing five-digit tokens (not part of a longer code such as LOINC ``66519-0``)."""
    for match in _ZIP_RE.finditer(text):
        yield match.group(1)


def date_tokens(text: str) -> Iterator[str]:
    """Calendar dates written in ``text`` (ISO or US order), as ``YYYY-MM-DD``."""
    for match in _ISO_DATE_RE.finditer(text):
        yield "-".join(match.groups())
    for match in _US_DATE_RE.finditer(text):
        month, day, year = match.groups()
        yield f"{year}-{int(month):02d}-{int(day):02d}"


def compact_chunks(text: str) -> Iterator[str]:
    """Compact keys of every chunk between whitespace and URL separators (``Patient/abc-1`` -> ``abc1``)."""
    for chunk in _CHUNK_SPLIT_RE.split(text):
        key = compact_key(chunk)
        if key:
            yield key


def url_tokens(text: str) -> Iterator[str]:
    """URLs written inside ``text``, as ``whole`` keys."""
    for match in _URL_RE.finditer(text):
        yield whole_key(match.group(0).rstrip(".,;)"))
