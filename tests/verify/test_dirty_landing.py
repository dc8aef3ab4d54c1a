"""verify reads the landing lines undecoded (no Java copy of each line) and decodes them in Python as the JVM would:
on a dirty landing (invalid UTF-8, CRLF and ``\\r`` endings, blank and malformed lines) its source pass gives the
very records the decoded reader gives, and its counts reconcile with what ``deidentify`` quarantined."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from anonymizer.spark.pipeline import DeidentifyRequest, run_deidentify
from anonymizer.spark.reader import read_lines
from anonymizer.verify.passes import source_pass
from anonymizer.verify.pipeline import VerifyRequest, run_verify
from anonymizer.verify.zone import read_source_lines

#: Dirty Patient lines (bytes as in the file) appended to two sample patients; the comment says what deidentify does.
DIRTY = [
    b"",  # blank: quarantined under the file's type
    b"{not json",  # malformed: quarantined
    b'{"resourceType":"Patient","id":"u1","name":[{"family":"Ab\xffc\xed\xa0\x80d"}]}',  # invalid UTF-8
    b'{"resourceType":"Patient","id":"u2","name":[{"family":"\xe9t\xe9"}]}\r',  # invalid UTF-8 and CRLF
    b'{"resourceType":"Patient","id":"crlf","name":[{"family":"Crlf"}]}\r',  # valid, CRLF: written
    '{"resourceType":"Patient","id":"nel","name":[{"family":"Nel"}]}\r\u0085'.encode(),  # quarantined
]


@pytest.fixture(scope="module")
def landing(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dirty") / "landing"
    folder.mkdir()
    patients = (sample_dir / "Patient.000.ndjson").read_bytes().splitlines()[:2]
    (folder / "Patient.000.ndjson").write_bytes(b"\n".join(patients + DIRTY) + b"\n")
    # a whole file with CRLF endings
    orgs = (sample_dir / "Organization.000.ndjson").read_bytes().splitlines()[:3]
    (folder / "Organization.000.ndjson").write_bytes(b"".join(line + b"\r\n" for line in orgs))
    return folder


def test_source_pass_records_equal_the_decoded_readers(spark: Any, landing: Path) -> None:
    decoded = read_lines(spark, str(landing)).selectExpr("source_path as file", "value as line")
    undecoded = read_source_lines(spark, [str(landing)])

    def records(lines: Any) -> list[tuple[Any, ...]]:
        return sorted((tuple(r) for r in source_pass(lines).collect()), key=repr)

    expected = records(decoded)
    assert any(r[0] == "harvest" for r in expected)
    assert records(undecoded) == expected


def test_counts_reconcile_with_deidentify_on_a_dirty_landing(
    spark: Any, landing: Path, repo_root: Path
) -> None:
    root = landing.parent
    config = str(repo_root / "configs" / "hipaa-safe-harbor.json")
    run_deidentify(
        DeidentifyRequest(input=str(landing), output=str(root / "zone"), config=config,
                          quarantine=str(root / "quarantine"), as_of=date(2026, 1, 1), allow_ephemeral_keys=True),
        spark,
    )  # fmt: skip
    result = run_verify(
        VerifyRequest(source=str(landing), output=str(root / "zone"), config=config,
                      report_dir=str(root / "report"), quarantine=str(root / "quarantine")),
        spark=spark,
    )  # fmt: skip
    counts = {t["resource_type"]: t for t in result.report["counts"]["per_type"]}
    assert result.counts_reconciled, result.report["counts"]
    patient = counts["Patient"]
    # 2 sample lines + 6 dirty ones; blank, malformed, the two invalid UTF-8 lines and the one left ending in U+0085
    # (Java's ``$`` matches before it, so only the ``\r`` goes) are quarantined
    assert (patient["source_lines"], patient["output_rows"], patient["quarantined"]) == (8, 3, 5)
    assert counts["Organization"]["source_lines"] == counts["Organization"]["output_rows"] == 3


def test_map_rows_decodes_text_columns_as_the_jvm() -> None:
    import pyarrow as pa

    from anonymizer.spark.line_text import java_utf8_text
    from anonymizer.verify.row_map import _rows

    raw = [b'{"id":"a\xed\xa0\x80b"}', None, b"ok"]
    line = pa.array(raw, pa.binary()).view(pa.string())  # as the undecoded reader hands it over
    batch = pa.RecordBatch.from_arrays([line, pa.array([1, 2, 3])], names=["line", "n"])
    with pytest.raises(UnicodeDecodeError):
        list(_rows(iter([batch])))
    rows = list(_rows(iter([batch]), ("line",)))
    assert rows == [{"line": java_utf8_text(raw[0]), "n": 1}, {"line": None, "n": 2}, {"line": "ok", "n": 3}]
    assert rows[0]["line"] == '{"id":"a\ufffdb"}'  # one replacement for the encoded surrogate, as the JDK
