"""Match keys of every value of one resource, with its JSON path (pure Python).

This is the searched side of the leak audit: every string value (and base64 text attachments decoded)
of every output resource is cut into all the forms a harvested identifier could take (see
:mod:`normalize`). Numbers with a fraction become ``decimal`` keys so a kept geolocation is found.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Iterator
from typing import Any

from anonymizer.verify import normalize as nz
from anonymizer.verify.harvest import MIN_LENGTH

#: Keys holding free text (never "explained" by kept non-identifying source data): every element a
#: ``scrubText`` rule of the shipped keep-notes profile writes (``text`` covers CodeableConcept.text,
#: Annotation.text, Dosage.text and the narrative), plus ``note``.
FREE_TEXT_KEYS = frozenset(
    {"div", "data", "note", "valueString", "valueMarkdown", "contentString", "comment", "description", "text",
     "conclusion", "summary", "basis", "statusReason", "patientInstruction", "instruction",
     "administrationInstruction", "rationale", "mitigation"}
)  # fmt: skip
#: Free-text elements whose key is not free text elsewhere (``CarePlan.activity.detail`` is a backbone).
FREE_TEXT_PATHS = frozenset({"DetectedIssue.detail"})
#: Keys that hold code-system or profile URIs / enum codes, never data about a person: not searched.
SKIPPED_KEYS = frozenset({"system", "resourceType", "profile"})
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/fhir")
_TAG_RE = re.compile(r"<[^>]{0,2000}>")
#: Decoded attachments larger than this are searched on their first part only.
MAX_DECODED_CHARS = 200_000
_MEMO_MAX_CHARS = 256


def resource_candidates(resource: dict[str, Any]) -> set[tuple[str, str, str]]:
    """Distinct ``(kind, norm, path)`` keys of one resource; ``path`` is ``Type.a.b`` without indices."""
    return {
        (kind, norm, path) for path, value in resource_values(resource) for kind, norm in value_keys(value)
    }


def resource_values(
    resource: dict[str, Any], leading: frozenset[tuple[str, str]] | None = None
) -> Iterator[tuple[str, str | float]]:
    """``(path, value)`` of every searched value: strings, decoded text attachments, fractional numbers.

    ``leading``: ``(type, path)`` pairs; when given, the walk goes down those paths only.
    """
    rtype = resource.get("resourceType")
    root = rtype if isinstance(rtype, str) else "Unknown"
    yield from _walk(resource, root, root, leading)


class Blob(str):
    """The SHA-256 of a binary attachment (searched as one ``blob`` key, not as text)."""


def value_keys(value: str | float) -> frozenset[tuple[str, str]]:
    """Every ``(kind, norm)`` match key of one value (short strings are memoised: FHIR repeats them a lot)."""
    if isinstance(value, Blob):
        return frozenset({("blob", str(value))})
    if isinstance(value, float):
        return frozenset({("decimal", nz.decimal_key(value))})
    if len(value) <= _MEMO_MAX_CHARS:
        return _short_string_keys(value)
    return _string_keys(value)


def is_free_text_path(path: str) -> bool:
    """True when a path ends in (or passes through) a free-text element."""
    return path in FREE_TEXT_PATHS or any(part in FREE_TEXT_KEYS for part in path.split(".")[1:])


def _walk(
    obj: Any, path: str, root: str, leading: frozenset[tuple[str, str]] | None
) -> Iterator[tuple[str, str | float]]:
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in SKIPPED_KEYS:
                continue
            child = f"{path}.{key}"
            if leading is not None and (root, child) not in leading:
                continue
            if key == "data" and isinstance(value, str) and _is_attachment(obj):
                text = decode_attachment(value, obj.get("contentType"))
                if text is not None:
                    yield child, text
                else:
                    yield child, Blob(nz.blob_key(value))
                continue
            yield from _walk(value, child, root, leading)
    elif isinstance(obj, list):
        for element in obj:
            yield from _walk(element, path, root, leading)
    elif isinstance(obj, str) or (isinstance(obj, float) and not obj.is_integer()):
        yield path, obj


def _is_attachment(obj: dict[str, Any]) -> bool:
    return "contentType" in obj or "url" in obj or "size" in obj or "title" in obj


def decode_attachment(data: str, content_type: Any) -> str | None:
    """The text of a base64 attachment, or None when it is binary (an image, a PDF)."""
    if isinstance(content_type, str) and not content_type.lower().startswith(_TEXT_TYPES):
        return None
    try:
        raw = base64.b64decode(data[: MAX_DECODED_CHARS * 4 // 3 + 4], validate=False)
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


@functools.lru_cache(maxsize=65536)
def _short_string_keys(text: str) -> frozenset[tuple[str, str]]:
    return _string_keys(text)


def _string_keys(text: str) -> frozenset[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    plain = _TAG_RE.sub(" ", text) if "<" in text else text
    tokens = nz.words(plain)
    for gram in nz.word_ngrams(tokens):
        if len(gram) >= MIN_LENGTH["words"]:
            out.add(("words", gram))
    if any(ch.isdigit() for ch in text):
        for digits in nz.digit_sequences(plain):
            if len(digits) >= MIN_LENGTH["digits"]:
                out.add(("digits", digits))
        for zip5 in nz.zip_tokens(plain):
            out.add(("zip", zip5))
        for date in nz.date_tokens(plain):
            out.add(("date", date))
    for chunk in nz.compact_chunks(text):
        if len(chunk) >= MIN_LENGTH["compact"]:
            out.add(("compact", chunk))
    whole = nz.compact_key(text)
    if len(whole) >= MIN_LENGTH["compact"] and len(text) <= 200:
        out.add(("compact", whole))
        if len(text) >= MIN_LENGTH["whole"]:
            out.add(("whole", nz.whole_key(text)))
    if "://" in text:
        for url in nz.url_tokens(text):
            out.add(("whole", url))
    return frozenset(out)
