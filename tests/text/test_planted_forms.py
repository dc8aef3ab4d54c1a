"""Every planted written form of the patient's values, in every text form scrubText handles."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from anonymizer.text import PatientIdentifiers, TextScrubber
from anonymizer.text.formats import scrub_attachment, scrub_string, scrub_xhtml

#: (planted text, lower-case fragments that must be gone)
FORMS = {
    "full name": ("Evangeline Bartholomew", ("evangeline", "bartholomew")),
    "name split across a line break": ("Jo\nBartholomew", ("jo\n", "bartholomew")),
    "upper-case name": ("EVANGELINE JO BARTHOLOMEW", ("evangeline", "bartholomew")),
    "title and surname": ("Mrs. Bartholomew", ("bartholomew",)),
    "spelled-out date": ("March 3rd, 1961", ("march", "1961")),
    "phone": ("(555) 342-8876", ("342", "8876")),
}


def _plain(scrubber: TextScrubber, planted: str, ids: PatientIdentifiers) -> str:
    return scrub_string(scrubber, f"Patient {planted} today", ids).text


def _xhtml(scrubber: TextScrubber, planted: str, ids: PatientIdentifiers) -> str:
    # the value is split by markup as well: its first word in <b>, the rest after it
    head, sep, tail = (
        re.split(r"(\s)", planted, maxsplit=1) if re.search(r"\s", planted) else (planted, "", "")
    )
    div = f'<div xmlns="http://www.w3.org/1999/xhtml"><p>Patient <b>{head}</b>{sep}{tail} today</p></div>'
    out = scrub_xhtml(scrubber, div, ids).text
    return "".join(ET.fromstring(out).itertext())  # still well-formed


def _base64(scrubber: TextScrubber, planted: str, ids: PatientIdentifiers) -> str:
    data = base64.b64encode(f"Note.\nPatient {planted} today.\n".encode()).decode()
    scrubbed = scrub_attachment(scrubber, "text/plain; charset=utf-8", data, ids)
    assert scrubbed is not None
    return base64.b64decode(scrubbed.data).decode()


CONTAINERS: dict[str, Callable[[TextScrubber, str, PatientIdentifiers], str]] = {
    "plain string": _plain,
    "XHTML narrative with markup": _xhtml,
    "base64 note": _base64,
}


@pytest.mark.parametrize("container", sorted(CONTAINERS))
@pytest.mark.parametrize("form", sorted(FORMS))
def test_planted_form_is_removed(
    container: str, form: str, scrubber: TextScrubber, ids: PatientIdentifiers
) -> None:
    planted, gone = FORMS[form]
    out = CONTAINERS[container](scrubber, planted, ids)
    low = out.lower()
    for fragment in gone:
        assert fragment not in low, (container, form)
    assert "patient" in low and "today" in low, "the text around it stays"
