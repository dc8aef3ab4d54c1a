"""Apply a `TextScrubber` to the text forms FHIR carries: string/markdown, narrative XHTML, base64 attachments.

- `scrub_string`: ``string`` and ``markdown`` values (markdown syntax is plain text to the scrubber).
- `scrub_xhtml`: ``Narrative.div``. Text nodes and free-text attribute values (``title``, ``alt``,
  ``href``, ...) are scrubbed; structural attributes (``class``, ``style``, ``colspan``, ...) are kept;
  comments and processing instructions are dropped. Well-formed input (parsed with ``xml.etree``)
  stays well-formed; input that is not well-formed XML, or declares a DOCTYPE/entities, is scrubbed
  with the tolerant ``html.parser`` path (as ``text/html`` attachments are).
- `scrub_attachment`: ``text/*`` base64 data is decoded (charset from the content type, UTF-8 by
  default), scrubbed and re-encoded in the same charset; any other content type, undecodable base64 or
  text returns ``None``, which means "redact". `scrub_attachment_dict` applies that to a whole
  ``Attachment`` object and also fixes ``size`` and drops the now wrong ``hash``.

Each function returns a `ScrubResult` whose counts and character figures cover the text the scrubber
saw (text nodes and attribute values for XHTML, the decoded note for attachments).
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from anonymizer.text.identifiers import PatientIdentifiers
from anonymizer.text.scrubber import ScrubResult, TextScrubber

XHTML_NS = "http://www.w3.org/1999/xhtml"
#: Attributes that hold layout, not text: never scrubbed.
STRUCTURAL_ATTRIBUTES = frozenset(
    {
        "class",
        "style",
        "lang",
        "dir",
        "colspan",
        "rowspan",
        "span",
        "scope",
        "width",
        "height",
        "border",
        "cellpadding",
        "cellspacing",
        "align",
        "valign",
        "xmlns",
        "{http://www.w3.org/XML/1998/namespace}lang",
    }
)
_DTD = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_CHARSET = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)


class _Tally:
    """Accumulates the figures of many scrub calls into one `ScrubResult`."""

    def __init__(self, scrubber: TextScrubber, ids: PatientIdentifiers | None) -> None:
        self.scrubber, self.ids = scrubber, ids
        self.counts: dict[str, int] = {}
        self.chars_in = self.chars_kept = 0

    def __call__(self, text: str) -> str:
        if not text or text.isspace():
            if text:
                self.chars_in += len(text)
                self.chars_kept += len(text)
            return text
        result = self.scrubber.scrub(text, self.ids)
        for category, n in result.counts_by_category.items():
            self.counts[category] = self.counts.get(category, 0) + n
        self.chars_in += result.chars_in
        self.chars_kept += result.chars_kept
        return result.text

    def scrub_pieces(self, pieces: list[str]) -> list[str]:
        """Scrub consecutive pieces of one text as a whole (joined by line breaks); same count of pieces back."""
        joined = "\n".join(pieces)
        replacements = self.scrubber.replacements(joined, self.ids)
        starts = []
        pos = 0
        for piece in pieces:
            starts.append(pos)
            pos += len(piece) + 1
        edits: list[list[tuple[int, int, str]]] = [[] for _ in pieces]
        removed = 0
        for r in replacements:
            first = True
            for i, piece in enumerate(pieces):
                lo, hi = max(r.start, starts[i]), min(r.end, starts[i] + len(piece))
                if lo >= hi and not (first and lo == hi and starts[i] <= r.start <= starts[i] + len(piece)):
                    continue
                edits[i].append((lo - starts[i], hi - starts[i], r.value if first else ""))
                removed += max(0, hi - lo)
                first = False
            self.counts[r.category] = self.counts.get(r.category, 0) + 1
        total = sum(len(p) for p in pieces)
        self.chars_in += total
        self.chars_kept += total - removed
        out = []
        for piece, piece_edits in zip(pieces, edits, strict=True):
            for lo, hi, value in reversed(piece_edits):
                piece = piece[:lo] + value + piece[hi:]
            out.append(piece)
        return out

    def result(self, text: str) -> ScrubResult:
        return ScrubResult(text, self.counts, self.chars_in, self.chars_kept)


def scrub_string(scrubber: TextScrubber, text: str, ids: PatientIdentifiers | None = None) -> ScrubResult:
    """Scrub a ``string`` or ``markdown`` value."""
    return scrubber.scrub(text, ids)


def scrub_xhtml(scrubber: TextScrubber, xhtml: str, ids: PatientIdentifiers | None = None) -> ScrubResult:
    """Scrub a narrative ``div`` (or any XHTML fragment with one root element)."""
    tally = _Tally(scrubber, ids)
    root = None if _DTD.search(xhtml) else _parse_xml(xhtml)
    if root is None:
        return tally.result(_scrub_html(xhtml, tally))
    for element in root.iter():
        for name, value in list(element.attrib.items()):
            if _scrub_attribute(name):
                element.set(name, tally(value))
    _scrub_text_nodes(root, tally)
    root.tail = None
    prefix = f"{{{XHTML_NS}}}"
    if isinstance(root.tag, str) and root.tag.startswith(prefix):
        # Write XHTML elements unprefixed under one default namespace, as FHIR narratives are written
        # (ElementTree's default_namespace option rejects the unqualified attribute names XHTML uses).
        for element in root.iter():
            if isinstance(element.tag, str) and element.tag.startswith(prefix):
                element.tag = element.tag[len(prefix) :]
        root.set("xmlns", XHTML_NS)
    out = ET.tostring(root, encoding="unicode")
    return tally.result(out)


def _scrub_text_nodes(root: ET.Element, tally: _Tally) -> None:
    """Scrub all text nodes as one text, so a value split by markup ("4417 Quenton<br/>Crossing") is
    still found; element boundaries read as a line break, and a replacement that spans several nodes
    is written into the first and removes the rest."""
    slots: list[tuple[ET.Element, str]] = []
    pieces: list[str] = []

    def walk(element: ET.Element) -> None:  # document order: text, then each child and its tail
        if element.text:
            slots.append((element, "text"))
            pieces.append(element.text)
        for child in element:
            walk(child)
            if child.tail:
                slots.append((child, "tail"))
                pieces.append(child.tail)

    walk(root)
    if not pieces:
        return
    new_pieces = tally.scrub_pieces(pieces)
    for (element, attr), value in zip(slots, new_pieces, strict=True):
        setattr(element, attr, value)


def _parse_xml(xhtml: str) -> ET.Element | None:
    try:
        return ET.fromstring(xhtml)
    except ET.ParseError:
        return None


def _scrub_attribute(name: str) -> bool:
    local = name.rsplit("}", 1)[-1].lower()
    return name not in STRUCTURAL_ATTRIBUTES and local not in STRUCTURAL_ATTRIBUTES


class _HtmlScrubber(HTMLParser):
    """Re-emits HTML with scrubbed text and attribute values; tolerant of markup that is not XML.

    Text runs are collected first and scrubbed together (as in the XHTML path), so a value split by
    markup is still found; ``out`` holds markup strings and the indexes of text runs.
    """

    def __init__(self, tally: _Tally) -> None:
        super().__init__(convert_charrefs=True)
        self.tally = tally
        self.out: list[str | int] = []
        self.pieces: list[str] = []

    def _tag(self, tag: str, attrs: list[tuple[str, str | None]], close: str) -> str:
        parts = [tag]
        for name, value in attrs:
            if value is None:
                parts.append(name)
                continue
            value = self.tally(value) if _scrub_attribute(name) else value
            parts.append(f'{name}="{html.escape(value, quote=True)}"')
        return f"<{' '.join(parts)}{close}>"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(self._tag(tag, attrs, ""))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(self._tag(tag, attrs, "/"))

    def handle_endtag(self, tag: str) -> None:
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self.out.append(len(self.pieces))
        self.pieces.append(data)

    # comments, declarations and processing instructions are dropped: they may hold text


def _scrub_html(markup: str, tally: _Tally) -> str:
    parser = _HtmlScrubber(tally)
    parser.feed(markup)
    parser.close()
    texts = tally.scrub_pieces(parser.pieces) if parser.pieces else []
    return "".join(
        html.escape(texts[item], quote=False) if isinstance(item, int) else item for item in parser.out
    )


def scrub_html(scrubber: TextScrubber, markup: str, ids: PatientIdentifiers | None = None) -> ScrubResult:
    """Scrub HTML that need not be well-formed XML (``text/html`` attachments)."""
    tally = _Tally(scrubber, ids)
    return tally.result(_scrub_html(markup, tally))


@dataclass(frozen=True, slots=True)
class ScrubbedAttachment:
    """Re-encoded attachment data (base64), its decoded size in bytes, and the scrub figures."""

    data: str
    size: int
    result: ScrubResult

    def __repr__(self) -> str:
        return f"ScrubbedAttachment(size={self.size}, result={self.result!r})"


def media_type(content_type: object) -> tuple[str, str]:
    """``(media type, charset)`` of a ``contentType`` value; charset defaults to ``utf-8``.

    Anything but a non-empty string (a malformed resource) has no media type, so its data is redacted.
    """
    if not isinstance(content_type, str) or not content_type:
        return "", "utf-8"
    base = content_type.split(";", 1)[0].strip().lower()
    m = _CHARSET.search(content_type)
    return base, (m.group(1).lower() if m else "utf-8")


def scrub_attachment(
    scrubber: TextScrubber, content_type: str | None, data: str, ids: PatientIdentifiers | None = None
) -> ScrubbedAttachment | None:
    """Scrub base64 ``data`` of type ``content_type``; ``None`` means the data must be redacted."""
    kind, charset = media_type(content_type)
    if not kind.startswith("text/"):
        return None
    try:
        raw = base64.b64decode("".join(data.split()), validate=True)
        text = raw.decode(charset)
    except (binascii.Error, ValueError, LookupError):  # UnicodeDecodeError is a ValueError
        return None
    result = scrub_html(scrubber, text, ids) if kind == "text/html" else scrubber.scrub(text, ids)
    try:
        encoded = result.text.encode(charset)
    except (UnicodeEncodeError, LookupError):
        return None
    return ScrubbedAttachment(base64.b64encode(encoded).decode("ascii"), len(encoded), result)


def scrub_attachment_dict(
    scrubber: TextScrubber, attachment: dict[str, Any], ids: PatientIdentifiers | None = None
) -> tuple[dict[str, Any], ScrubResult | None]:
    """A copy of an ``Attachment`` with its ``data`` scrubbed, ``size`` updated and ``hash`` removed.

    When the data cannot be scrubbed (not ``text/*``, bad base64 or charset) ``data``, ``size`` and
    ``hash`` are removed and the result is ``None``. Other elements (``title``, ``url``) are the
    rules' business, as in Microsoft's format.
    """
    out = dict(attachment)
    data = attachment.get("data")
    if not isinstance(data, str):
        return out, None
    scrubbed = scrub_attachment(scrubber, attachment.get("contentType"), data, ids)
    out.pop("hash", None)
    if scrubbed is None:
        out.pop("data", None)
        out.pop("size", None)
        return out, None
    out["data"] = scrubbed.data
    if "size" in attachment:
        out["size"] = scrubbed.size
    return out, scrubbed.result
