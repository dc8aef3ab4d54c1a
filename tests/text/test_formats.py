"""Formats: narrative XHTML with markup, HTML, base64 notes in several charsets, non-text attachments."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

from anonymizer.text import PatientIdentifiers, TextScrubber
from anonymizer.text.formats import (
    media_type,
    scrub_attachment,
    scrub_attachment_dict,
    scrub_html,
    scrub_string,
    scrub_xhtml,
)

NARRATIVE = (
    '<div xmlns="http://www.w3.org/1999/xhtml"><h1 class="t">Summary for <i>Evangeline</i> BARTHOLOMEW</h1>'
    '<p title="Chart of Evangeline Jo Bartholomew">Born March 3rd, 1961 &amp; reachable at '
    '<a href="tel:555-342-8876">(555) 342-8876</a> or <a href="mailto:evie.bart@example.net">mail</a>.'
    "<br/>Address: 4417 Quenton<br/>Crossing, Emporia, KS 66801</p><!-- Jo Bartholomew -->"
    '<table><tr><td colspan="2">Jo\nBartholomew</td></tr></table><img src="#x" alt="photo of Jo Bartholomew"/>'
    "</div>"
)


def test_string_and_markdown(scrubber: TextScrubber, ids: PatientIdentifiers) -> None:
    result = scrub_string(scrubber, "**Evangeline** _Bartholomew_ - see [link](https://x.example.org/a)", ids)
    assert result.text == "**[NAME]** _[NAME]_ - see [link]([URL])"


def test_xhtml_narrative_scrubbed_and_well_formed(scrubber: TextScrubber, ids: PatientIdentifiers) -> None:
    result = scrub_xhtml(scrubber, NARRATIVE, ids)
    root = ET.fromstring(result.text)  # still well-formed
    assert root.tag == "{http://www.w3.org/1999/xhtml}div"
    assert result.text.startswith('<div xmlns="http://www.w3.org/1999/xhtml">')
    low = result.text.lower()
    for leftover in ("evangeline", "bartholomew", "1961", "8876", "evie", "quenton", "emporia", "66801"):
        assert leftover not in low, leftover
    assert 'class="t"' in result.text and 'colspan="2"' in result.text and 'src="#x"' in result.text
    assert "&amp;" in result.text and "<i>[NAME]</i>" in result.text
    assert 'alt="photo of [NAME]"' in result.text and 'title="Chart of [NAME]"' in result.text
    assert "<!--" not in result.text
    assert result.counts_by_category["NAME"] == 4 and 0 < result.chars_kept < result.chars_in


def test_not_well_formed_narrative_goes_through_html_path(
    scrubber: TextScrubber, ids: PatientIdentifiers
) -> None:
    result = scrub_xhtml(scrubber, "<div><p>Evangeline&nbsp;Bartholomew<br>Tel 555-342-8876</div>", ids)
    assert "Evangeline" not in result.text and "8876" not in result.text
    assert result.text.startswith("<div><p>[NAME]")
    doctype = scrub_xhtml(scrubber, '<!DOCTYPE x [<!ENTITY e "Evangeline">]><div>&e; hi</div>', ids)
    assert "<!DOCTYPE" not in doctype.text and "Evangeline" not in doctype.text


def test_html_value_split_by_markup(scrubber: TextScrubber, ids: PatientIdentifiers) -> None:
    result = scrub_html(scrubber, "<p>Lives at 4417 Quenton<br>Crossing &amp; more</p>", ids)
    assert result.text == "<p>Lives at [ADDRESS]<br> &amp; more</p>"


def test_html_attributes_escaped(scrubber: TextScrubber, ids: PatientIdentifiers) -> None:
    result = scrub_html(scrubber, '<p data-x="a&quot;b Evangeline">x &lt; y</p>', ids)
    assert result.text == '<p data-x="a&quot;b [NAME]">x &lt; y</p>'


def test_base64_note_roundtrip_in_declared_charset(scrubber: TextScrubber, ids: PatientIdentifiers) -> None:
    note = "Visit 2019-04-02.\nÉvaluation de Evangeline\nBartholomew, née 03/03/1961, tél. 555-342-8876.\n"
    data = base64.b64encode(note.encode("iso-8859-1")).decode()
    scrubbed = scrub_attachment(scrubber, "text/plain; charset=ISO-8859-1", data, ids)
    assert scrubbed is not None
    decoded = base64.b64decode(scrubbed.data).decode("iso-8859-1")
    assert decoded == "Visit [DATE].\nÉvaluation de [NAME], née [DATE], tél. [PHONE].\n"
    assert scrubbed.size == len(decoded.encode("iso-8859-1"))
    assert scrubbed.result.chars_in == len(note)


def test_base64_defaults_to_utf8_and_html_notes(scrubber: TextScrubber, ids: PatientIdentifiers) -> None:
    data = base64.b64encode("Evangeline – café".encode()).decode()
    scrubbed = scrub_attachment(scrubber, "text/plain", data, ids)
    assert scrubbed is not None and base64.b64decode(scrubbed.data).decode() == "[NAME] – café"
    html = base64.b64encode(b"<p>Evangeline<br>ok</p>").decode()
    scrubbed = scrub_attachment(scrubber, "text/html", html, ids)
    assert scrubbed is not None and base64.b64decode(scrubbed.data) == b"<p>[NAME]<br>ok</p>"


def test_non_text_and_broken_attachments_are_redacted(
    scrubber: TextScrubber, ids: PatientIdentifiers
) -> None:
    data = base64.b64encode(b"Evangeline").decode()
    assert scrub_attachment(scrubber, "application/pdf", data, ids) is None
    assert scrub_attachment(scrubber, "image/jpeg", data, ids) is None
    assert scrub_attachment(scrubber, None, data, ids) is None
    assert scrub_attachment(scrubber, "text/plain", "not base64!", ids) is None
    bad_utf8 = base64.b64encode(b"\xff\xfe\xfa").decode()
    assert scrub_attachment(scrubber, "text/plain; charset=utf-8", bad_utf8, ids) is None
    assert scrub_attachment(scrubber, "text/plain; charset=no-such-charset", data, ids) is None


def test_attachment_dict(scrubber: TextScrubber, ids: PatientIdentifiers) -> None:
    data = base64.b64encode(b"Evangeline Bartholomew").decode()
    attachment = {"contentType": "text/plain", "data": data, "size": 22, "hash": "abc=", "title": "note"}
    out, result = scrub_attachment_dict(scrubber, attachment, ids)
    assert base64.b64decode(out["data"]) == b"[NAME]" and out["size"] == 6 and "hash" not in out
    assert out["title"] == "note" and result is not None and attachment["data"] == data
    pdf, none = scrub_attachment_dict(
        scrubber, {"contentType": "application/pdf", "data": data, "size": 22}, ids
    )
    assert none is None and pdf == {"contentType": "application/pdf"}


def test_media_type() -> None:
    assert media_type('text/plain; charset="UTF-8"') == ("text/plain", "utf-8")
    assert media_type("TEXT/HTML") == ("text/html", "utf-8")
    assert media_type(None) == ("", "utf-8")
