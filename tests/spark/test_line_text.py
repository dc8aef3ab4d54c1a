"""Input lines as the JVM decodes them: :func:`line_texts` and the JDK's UTF-8 replacement rules, without Spark."""

from __future__ import annotations

import pyarrow as pa
import pytest

from anonymizer.spark.line_text import java_utf8_text, line_texts

# Bytes and what JDK 17.0.15's ``new String(bytes, StandardCharsets.UTF_8)`` made of them (recorded with a small
# Java program; 160,000 random byte strings were compared the same way when this was written). Where Python's
# ``errors="replace"`` differs (encoded surrogates ``ED A0..BF``, which the JDK replaces as one), the JDK wins.
JDK_DECODED = [
    (b"a\xed\xa0\x80", "a\ufffd"),
    (b"b\xed\xa0\x80\xed\xa0\x80c", "b\ufffd\ufffdc"),
    (b"\xf0\x9f\x98", "\ufffd"),
    (b"\xf0\x9f\x98A", "\ufffdA"),
    (b"\xf4\x90\x80\x80", "\ufffd\ufffd\ufffd\ufffd"),
    (b"\xf0\x8f\x80\x80", "\ufffd\ufffd\ufffd\ufffd"),
    (b"\xc0\xaf", "\ufffd\ufffd"),
    (b"\xe0\x80\xaf", "\ufffd\ufffd\ufffd"),
    (b"a\xffb", "a\ufffdb"),
    (b"\xef\xa0\xee\xed\xbf", "\ufffd\ufffd\ufffd"),
    (b"\xe1\x80\x7f\xf5\xed\xa0\xdf", "\ufffd\x7f\ufffd\ufffd\ufffd"),
    (b"\xee\xed\xa0", "\ufffd\ufffd"),
    (b"\xed\xbf", "\ufffd"),
    (b"\xee\xf7\xed\xbf\x9f", "\ufffd\ufffd\ufffd"),
    (b"\xec\xed\xa0\xa0\xf7\xdfA", "\ufffd\ufffd\ufffd\ufffdA"),
    (b"\xf5\xbf\xec\r\xed\xa0\xf3", "\ufffd\ufffd\ufffd\r\ufffd\ufffd"),
    (b"\x9f\xc0\xc1\x85\xed\xa0", "\ufffd\ufffd\ufffd\ufffd\ufffd"),
    (b"\xe1\x80\xbf\x80", "\u103f\ufffd"),
    (b"\x7f\xf0\xf0\xe0\x7f", "\x7f\ufffd\ufffd\ufffd\x7f"),
    (b"\xf3\xa0\xdf\x8f\xef", "\ufffd\u07cf\ufffd"),
    (b"\xc2\x90\xed\xe1\x7f\xf4\x80", "\x90\ufffd\ufffd\x7f\ufffd"),
    (b"\xf5\xf4\x80\x7f", "\ufffd\ufffd\x7f"),
]


@pytest.mark.parametrize(("data", "expected"), JDK_DECODED)
def test_invalid_utf8_is_replaced_as_the_jdk_replaces_it(data: bytes, expected: str) -> None:
    assert java_utf8_text(data) == expected


def test_python_and_the_jdk_differ_on_encoded_surrogates() -> None:
    # Why the decoder is not Python's own: the same bytes, fewer replacement characters in the JVM.
    assert b"a\xed\xa0\x80".decode("utf-8", "replace") == "a\ufffd\ufffd\ufffd"
    assert java_utf8_text(b"a\xed\xa0\x80") == "a\ufffd"


def test_valid_text_is_decoded_as_is() -> None:
    text = '{"resourceType":"Patient","name":[{"family":"\u00c5ngstr\u00f6m \U0001f600\u2028"}]}'
    assert java_utf8_text(text.encode("utf-8")) == text


def _string_column(values: list[bytes | None]) -> pa.Array:
    """A string column holding these bytes as they are (as the JVM hands lines over), valid UTF-8 or not."""
    binary = pa.array(values, pa.binary())
    return pa.Array.from_buffers(pa.string(), len(binary), binary.buffers())


def test_line_texts_of_a_column_with_invalid_lines() -> None:
    column = _string_column([b"{}", b"a\xed\xa0\x80b", None, "\u00e9".encode()])
    assert line_texts(column) == ["{}", "a\ufffdb", None, "\u00e9"]


def test_line_texts_of_a_valid_column() -> None:
    assert line_texts(pa.array(["x", None, "\u00e9"])) == ["x", None, "\u00e9"]
