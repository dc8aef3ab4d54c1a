"""Match keys of every value of one resource, with its JSON path (pure Python).

This is the searched side of the leak audit: every string value (and base64 text attachments decoded)
of every output resource is cut into all the forms a harvested identifier could take (see
:mod:`normalize`). Numbers with a fraction become ``decimal`` keys so a kept geolocation is found.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from anonymizer.verify import normalize as nz
from anonymizer.verify.harvest import MIN_LENGTH

#: Keys holding free text (never "explained" by kept non-identifying source data).
FREE_TEXT_KEYS = frozenset(
    {"div", "data", "note", "valueString", "valueMarkdown", "contentString", "comment", "description"}
)
#: Keys that hold code-system or profile URIs / enum codes, never data about a person: not searched.
SKIPPED_KEYS = frozenset({"system", "resourceType", "profile"})
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/fhir")
_TAG_RE = re.compile(r"<[^>]{0,2000}>")
#: Decoded attachments larger than this are searched on their first part only.
MAX_DECODED_CHARS = 200_000


def resource_candidates(resource: dict[str, Any]) -> set[tuple[str, str, str]]:
    """Distinct ``(kind, norm, path)`` keys of one resource; ``path`` is ``Type.a.b`` without indices."""
    rtype = resource.get("resourceType")
    root = rtype if isinstance(rtype, str) else "Unknown"
    out: set[tuple[str, str, str]] = set()
    _walk(resource, root, out)
    return out


def is_free_text_path(path: str) -> bool:
    """True when a path ends in (or passes through) a free-text element."""
    return any(part in FREE_TEXT_KEYS for part in path.split(".")[1:])


def _walk(obj: Any, path: str, out: set[tuple[str, str, str]]) -> None:
    if isinstance(obj, dict):
        for key, value in obj.items():
            child = f"{path}.{key}"
            if key in SKIPPED_KEYS:
                continue
            if key == "data" and isinstance(value, str) and _is_attachment(obj):
                text = decode_attachment(value, obj.get("contentType"))
                if text is not None:
                    string_candidates(text, child, out)
                continue
            _walk(value, child, out)
    elif isinstance(obj, list):
        for element in obj:
            _walk(element, path, out)
    elif isinstance(obj, str):
        string_candidates(obj, path, out)
    elif isinstance(obj, float) and not obj.is_integer():
        out.add(("decimal", nz.decimal_key(obj), path))


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


def string_candidates(text: str, path: str, out: set[tuple[str, str, str]]) -> None:
    """Add every match key of one string value at ``path`` to ``out``."""
    plain = _TAG_RE.sub(" ", text) if "<" in text else text
    tokens = nz.words(plain)
    for gram in nz.word_ngrams(tokens):
        if len(gram) >= MIN_LENGTH["words"]:
            out.add(("words", gram, path))
    if any(ch.isdigit() for ch in text):
        for digits in nz.digit_sequences(plain):
            if len(digits) >= MIN_LENGTH["digits"]:
                out.add(("digits", digits, path))
        for zip5 in nz.zip_tokens(plain):
            out.add(("zip", zip5, path))
        for date in nz.date_tokens(plain):
            out.add(("date", date, path))
    for chunk in nz.compact_chunks(text):
        if len(chunk) >= MIN_LENGTH["compact"]:
            out.add(("compact", chunk, path))
    whole = nz.compact_key(text)
    if len(whole) >= MIN_LENGTH["compact"] and len(text) <= 200:
        out.add(("compact", whole, path))
        if len(text) >= MIN_LENGTH["whole"]:
            out.add(("whole", nz.whole_key(text), path))
    if "://" in text:
        for url in nz.url_tokens(text):
            out.add(("whole", url, path))
