"""Every input file is checked before any table is touched: truncated gzip, not UTF-8 text, missing, empty."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from anonymizer.spark.input_files import (
    InputFilesError,
    check_chunks,
    check_input,
    list_local_files,
    unreadable_message,
)

LINE = b'{"resourceType":"Patient","id":"p1","name":[{"family":"M\xc3\xbcller"}]}\n'


def _gz(data: bytes) -> bytes:
    return gzip.compress(data)


def test_a_whole_gzip_file_is_readable() -> None:
    assert check_chunks([_gz(LINE * 100)], gzipped=True) == (None, len(LINE) * 100)


def test_concatenated_gzip_members_are_one_readable_file() -> None:
    data = _gz(LINE) + _gz(LINE * 2)
    assert check_chunks([data[:7], data[7:30], data[30:]], gzipped=True) == (None, len(LINE) * 3)


def test_a_truncated_gzip_file_is_unreadable() -> None:
    data = _gz(LINE * 2000)
    reason, _ = check_chunks([data[: len(data) // 2]], gzipped=True)
    assert reason is not None and "truncated" in reason


def test_a_file_named_gz_that_is_not_gzip_is_unreadable() -> None:
    reason, _ = check_chunks([LINE], gzipped=True)
    assert reason is not None and reason.startswith("not a valid gzip stream")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("{}\n".encode("utf-16"), "UTF-16"),
        ("{}\n".encode("utf-32"), "UTF-32"),
        (b"\x00\x01\x02binary", "NUL bytes"),
        (_gz(LINE), "gzip-compressed data"),
        ('{"name":"Müller"}\n'.encode("latin-1") * 10, "not UTF-8 text: 10 of the first 10 lines"),
    ],
)
def test_files_that_are_not_utf8_text_are_unreadable(data: bytes, words: str) -> None:
    reason, _ = check_chunks([data], gzipped=False)
    assert reason is not None and words in reason


def test_a_stray_invalid_byte_is_left_to_the_line_quarantine() -> None:
    data = LINE * 20 + b'{"bad":"\xff"}\n' + LINE * 20
    assert check_chunks([data], gzipped=False) == (None, len(data))


def _landing(tmp_path: Path) -> Path:
    landing = tmp_path / "landing"
    (landing / "sub").mkdir(parents=True)
    (landing / "Patient.000.ndjson").write_bytes(LINE * 3)
    (landing / "sub" / "Observation.ndjson.gz").write_bytes(_gz(LINE * 5000)[:300])
    (landing / "Encounter.jsonl").write_bytes("{}\n".encode("utf-16"))
    (landing / "manifest.json").write_text("{}")
    (landing / "deleted").mkdir()
    (landing / "deleted" / "Bundle.ndjson").write_bytes(b"\x00")
    (landing / "_state").mkdir()
    (landing / "_state" / "x.ndjson").write_bytes(b"\x00")
    (landing / ".hidden.ndjson").write_bytes(b"\x00")
    return landing


def test_listing_takes_what_the_reader_takes(tmp_path: Path) -> None:
    landing = _landing(tmp_path)
    names = sorted(Path(f.path).relative_to(landing).as_posix() for f in list_local_files(str(landing)))
    assert names == ["Encounter.jsonl", "Patient.000.ndjson", "sub/Observation.ndjson.gz"]


def test_every_unreadable_file_is_named_not_only_the_first(tmp_path: Path) -> None:
    checks = check_input(None, str(_landing(tmp_path)))
    bad = [c for c in checks if c.reason]
    assert sorted(Path(c.path).name for c in bad) == ["Encounter.jsonl", "Observation.ndjson.gz"]
    message = unreadable_message(bad, len(checks))
    assert message.startswith("2 of 3 input files cannot be read; nothing was written:")
    assert "Observation.ndjson.gz (300 bytes): the gzip stream ends early" in message
    assert "--skip-unreadable-files" in message
    assert "Müller" not in message and "Patient" not in message.replace("Patient.000", "")


def test_missing_and_empty_input_stop_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(InputFilesError, match="input not found: .*nowhere"):
        check_input(None, str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFilesError, match="no input files under"):
        check_input(None, str(tmp_path / "empty"))
    (tmp_path / "empty" / "Patient.ndjson").write_bytes(b"")
    (tmp_path / "empty" / "Observation.ndjson.gz").write_bytes(_gz(b""))
    with pytest.raises(InputFilesError, match="the input is empty: the 2 files"):
        check_input(None, str(tmp_path / "empty"))


@pytest.mark.spark
def test_the_spark_check_finds_the_same_files(spark: object, tmp_path: Path) -> None:
    landing = _landing(tmp_path)
    local = check_input(spark, str(landing), distributed=False)
    remote = check_input(spark, str(landing), distributed=True)
    assert [(Path(c.path.removeprefix("file:")).name, c.size, c.reason, c.text_bytes) for c in remote] == [
        (Path(c.path).name, c.size, c.reason, c.text_bytes)
        for c in sorted(local, key=lambda c: "file:" + c.path)
    ]
