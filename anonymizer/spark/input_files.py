"""Check every input file before any table is touched: a truncated gzip or a file that is not UTF-8 text.

Spark fails a whole job on the first truncated ``.gz`` with a Java stack trace, and reads a UTF-16 or binary file
as lines of garbage. So ``deidentify`` lists the files the reader would take, checks each one here and either
stops naming every unreadable file or, with ``--skip-unreadable-files``, reads only the others and quarantines
each unreadable one as a single file-level record (path, size, reason).

What is checked, per file:

- ``.gz``: the whole stream decompresses (concatenated members allowed) and ends properly; else it is truncated
  or corrupt;
- every file: its first 64 KiB of text are UTF-8 NDJSON, not UTF-16/32 (byte order mark), not binary (NUL bytes),
  not gzip data under a plain name, and not mostly undecodable lines (another encoding). A stray invalid byte in
  an otherwise UTF-8 file is a line-level problem, quarantined with its line number by the transform.

Local folders are checked on the driver, streamed, a few files at a time; other file systems (``abfss://`` ...)
with one Spark job over the files' bytes (Spark packs small files into one task, up to
``spark.sql.files.maxPartitionBytes``), which also works over Spark Connect.
"""

from __future__ import annotations

import fnmatch
import os
import zlib
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from anonymizer.errors import AnonymizerError
from anonymizer.spark.reader import EXCLUDED_FOLDERS, NDJSON_GLOB

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

HEAD_BYTES = 64 * 1024
_CHUNK = 1024 * 1024
_PATTERNS = tuple(f"*.{ext}" for ext in NDJSON_GLOB.strip("*.{}").split(","))
_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}
#: Quarantine reason of a file-level record.
UNREADABLE_FILE = "unreadable_file"


class InputFilesError(AnonymizerError, RuntimeError):
    """The input cannot be read as a whole (missing, empty, or unreadable files); the message says what to do."""


@dataclass(frozen=True)
class InputFile:
    """A file the reader takes: its path (as given to Spark) and size in bytes."""

    path: str
    size: int


@dataclass(frozen=True)
class FileCheck:
    """The outcome for one file: ``reason`` is None when it is readable; ``text_bytes`` after decompression."""

    path: str
    size: int
    reason: str | None
    text_bytes: int


def is_local(root: str) -> bool:
    """True for a local folder (no scheme, or ``file:``)."""
    return "://" not in root or root.startswith("file:")


def _local_path(root: str) -> Path:
    return Path(root.removeprefix("file://") if root.startswith("file://") else root.removeprefix("file:"))


def _hidden(name: str) -> bool:
    """Names Spark's file index skips (``_SUCCESS``, ``.crc``, ``_state/`` ...)."""
    return name.startswith(("_", "."))


def list_local_files(root: str) -> list[InputFile]:
    """The NDJSON files under a local folder, as Spark's reader finds them (hidden and excluded folders skipped)."""
    base = _local_path(root)
    if not base.exists():
        raise InputFilesError(f"input not found: {root} (check --input)")
    if base.is_file():
        return [InputFile(str(base), base.stat().st_size)] if _wanted(base.name) else []
    out: list[InputFile] = []
    for folder, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if not _hidden(d))
        for name in sorted(files):
            path = os.path.join(folder, name)
            if _wanted(name) and not _excluded(path):
                out.append(InputFile(path, os.path.getsize(path)))
    return out


def _wanted(name: str) -> bool:
    return not _hidden(name) and any(fnmatch.fnmatch(name, p) for p in _PATTERNS)


def _excluded(path: str) -> bool:
    normal = path.replace(os.sep, "/")
    return any(folder in normal for folder in EXCLUDED_FOLDERS)


def check_chunks(chunks: Iterable[bytes], *, gzipped: bool) -> tuple[str | None, int]:
    """``(reason or None, text bytes)`` for a file given as a stream of byte chunks (see the module docstring)."""
    head = bytearray()
    total = 0
    stream: Iterator[bytes] = iter(chunks)
    if gzipped:
        texts, state = _gunzip(stream)
    else:
        texts, state = stream, {"error": None}
    for text in texts:
        total += len(text)
        if len(head) < HEAD_BYTES:
            head += text[: HEAD_BYTES - len(head)]
    if state["error"]:
        return state["error"], total
    return _text_problem(bytes(head), gzipped), total


def _gunzip(chunks: Iterator[bytes]) -> tuple[Iterator[bytes], dict[str, str | None]]:
    state: dict[str, str | None] = {"error": None}

    def texts() -> Iterator[bytes]:
        decoder = zlib.decompressobj(31)
        started = ended = False
        for chunk in chunks:
            data = chunk
            while data:
                if ended:
                    if not data.strip(b"\x00"):
                        break  # zero padding after the last member
                    decoder, ended = zlib.decompressobj(31), False
                started = True
                try:
                    out = decoder.decompress(data)
                except zlib.error as exc:
                    state["error"] = f"not a valid gzip stream ({str(exc).split(':')[-1].strip()})"
                    return
                yield out
                if decoder.eof:
                    ended, data = True, decoder.unused_data
                else:
                    data = b""
        if started and not ended:
            state["error"] = "the gzip stream ends early: the file is truncated (an interrupted download?)"

    return texts(), state


