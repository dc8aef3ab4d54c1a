"""``read_lines`` drops a CRLF line's ``\\r`` exactly as ``regexp_replace(value, '\\r$', '')`` does, on every line;
with ``decoded=False`` the Python side (``line_texts``) sees the same text, invalid UTF-8 included."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

# Line bodies around the cases Java's ``$`` treats specially: a final ``\r``, ``\r\r``, ``\r`` before one final
# line terminator (U+0085, U+2028, U+2029), ``\r`` elsewhere, non-ASCII text before the ending, and invalid
# UTF-8 (which the JVM replaces when it converts a line to a Java string), with and without a final ``\r``.
LINES = [
    b'{"resourceType":"Patient","id":"a"}\r',
    b'{"resourceType":"Patient","id":"b"}',
    b'{"resourceType":"Patient","id":"c"}\r\r',
    b"\r",
    b"",
    "x\r\u0085".encode(),
    "x\r\u2028".encode(),
    "x\r\u2029".encode(),
    "x\u2028".encode(),
    b"x\ry",
    "\u00e9t\u00e9\r".encode(),
    "\u00e9\r\u00e9".encode(),
    "x\r\u0085\r".encode(),
    b'{"resourceType":"Patient","id":"\xff\xfe"}',
    b"a\xed\xa0\x80b\r",
    b"a\xed\xa0\x80b",
    b"\xf0\x9f\x98\r",
    b"x\r\xc2",
    b"\xe9t\xe9",
]


def test_the_final_cr_goes_exactly_where_the_regular_expression_removes_it(
    spark: Any, tmp_path: Path
) -> None:
    from pyspark.sql import functions as F

    from anonymizer.spark.reader import read_lines

    # Defined here: the Python workers get it by value (they cannot import the test module).
    def _texts(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from anonymizer.spark.line_text import line_texts

        for batch in batches:
            yield pa.RecordBatch.from_pydict({"text": line_texts(batch.column("value"))})

    (tmp_path / "Patient.000.ndjson").write_bytes(b"\n".join(LINES) + b"\n")
    reference = [
        r.value
        for r in spark.read.option("lineSep", "\n")
        .text(str(tmp_path))
        .select(F.regexp_replace("value", "\r$", "").alias("value"))
        .collect()
    ]
    decoded = [r.value for r in read_lines(spark, str(tmp_path)).select("value").collect()]
    raw = read_lines(spark, str(tmp_path), decoded=False)
    in_python = [r.text for r in raw.mapInArrow(_texts, "text string").collect()]
    assert decoded == reference
    assert in_python == reference
    assert reference[0] == '{"resourceType":"Patient","id":"a"}' and reference[2] == reference[0][:-3] + 'c"}'
    assert reference[3] == "" and reference[9] == "x\ry" and reference[15] == "a\ufffdb"
