"""Pattern detection: every supported written form is found; clinical text is left alone."""

from __future__ import annotations

import pytest

from anonymizer.text.dates import DateParts, parse_date_text
from anonymizer.text.patterns import find_patterns


def found(text: str) -> list[tuple[str, str]]:
    return [(m.category, text[m.start : m.end]) for m in find_patterns(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("seen March 3rd, 1961 today", ("DATE", "March 3rd, 1961")),
        ("seen 3 March 1961 today", ("DATE", "3 March 1961")),
        ("seen 03/03/1961 today", ("DATE", "03/03/1961")),
        ("seen 1961-03-03 today", ("DATE", "1961-03-03")),
        ("seen Mar 3, 1961 today", ("DATE", "Mar 3, 1961")),
        ("seen 03-Mar-1961 today", ("DATE", "03-Mar-1961")),
        ("seen MARCH 3RD, 1961 today", ("DATE", "MARCH 3RD, 1961")),
        ("seen Sept. 14, 1999 today", ("DATE", "Sept. 14, 1999")),
        ("since March 1961 only", ("DATE", "March 1961")),
        ("on the 3rd of March.", ("DATE", "3rd of March")),
        ("at 1987-11-19T00:22:16.824-05:00 then", ("DATE", "1987-11-19T00:22:16.824-05:00")),
        ("call (555) 342-8876 now", ("PHONE", "(555) 342-8876")),
        ("call 555.342.8876 now", ("PHONE", "555.342.8876")),
        ("call 555 342 8876 now", ("PHONE", "555 342 8876")),
        ("call +1 555-342-8876 ext. 12 now", ("PHONE", "+1 555-342-8876 ext. 12")),
        ("fax: 555-342-9999.", ("PHONE", "555-342-9999")),
        ("call +44 20 7946 0958 now", ("PHONE", "+44 20 7946 0958")),
        ("mail evie.bart@example.net today", ("EMAIL", "evie.bart@example.net")),
        ("see https://example.org/p?id=1. ok", ("URL", "https://example.org/p?id=1")),
        ("see www.example.org/x, ok", ("URL", "www.example.org/x")),
        ("see example.org/patient/123 ok", ("URL", "example.org/patient/123")),
        ("from 192.168.10.7 ok", ("IP", "192.168.10.7")),
        ("from fe80::1ff:fe23:4567:890a ok", ("IP", "fe80::1ff:fe23:4567:890a")),
        (
            "from 2001:0db8:85a3:0000:0000:8a2e:0370:7334 ok",
            ("IP", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"),
        ),
        ("SSN 999-72-4410 on file", ("SSN", "999-72-4410")),
        ("SSN: 999724410 on file", ("SSN", "999724410")),
        ("MRN: A7712045 on file", ("ID", "A7712045")),
        ("Medical record number 88-120-45 on file", ("ID", "88-120-45")),
        ("acct # 4471-22 on file", ("ID", "4471-22")),
        ("member id XJ44120 on file", ("ID", "XJ44120")),
        ("licence S99912345 on file", ("ID", "S99912345")),
        ("ref 7d2f0a4e-1b3c-4d5e-8f90-123456789abc ok", ("ID", "7d2f0a4e-1b3c-4d5e-8f90-123456789abc")),
        ("Emporia, KS 66801 is", ("ZIP", "66801")),
        ("Topeka, Kansas 66604-1234 is", ("ZIP", "66604-1234")),
        ("zip code: 66801 is", ("ZIP", "66801")),
        ("lives at 4417 Quenton Crossing now", ("ADDRESS", "4417 Quenton Crossing")),
        ("lives at 4417 Quenton Xing now", ("ADDRESS", "4417 Quenton Xing")),
        ("write to PO Box 1234 now", ("ADDRESS", "PO Box 1234")),
        ("moved to Topeka, Kansas 66604 in", ("ADDRESS", "Topeka")),
        ("born in Kansas City, MO.", ("ADDRESS", "Kansas City")),
        ("a 93-year-old man", ("AGE", "93")),
        ("a 93 year-old man", ("AGE", "93")),
        ("she is 93 y/o", ("AGE", "93")),
        ("she is 101 yo", ("AGE", "101")),
        ("aged 93, she", ("AGE", "93")),
        ("age: 95 years", ("AGE", "95")),
        ("at the age of 92 she", ("AGE", "92")),
        ("is 91 years of age", ("AGE", "91")),
    ],
)
def test_planted_forms(text: str, expected: tuple[str, str]) -> None:
    assert expected in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "Patient is a 60 year-old nonhispanic white female with a history of stress (finding).",
        "acetaminophen 325 mg oral tablet; 1 ml epoetin alfa 4000 unt/ml injection [epogen]",
        "BP 120/80 mmHg, HR 72, temp 98.6 F, SpO2 97 %, BMI 31.2 kg/m2, HbA1c 7.1 %.",
        "Take 1/2 tablet twice daily; may 3 doses be needed. Follow up in 2 weeks.",
        "Patient quit smoking at age 20. Patient may return in 2023 for review.",
        "- nda020800 0.3 ml epinephrine auto-injector",
        "Version 1.2.3 of the protocol; ratio 3:1; dilution 1:1000.",
        "Glasgow coma score 15; Down syndrome screening negative; Bell palsy resolved.",
        "Seen by Dr. Kunze, MD. Reviewed by Okafor, PA; Tylenol, OR ibuprofen.",
    ],
)
def test_clinical_text_has_no_matches(text: str) -> None:
    assert found(text) == []


def test_invalid_dates_and_octets_are_not_matched() -> None:
    assert found("value 13/45/2001 and 300.1.2.3 recorded") == []


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("March 3rd, 1961", DateParts(1961, 3, 3)),
        ("3 March 1961", DateParts(1961, 3, 3)),
        ("13/03/1961", DateParts(1961, 3, 13)),
        ("03/13/61", DateParts(1961, 3, 13)),
        ("March 1961", DateParts(1961, 3, None)),
        ("May 5", DateParts(None, 5, 5)),
        ("Feb 30, 2001", None),
    ],
)
def test_date_parsing(text: str, parts: DateParts | None) -> None:
    assert parse_date_text(text) == parts