def _text_problem(head: bytes, gzipped: bool) -> str | None:
    for bom, name in _BOMS.items():
        if head.startswith(bom):
            return f"{name} text (byte order mark), not UTF-8"
    if not gzipped and head.startswith(b"\x1f\x8b"):
        return "gzip-compressed data in a file whose name does not end in .gz"
    if b"\x00" in head:
        return "binary data (NUL bytes), not UTF-8 text"
    lines = head.split(b"\n")
    if len(lines) > 1 and (len(head) >= HEAD_BYTES or not lines[-1]):
        lines = lines[:-1]  # a line cut at the 64 KiB mark, or the empty piece after the last newline
    complete = lines
    bad = sum(1 for line in complete if not _utf8(line))
    if complete and bad * 2 > len(complete):
        return f"not UTF-8 text: {bad} of the first {len(complete)} lines do not decode (another encoding?)"
    return None


def _utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def check_local_file(file: InputFile) -> FileCheck:
    """Check one local file, streamed in 1 MiB chunks."""

    def chunks() -> Iterator[bytes]:
        with open(file.path, "rb") as handle:
            while block := handle.read(_CHUNK):
                yield block

    try:
        reason, text = check_chunks(chunks(), gzipped=file.path.endswith(".gz"))
    except OSError as exc:
        reason, text = f"cannot be opened ({exc.strerror or type(exc).__name__})", 0
    return FileCheck(file.path, file.size, reason, text)


def check_input(spark: SparkSession | None, root: str, *, distributed: bool | None = None) -> list[FileCheck]:
    """List and check every input file under ``root`` (see the module docstring); raises when there is none.

    ``spark`` is needed for a non-local ``root`` (or ``distributed=True``) only.
    """
    use_spark = not is_local(root) if distributed is None else distributed
    if use_spark:
        if spark is None:
            raise ValueError(f"checking {root} needs a Spark session")
        checks = _check_with_spark(spark, root)
    else:
        files = list_local_files(root)
        with ThreadPoolExecutor(max_workers=4) as pool:
            checks = list(pool.map(check_local_file, files))
    if not checks:
        raise InputFilesError(
            f"no input files under {root}: expected *.ndjson, *.ndjson.gz, *.jsonl or *.jsonl.gz (check --input)"
        )
    if all(c.text_bytes == 0 and c.reason is None for c in checks):
        raise InputFilesError(f"the input is empty: the {len(checks)} files under {root} hold no lines")
    return checks


def check_inputs(spark: SparkSession | None, roots: Sequence[str]) -> list[FileCheck]:
    """:func:`check_input` over several roots (the completed exports of a landing): a root without files is fine
    as long as one of them has some; else the first root's reason is raised."""
    checks: list[FileCheck] = []
    errors: list[InputFilesError] = []
    for root in roots:
        try:
            checks.extend(check_input(spark, root))
        except InputFilesError as exc:
            errors.append(exc)
    if not checks:
        raise errors[0] if errors else InputFilesError("no input folder given")
    return checks


def _check_with_spark(spark: SparkSession, root: str) -> list[FileCheck]:
    import pyarrow as pa
    from pyspark.sql import functions as F

    files = (
        spark.read.format("binaryFile")
        .option("recursiveFileLookup", "true")
        .option("pathGlobFilter", NDJSON_GLOB)
        .load(root)
    )
    for folder in EXCLUDED_FOLDERS:
        files = files.filter(~F.col("path").contains(folder))

    def check(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            rows = batch.to_pydict()
            out: dict[str, list[object]] = {"path": [], "size": [], "reason": [], "text_bytes": []}
            for path, length, content in zip(rows["path"], rows["length"], rows["content"], strict=True):
                reason, text = check_chunks([content or b""], gzipped=path.endswith(".gz"))
                for key, value in zip(out, (path, length, reason, text), strict=True):
                    out[key].append(value)
            yield pa.RecordBatch.from_pydict(out)

    schema = "path string, size long, reason string, text_bytes long"
    rows = files.select("path", "length", "content").mapInArrow(check, schema).collect()
    return sorted((FileCheck(r.path, r.size, r.reason, r.text_bytes) for r in rows), key=lambda c: c.path)


def unreadable_message(bad: list[FileCheck], total: int) -> str:
    """The stop message: every unreadable file with its size and cause, and what to do."""
    lines = [f"{len(bad)} of {total} input files cannot be read; nothing was written:"]
    lines += [f"  {c.path} ({c.size:,} bytes): {c.reason}" for c in bad]
    lines.append(
        "Replace them (download again), or pass --skip-unreadable-files to quarantine them and de-identify the rest."
    )
    return "\n".join(lines)
